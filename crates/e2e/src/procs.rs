//! The real binaries as child processes: started with a clean environment (only what the test
//! passes), logs to files under `target/e2e-logs/`, signals, and a [`Stack`] that knows how to
//! start api-backend, consumer and collector against one test's database and topic.

use std::fs::File;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use crate::kafka;
use crate::services::{bin_dir, Services, TestDb};
use crate::wait::wait_until;

/// A free TCP port on loopback.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// The value of the metric line `name` (with or without labels) in an exposition; 0 when absent.
pub fn metric_value(metrics: &str, name: &str) -> f64 {
    metrics
        .lines()
        .filter(|l| !l.starts_with('#'))
        .find_map(|l| {
            let rest = l.strip_prefix(name)?;
            let rest = if rest.starts_with('{') {
                &rest[rest.find('}')? + 1..]
            } else {
                rest
            };
            rest.strip_prefix(' ')?.trim().parse().ok()
        })
        .unwrap_or(0.0)
}

/// A running binary. Killed on drop; on a failing test its log tail is printed.
pub struct Proc {
    pub name: String,
    child: Child,
    pub log: PathBuf,
}

impl Proc {
    /// Starts `bin` from the workspace's target dir with exactly `envs` (plus PATH/HOME/RUST_LOG).
    pub fn spawn(name: &str, bin: &str, args: &[&str], envs: &[(&str, String)], log_dir: &Path) -> Proc {
        Proc::spawn_program(name, &bin_dir().join(bin), args, envs, log_dir)
    }

    /// [`Proc::spawn`] for any program (a test's own MariaDB server, say).
    pub fn spawn_program(name: &str, program: &Path, args: &[&str], envs: &[(&str, String)], log_dir: &Path) -> Proc {
        Proc::spawn_program_in(name, program, args, envs, log_dir, Path::new("."))
    }

    /// [`Proc::spawn_program`] in the working directory `cwd`.
    pub fn spawn_program_in(
        name: &str,
        program: &Path,
        args: &[&str],
        envs: &[(&str, String)],
        log_dir: &Path,
        cwd: &Path,
    ) -> Proc {
        std::fs::create_dir_all(log_dir).unwrap();
        let log = log_dir.join(format!("{name}.log"));
        let file = File::options().create(true).append(true).open(&log).unwrap();
        let mut cmd = Command::new(program);
        cmd.args(args)
            .current_dir(cwd)
            .env_clear()
            .stdout(file.try_clone().unwrap())
            .stderr(file)
            .stdin(Stdio::null());
        for keep in ["PATH", "HOME"] {
            if let Ok(v) = std::env::var(keep) {
                cmd.env(keep, v);
            }
        }
        cmd.env(
            "RUST_LOG",
            std::env::var("E2E_RUST_LOG").unwrap_or_else(|_| "info".into()),
        );
        for (k, v) in envs {
            cmd.env(k, v);
        }
        let child = cmd
            .spawn()
            .unwrap_or_else(|e| panic!("start {}: {e}", program.display()));
        Proc {
            name: name.to_owned(),
            child,
            log,
        }
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Sends a signal by name (`TERM`, `KILL`, `STOP`, `CONT`).
    pub fn signal(&self, sig: &str) {
        let ok = Command::new("kill")
            .arg(format!("-{sig}"))
            .arg(self.pid().to_string())
            .status()
            .unwrap()
            .success();
        assert!(ok, "kill -{sig} {}", self.name);
    }

    /// The exit status, once the process has exited (by itself or a signal).
    pub fn exited(&mut self) -> Option<ExitStatus> {
        self.child.try_wait().unwrap()
    }

    /// SIGKILL and reap.
    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// SIGTERM, then waits up to `timeout` for the exit status.
    pub fn terminate(&mut self, timeout: Duration) -> ExitStatus {
        self.signal("TERM");
        self.wait_exit(timeout)
    }

    /// Waits up to `timeout` for the process to exit by itself.
    pub fn wait_exit(&mut self, timeout: Duration) -> ExitStatus {
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                return status;
            }
            if Instant::now() > deadline {
                self.kill();
                panic!(
                    "{} did not exit within {timeout:?}; log: {}",
                    self.name,
                    self.log.display()
                );
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    pub fn is_running(&mut self) -> bool {
        self.child.try_wait().unwrap().is_none()
    }

    /// The whole log so far.
    pub fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        if self.is_running() {
            self.kill();
        }
        if std::thread::panicking() {
            let lines: Vec<String> = BufReader::new(File::open(&self.log).unwrap())
                .lines()
                .map_while(Result::ok)
                .collect();
            eprintln!("----- last lines of {} ({}) -----", self.name, self.log.display());
            for l in &lines[lines.len().saturating_sub(40)..] {
                eprintln!("{l}");
            }
        }
    }
}

/// One test's pipeline: its own database, topic (+ `.dlq`), consumer group and log folder.
pub struct Stack {
    pub services: Services,
    pub db: TestDb,
    pub topic: String,
    pub group: String,
    pub log_dir: PathBuf,
    pub http: reqwest::Client,
}

/// The whole pipeline running ([`Stack::busy_pipeline`]): its ports, the busy container and
/// the processes (killed on drop).
pub struct Pipeline {
    pub api: u16,
    pub consumer_port: u16,
    pub collector_port: u16,
    /// The container burning a core, and its name.
    pub container: crate::docker::Running,
    pub container_name: String,
    pub host_id: String,
    pub backend: Proc,
    _others: Vec<Proc>,
}

/// Kafka client settings that keep group joins and failovers short in tests.
pub const FAST_GROUP_SETTINGS: &[(&str, &str)] = &[
    ("KAFKA_SESSION_TIMEOUT_MS", "6000"),
    ("KAFKA_HEARTBEAT_INTERVAL_MS", "1000"),
];

impl Stack {
    pub async fn new(label: &str, partitions: i32) -> Stack {
        Stack::new_on(label, partitions, Services::from_env()).await
    }

