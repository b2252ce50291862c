//! A Kafka-protocol broker of one test's own (the tansu binary `scripts/services.sh` builds,
//! memory storage) behind a [`Proxy`] that it advertises as its address, so every client
//! (collector, consumer, the test's admin) reaches it only through the proxy: switching the
//! proxy off makes the broker unreachable for all of them while it keeps its data; SIGKILL and
//! a fresh start is a broker restart that lost everything (memory storage).

use std::path::PathBuf;
use std::time::Duration;

use crate::proxy::Proxy;
use crate::services::program;
use crate::{free_port, Proc, Services};

pub struct OwnBroker {
    /// Where clients connect: the proxy.
    pub proxy: Proxy,
    port: u16,
    workdir: PathBuf,
    log_dir: PathBuf,
    server: Option<Proc>,
}

impl OwnBroker {
    /// Starts the broker (and its proxy) with a working directory under `dir`.
    pub async fn start(dir: &std::path::Path) -> OwnBroker {
        let port = free_port();
        let proxy = Proxy::start(([127, 0, 0, 1], port).into()).await;
        let workdir = dir.join("tansu");
        std::fs::create_dir_all(&workdir).unwrap();
        let mut own = OwnBroker {
            proxy,
            port,
            workdir,
            log_dir: dir.join("logs"),
            server: None,
        };
        own.start_server().await;
        own
    }

    /// The address clients bootstrap from (the proxy's).
    pub fn bootstrap(&self) -> String {
        self.proxy.addr.to_string()
    }

    /// The services, with this broker as Kafka.
    pub fn services(&self) -> Services {
        Services {
            bootstrap: self.bootstrap(),
            ..Services::from_env()
        }
    }

    async fn start_server(&mut self) {
        let program = program("tansu");
        let listen = format!("tcp://127.0.0.1:{}", self.port);
        let advertised = format!("tcp://{}", self.proxy.addr);
        let args = [
            "broker",
            "--listener-url",
            &listen,
            "--advertised-listener-url",
            &advertised,
            "--storage-engine",
            "memory://tansu/",
        ];
        // tansu reads a .env file from its working directory: run it from one of its own
        let quiet = [("RUST_LOG", "warn".to_owned())];
        let mut server = Proc::spawn_program_in("tansu", &program, &args, &quiet, &self.log_dir, &self.workdir);
        let deadline = std::time::Instant::now() + Duration::from_secs(60);
        while tokio::net::TcpStream::connect(("127.0.0.1", self.port)).await.is_err() {
            assert!(
                server.is_running(),
                "the test's own broker exited at start; log: {}",
                server.log.display()
            );
            assert!(
                std::time::Instant::now() < deadline,
                "the test's own broker does not listen after 60 s; log: {}",
                server.log.display()
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        self.server = Some(server);
    }

    /// SIGKILL: the broker and everything it stored are gone.
    pub fn kill(&mut self) {
        if let Some(mut p) = self.server.take() {
            p.kill();
        }
    }

    /// A fresh, empty broker on the same address (after [`OwnBroker::kill`]).
    pub async fn start_fresh(&mut self) {
        self.kill();
        self.start_server().await;
    }
}

impl Drop for OwnBroker {
    fn drop(&mut self) {
        self.kill();
    }
}
