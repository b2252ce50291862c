//! api-backend talks TLS to MySQL through `DATABASE_URL` alone (docs/security.md): against a
//! MariaDB of the test's own that requires secure transport, with a certificate made by the
//! test, `?ssl-mode=VERIFY_IDENTITY&ssl-ca=...` connects and stores; a server certificate
//! from another CA is refused, and so is a connection without TLS (the server requires it).

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use e2e::{free_port, Proc, Stack};

fn openssl(dir: &Path, args: &[&str]) {
    let out = Command::new("openssl")
        .current_dir(dir)
        .args(args)
        .output()
        .expect("run openssl");
    assert!(
        out.status.success(),
        "openssl {}: {}",
        args.join(" "),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A CA named `name` (`name-ca.pem`, `name-ca.key`) in `dir`.
fn ca(dir: &Path, name: &str) {
    openssl(
        dir,
        &[
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-days",
            "2",
            "-subj",
            &format!("/CN=srmon test CA {name}"),
            "-keyout",
            &format!("{name}-ca.key"),
            "-out",
            &format!("{name}-ca.pem"),
        ],
    );
}

/// A server certificate for 127.0.0.1 signed by CA `name`: `server.pem`, `server.key`.
fn server_cert(dir: &Path, name: &str) {
    openssl(
        dir,
        &[
            "req",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-subj",
            "/CN=127.0.0.1",
            "-keyout",
            "server.key",
            "-out",
            "server.csr",
        ],
    );
    std::fs::write(dir.join("san.ext"), "subjectAltName=IP:127.0.0.1\n").unwrap();
    openssl(
        dir,
        &[
            "x509",
            "-req",
            "-in",
            "server.csr",
            "-days",
            "2",
            "-CA",
            &format!("{name}-ca.pem"),
            "-CAkey",
            &format!("{name}-ca.key"),
            "-CAcreateserial",
            "-extfile",
            "san.ext",
            "-out",
            "server.pem",
        ],
    );
}

/// Waits until the backend's log shows `needle` (it keeps retrying its connection).
fn wait_for_log(p: &Proc, needle: &str, within: Duration) -> String {
    let deadline = std::time::Instant::now() + within;
    loop {
        let log = p.log_text();
        if log.to_lowercase().contains(&needle.to_lowercase()) {
            return log;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the backend's log does not show {needle:?} within {within:?}:\n{log}"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_backend_reaches_mysql_over_verified_tls_and_refuses_an_unknown_certificate() {
    let dir = e2e::scratch("mysqltls");
    let certs = dir.join("certs");
    std::fs::create_dir_all(&certs).unwrap();
    ca(&certs, "good");
    ca(&certs, "other");
    server_cert(&certs, "good");
    let path = |f: &str| certs.join(f).display().to_string();
    let mysql = e2e::mysql::OwnMysql::start_with(
        &dir,
        &dir.join("logs"),
        &[
            format!("--ssl-ca={}", path("good-ca.pem")),
            format!("--ssl-cert={}", path("server.pem")),
            format!("--ssl-key={}", path("server.key")),
            "--require-secure-transport=ON".to_owned(),
        ],
    )
    .await;
    let stack = Stack::new_on("mysqltls", 1, mysql.services()).await;
    let url = |query: String| vec![("DATABASE_URL", format!("{}?{query}", stack.db.url))];

    let api = free_port();
    let verified = url(format!("ssl-mode=VERIFY_IDENTITY&ssl-ca={}", path("good-ca.pem")));
    let backend = stack.start_backend_with(api, &verified).await;
    stack.ingest(api, &[e2e::records::host_record("tls-host")]).await;
    assert_eq!(e2e::stored::count(&stack.db.pool).await, 1, "stored over TLS");
    drop(backend);

    // the server's certificate is not from this CA: no connection, and the log says why
    let wrong_ca = url(format!("ssl-mode=VERIFY_CA&ssl-ca={}", path("other-ca.pem")));
    let env: Vec<(&str, String)> = [("API_LISTEN", format!("127.0.0.1:{}", free_port()))]
        .into_iter()
        .chain(wrong_ca)
        .collect();
    let refused = Proc::spawn("api-backend-wrong-ca", "api-backend", &[], &env, &stack.log_dir);
    wait_for_log(&refused, "certificate", Duration::from_secs(30));
    drop(refused);

    // without TLS the server refuses (MariaDB answers "access denied" then): the same URL as
    // the one that worked, TLS off
    let plain = url("ssl-mode=DISABLED".to_owned());
    let env: Vec<(&str, String)> = [("API_LISTEN", format!("127.0.0.1:{}", free_port()))]
        .into_iter()
        .chain(plain)
        .collect();
    let refused = Proc::spawn("api-backend-plain", "api-backend", &[], &env, &stack.log_dir);
    wait_for_log(&refused, "cannot connect to MySQL yet", Duration::from_secs(30));
    drop(refused);
    stack.db.drop_db().await;
}
