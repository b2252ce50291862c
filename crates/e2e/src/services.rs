//! Where the real services are, and a fresh database per test.

use std::path::PathBuf;

use sqlx::mysql::MySqlPoolOptions;
use sqlx::{Connection, MySqlConnection, MySqlPool};

/// The real services this machine runs for the tests (see `scripts/services.sh`).
#[derive(Debug, Clone)]
pub struct Services {
    /// Server URL without a database, with rights to create databases.
    pub mysql_url: String,
    pub bootstrap: String,
    pub docker_host: String,
    pub image: String,
}

fn var(name: &str) -> String {
    std::env::var(name).unwrap_or_else(|_| {
        panic!(
            "{name} is not set: these tests need the real services. Run `scripts/test.sh`, or \
             `scripts/services.sh up` and `set -a; . ~/.cache/srmon/services/env; set +a` first."
        )
    })
}

impl Services {
    pub fn from_env() -> Self {
        Services {
            mysql_url: var("SRMON_TEST_MYSQL_URL").trim_end_matches('/').to_owned(),
            bootstrap: var("SRMON_TEST_BOOTSTRAP"),
            docker_host: var("SRMON_TEST_DOCKER_HOST"),
            image: var("SRMON_TEST_IMAGE"),
        }
    }

    /// A database of its own for one test (dropped by [`TestDb::drop_db`]).
    pub async fn fresh_db(&self, label: &str) -> TestDb {
        let name = format!("e2e_{label}_{}", &uuid::Uuid::new_v4().simple().to_string()[..8]);
        let mut conn = MySqlConnection::connect(&self.mysql_url)
            .await
            .expect("connect to MariaDB");
        sqlx::raw_sql(&format!("CREATE DATABASE `{name}`"))
            .execute(&mut conn)
            .await
            .expect("create database");
        let url = format!("{}/{name}", self.mysql_url);
        let pool = MySqlPoolOptions::new()
            .max_connections(4)
            .connect(&url)
            .await
            .expect("connect to the test database");
        TestDb {
            name,
            url,
            server_url: self.mysql_url.clone(),
            pool,
        }
    }
}

/// One test's database.
pub struct TestDb {
    pub name: String,
    /// `DATABASE_URL` for the backend.
    pub url: String,
    server_url: String,
    pub pool: MySqlPool,
}

impl TestDb {
    /// `SELECT COUNT(*) ...` helper.
    pub async fn count(&self, sql: &str) -> i64 {
        sqlx::query_scalar::<_, i64>(sql)
            .fetch_one(&self.pool)
            .await
            .unwrap_or_else(|e| panic!("{sql}: {e}"))
    }

    /// Drops the database (call at the end of a passing test; a failing one leaves it to look at).
    pub async fn drop_db(self) {
        self.pool.close().await;
        if let Ok(mut conn) = MySqlConnection::connect(&self.server_url).await {
            let _ = sqlx::raw_sql(&format!("DROP DATABASE IF EXISTS `{}`", self.name))
                .execute(&mut conn)
                .await;
        }
    }
}

/// The directory holding the workspace's binaries (`target/debug`), from this test's own path.
pub fn bin_dir() -> PathBuf {
    let exe = std::env::current_exe().expect("current exe");
    let dir = exe
        .parent()
        .and_then(|deps| deps.parent())
        .expect("target/debug")
        .to_path_buf();
    for bin in ["collector", "consumer", "api-backend"] {
        assert!(
            dir.join(bin).exists(),
            "{} is missing: build the binaries first (`cargo build --workspace --bins`, as scripts/test.sh does)",
            dir.join(bin).display()
        );
    }
    dir
}

/// The workspace root (for scripts and files the tests check).
pub fn workspace_root() -> PathBuf {
    common::manifest_dir!()
        .join("../..")
        .canonicalize()
        .expect("workspace root")
}

/// Runs `promtool check metrics` on an exposition; panics with promtool's complaints.
pub fn promtool_check(what: &str, exposition: &str) {
    use std::io::Write;
    let promtool = std::env::var("SRMON_PROMTOOL").unwrap_or_else(|_| "promtool".into());
    let mut child = std::process::Command::new(&promtool)
        .args(["check", "metrics"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("run {promtool} (scripts/services.sh installs it): {e}"));
    child.stdin.take().unwrap().write_all(exposition.as_bytes()).unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "promtool check metrics failed for {what}:\n{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A program on PATH (`prometheus`, `promtool`: `scripts/services.sh` installs them), as an
/// absolute path; `SRMON_<NAME>` overrides it.
pub fn program(name: &str) -> PathBuf {
    if let Ok(path) = std::env::var(format!("SRMON_{}", name.to_uppercase())) {
        return PathBuf::from(path);
    }
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .map(|dir| dir.join(name))
        .find(|p| p.is_file())
        .unwrap_or_else(|| panic!("{name} is not on PATH (scripts/services.sh installs it)"))
}

/// A directory of its own for one test, under the target directory.
pub fn scratch(label: &str) -> PathBuf {
    let dir = bin_dir()
        .join("e2e-scratch")
        .join(format!("{label}-{}", &uuid::Uuid::new_v4().simple().to_string()[..8]));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}