    /// [`Stack::new`] with the database on the given services' MySQL (a test's own server).
    pub async fn new_on(label: &str, partitions: i32, services: Services) -> Stack {
        let db = services.fresh_db(label).await;
        let topic = kafka::unique_topic(label);
        kafka::create_topics(&services.bootstrap, &topic, partitions).await;
        let log_dir = bin_dir().join("e2e-logs").join(&topic);
        eprintln!(
            "{label}: database {}, topic {topic}, logs in {}",
            db.name,
            log_dir.display()
        );
        Stack {
            group: format!("{topic}-group"),
            services,
            db,
            topic,
            log_dir,
            http: reqwest::Client::builder()
                .timeout(Duration::from_secs(10))
                .build()
                .unwrap(),
        }
    }

    /// Starts api-backend on `port` and waits until it is ready.
    pub async fn start_backend(&self, port: u16) -> Proc {
        self.start_backend_with(port, &[]).await
    }

    /// [`Stack::start_backend`] with extra settings (webhooks, tokens, ...).
    pub async fn start_backend_with(&self, port: u16, extra: &[(&str, String)]) -> Proc {
        let mut env = vec![
            ("DATABASE_URL", self.db.url.clone()),
            ("API_LISTEN", format!("127.0.0.1:{port}")),
        ];
        env.extend(extra.iter().cloned());
        let p = Proc::spawn("api-backend", "api-backend", &[], &env, &self.log_dir);
        self.wait_status(
            &format!("http://127.0.0.1:{port}/health/ready"),
            200,
            Duration::from_secs(60),
        )
        .await;
        p
    }

    /// A container burning a core, then api-backend (with `backend_env`), the consumer and a
    /// collector at 1 s reporting as `host_name`.
    pub async fn busy_pipeline(&self, host_name: &str, backend_env: &[(&str, String)]) -> Pipeline {
        let engine = crate::docker::Engine::connect(&self.services.docker_host, &self.services.image);
        let container_name = format!("{}-burn", self.topic);
        let container = engine.run(&container_name, "yes > /dev/null").await;
        let (api, consumer_port, collector_port) = (free_port(), free_port(), free_port());
        let backend = self.start_backend_with(api, backend_env).await;
        let consumer = self.start_consumer(api, consumer_port, &[]).await;
        let host_id = format!("{}-host", self.topic);
        let mut env = self.collector_env(collector_port);
        env.push(("HOST_ID", host_id.clone()));
        env.push(("HOST_NAME", host_name.to_owned()));
        env.push(("COLLECT_INTERVAL", "1s".into()));
        let collector = Proc::spawn("collector", "collector", &[], &env, &self.log_dir);
        Pipeline {
            api,
            consumer_port,
            collector_port,
            container,
            container_name,
            host_id,
            backend,
            _others: vec![consumer, collector],
        }
    }

    /// Starts the consumer against the backend on `api_port`, ops on `port`, and waits until live.
    pub async fn start_consumer(&self, api_port: u16, port: u16, extra: &[(&str, String)]) -> Proc {
        let mut env = vec![
            ("BOOTSTRAP_SERVER", self.services.bootstrap.clone()),
            ("KAFKA_TOPIC_NAME", self.topic.clone()),
            ("KAFKA_CONSUMER_GROUP_ID", self.group.clone()),
            ("API_BASE_URL", format!("http://127.0.0.1:{api_port}")),
            ("CONSUMER_LISTEN", format!("127.0.0.1:{port}")),
            ("RETRY_MAX", "2s".to_owned()),
        ];
        env.extend(FAST_GROUP_SETTINGS.iter().map(|(k, v)| (*k, v.to_string())));
        env.extend(extra.iter().cloned());
        let p = Proc::spawn("consumer", "consumer", &[], &env, &self.log_dir);
        self.wait_status(
            &format!("http://127.0.0.1:{port}/health/live"),
            200,
            Duration::from_secs(30),
        )
        .await;
        p
    }

