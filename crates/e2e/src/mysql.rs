//! A MariaDB server of one test's own (Debian's `mariadbd`, the one `scripts/services.sh`
//! installs), on its own port and data directory, so the test can SIGKILL it, restart it, or
//! fill its disk without touching the server the other tests share.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use crate::{wait_until, Proc, Services};

pub struct OwnMysql {
    pub port: u16,
    datadir: PathBuf,
    socket: PathBuf,
    log_dir: PathBuf,
    /// Server options beyond the ones every start uses (TLS, say).
    extra: Vec<String>,
    server: Option<Proc>,
}

fn run(what: &str, cmd: &mut Command) {
    let out = cmd.output().unwrap_or_else(|e| panic!("{what}: {e}"));
    assert!(
        out.status.success(),
        "{what} failed: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

fn user() -> String {
    let out = Command::new("id").arg("-un").output().expect("id -un");
    String::from_utf8_lossy(&out.stdout).trim().to_owned()
}

impl OwnMysql {
    /// Initialises a data directory in `dir` (which may be a small filesystem of the test's)
    /// and starts the server; user `srmon`/`srmon` may do everything.
    pub async fn start(dir: &Path, log_dir: &Path) -> OwnMysql {
        OwnMysql::start_with(dir, log_dir, &[]).await
    }

    /// [`OwnMysql::start`] with more server options (`--ssl-cert=...`).
    pub async fn start_with(dir: &Path, log_dir: &Path, extra: &[String]) -> OwnMysql {
        let datadir = dir.join("data");
        std::fs::create_dir_all(&datadir).unwrap();
        run(
            "mariadb-install-db",
            Command::new("mariadb-install-db")
                .arg("--no-defaults")
                .arg(format!("--user={}", user()))
                .arg(format!("--datadir={}", datadir.display()))
                .args(["--auth-root-authentication-method=normal", "--skip-test-db"]),
        );
        let mut own = OwnMysql {
            port: crate::free_port(),
            socket: dir.join("mysqld.sock"),
            datadir,
            log_dir: log_dir.to_owned(),
            extra: extra.to_vec(),
            server: None,
        };
        own.start_server().await;
        run(
            "create user srmon",
            Command::new("mariadb")
                .args(["--no-defaults", "-uroot"])
                .arg(format!("--socket={}", own.socket.display()))
                .arg("-e")
                .arg(
                    "DELETE FROM mysql.global_priv WHERE User=''; \
                     CREATE USER 'srmon'@'%' IDENTIFIED BY 'srmon'; GRANT ALL ON *.* TO 'srmon'@'%'; \
                     CREATE USER 'srmon'@'localhost' IDENTIFIED BY 'srmon'; GRANT ALL ON *.* TO 'srmon'@'localhost'; \
                     FLUSH PRIVILEGES;",
                ),
        );
        own
    }

    /// The services, with this server as MySQL.
    pub fn services(&self) -> Services {
        Services {
            mysql_url: format!("mysql://srmon:srmon@127.0.0.1:{}", self.port),
            ..Services::from_env()
        }
    }

    async fn start_server(&mut self) {
        let program = PathBuf::from(
            ["/usr/sbin/mariadbd", "/usr/bin/mariadbd"]
                .into_iter()
                .find(|p| Path::new(p).exists())
                .expect("mariadbd (scripts/services.sh installs mariadb-server)"),
        );
        let mut args = vec![
            "--no-defaults".to_owned(),
            format!("--user={}", user()),
            format!("--datadir={}", self.datadir.display()),
            format!("--socket={}", self.socket.display()),
            format!("--port={}", self.port),
            "--bind-address=127.0.0.1".to_owned(),
            "--skip-log-bin".to_owned(),
            "--innodb-buffer-pool-size=128M".to_owned(),
            "--max-connections=100".to_owned(),
        ];
        args.extend(self.extra.iter().cloned());
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        self.server = Some(Proc::spawn_program("mariadbd", &program, &args, &[], &self.log_dir));
        let port = self.port;
        wait_until(
            Duration::from_secs(60),
            "the test's own MariaDB to listen",
            || async move {
                tokio::net::TcpStream::connect(("127.0.0.1", port))
                    .await
                    .ok()
                    .map(|_| ())
            },
        )
        .await;
    }

    /// SIGKILL, as a crash or the OOM killer would.
    pub fn kill(&mut self) {
        if let Some(mut p) = self.server.take() {
            p.kill();
        }
    }

    /// Starts the server again on the same data (InnoDB recovers what was committed).
    pub async fn restart(&mut self) {
        self.kill();
        self.start_server().await;
    }
}

impl Drop for OwnMysql {
    fn drop(&mut self) {
        self.kill();
    }
}
