//! Rebuilds the crate when a migration or the built dashboard changes: `sqlx::migrate!` and
//! `rust-embed` (`http/web`) embed them at compile time.
fn main() {
    println!("cargo:rerun-if-changed=../../migrations");
    println!("cargo:rerun-if-changed=../../web/dist");
}