    /// Environment for a collector (or `collector simulate`) producing to this test's topic.
    ///
    /// `KAFKA_BATCH_NUM_MESSAGES=1` works around a bug of the test broker (tansu 0.6.0): a fetch
    /// that starts inside a stored record batch returns nothing from that batch, so a consumer
    /// resuming from a committed offset in mid-batch would skip the batch's remaining records.
    /// With one record per batch every offset starts a batch. Apache Kafka needs no such setting.
    pub fn collector_env(&self, port: u16) -> Vec<(&'static str, String)> {
        vec![
            ("KAFKA_BATCH_NUM_MESSAGES", "1".to_owned()),
            ("BOOTSTRAP_SERVER", self.services.bootstrap.clone()),
            ("KAFKA_TOPIC_NAME", self.topic.clone()),
            ("COLLECTOR_LISTEN", format!("127.0.0.1:{port}")),
            ("DOCKER_HOST", self.services.docker_host.clone()),
        ]
    }

    /// `collector simulate` producing to this test's topic: `hosts` hosts with one container
    /// each, a record every 100 ms per host, `records` in all; `extra` settings on top.
    pub fn simulate(&self, port: u16, records: i64, hosts: u32, seed: u64, extra: &[(&'static str, String)]) -> Proc {
        let mut env = self.collector_env(port);
        env.extend(extra.iter().cloned());
        let (records, hosts, seed) = (records.to_string(), hosts.to_string(), seed.to_string());
        let args = [
            "simulate",
            "--hosts",
            &hosts,
            "--containers",
            "1",
            "--interval",
            "100ms",
            "--records",
            &records,
            "--seed",
            &seed,
        ];
        Proc::spawn("simulate", "collector", &args, &env, &self.log_dir)
    }

    /// Waits until `url` answers `status`.
    pub async fn wait_status(&self, url: &str, status: u16, timeout: Duration) {
        wait_until(timeout, &format!("{url} to answer {status}"), || async {
            let r = self.http.get(url).send().await.ok()?;
            (r.status().as_u16() == status).then_some(())
        })
        .await
    }

    /// The `/metrics` exposition of the binary whose ops port is `port`.
    pub async fn metrics_text(&self, port: u16) -> String {
        let url = format!("http://127.0.0.1:{port}/metrics");
        let r = self
            .http
            .get(&url)
            .send()
            .await
            .unwrap_or_else(|e| panic!("GET {url}: {e}"));
        r.text().await.unwrap()
    }

    /// GET `url` as JSON; `None` on an error or a non-200 (for polling).
    pub async fn try_get_json(&self, url: &str) -> Option<serde_json::Value> {
        let r = self.http.get(url).send().await.ok()?;
        if !r.status().is_success() {
            return None;
        }
        r.json().await.ok()
    }

    /// Sends `body` as JSON with `method` and returns the status and the JSON answer (or Null).
    pub async fn send_json(
        &self,
        method: reqwest::Method,
        url: &str,
        body: &serde_json::Value,
    ) -> (u16, serde_json::Value) {
        let r = self
            .http
            .request(method, url)
            .json(body)
            .send()
            .await
            .unwrap_or_else(|e| panic!("{url}: {e}"));
        let status = r.status().as_u16();
        (status, r.json().await.unwrap_or(serde_json::Value::Null))
    }

    /// POSTs records to `/api/v1/ingest` of the backend on `api` and checks they were accepted.
    pub async fn ingest(&self, api: u16, records: &[common::Record]) {
        let body = serde_json::to_value(records).unwrap();
        let (status, answer) = self
            .send_json(
                reqwest::Method::POST,
                &format!("http://127.0.0.1:{api}/api/v1/ingest"),
                &body,
            )
            .await;
        assert_eq!(status, 200, "{answer}");
        assert_eq!(answer["accepted"].as_u64(), Some(records.len() as u64), "{answer}");
    }

    /// GET `url` as JSON (panics on a non-200).
    pub async fn get_json(&self, url: &str) -> serde_json::Value {
        let r = self
            .http
            .get(url)
            .send()
            .await
            .unwrap_or_else(|e| panic!("GET {url}: {e}"));
        let status = r.status();
        let body = r.text().await.unwrap();
        assert!(status.is_success(), "GET {url}: {status} {body}");
        serde_json::from_str(&body).unwrap_or_else(|e| panic!("GET {url}: not JSON ({e}): {body}"))
    }
}
