//! The real Docker-API engine (podman's service in tests): run, stop and remove test containers.

use bollard::models::{ContainerCreateBody, HostConfig};
use bollard::query_parameters::{CreateContainerOptions, RemoveContainerOptionsBuilder, StopContainerOptionsBuilder};
use bollard::Docker;

pub struct Engine {
    pub docker: Docker,
    image: String,
}

impl Engine {
    pub fn connect(docker_host: &str, image: &str) -> Engine {
        let docker = Docker::connect_with_unix(docker_host, 30, bollard::API_DEFAULT_VERSION)
            .unwrap_or_else(|e| panic!("connect to {docker_host}: {e}"));
        Engine {
            docker,
            image: image.to_owned(),
        }
    }

    /// Creates and starts a container named `name` running `sh -c script`, without network.
    /// The returned guard removes it when dropped, also when the test fails.
    pub async fn run(&self, name: &str, script: &str) -> Running {
        let body = ContainerCreateBody {
            image: Some(self.image.clone()),
            cmd: Some(vec!["/bin/sh".into(), "-c".into(), script.into()]),
            host_config: Some(HostConfig {
                network_mode: Some("none".into()),
                ..Default::default()
            }),
            ..Default::default()
        };
        let opts = CreateContainerOptions {
            name: Some(name.to_owned()),
            ..Default::default()
        };
        let created = self
            .docker
            .create_container(Some(opts), body)
            .await
            .unwrap_or_else(|e| panic!("create {name}: {e}"));
        let guard = Running {
            docker: self.docker.clone(),
            id: created.id.clone(),
        };
        self.docker
            .start_container(&created.id, None)
            .await
            .unwrap_or_else(|e| panic!("start {name}: {e}"));
        guard
    }

    /// Stops a container, waiting `grace_secs` before it is killed.
    pub async fn stop(&self, id: &str, grace_secs: i32) {
        let opts = StopContainerOptionsBuilder::new().t(grace_secs).build();
        self.docker
            .stop_container(id, Some(opts))
            .await
            .unwrap_or_else(|e| panic!("stop {id}: {e}"));
    }

    /// When the engine says the container started.
    pub async fn started_at(&self, id: &str) -> chrono::DateTime<chrono::Utc> {
        let state = self
            .docker
            .inspect_container(id, None)
            .await
            .unwrap_or_else(|e| panic!("inspect {id}: {e}"))
            .state;
        let at = state
            .and_then(|s| s.started_at)
            .unwrap_or_else(|| panic!("{id} has no StartedAt"));
        common::timefmt::parse(&at).unwrap_or_else(|e| panic!("StartedAt {at:?}: {e}"))
    }

    /// The exit code Docker recorded for a stopped container.
    pub async fn exit_code(&self, id: &str) -> Option<i64> {
        self.docker.inspect_container(id, None).await.ok()?.state?.exit_code
    }

    /// Removes a container whatever its state (best effort).
    pub async fn remove(&self, id: &str) {
        let opts = RemoveContainerOptionsBuilder::new().force(true).build();
        let _ = self.docker.remove_container(id, Some(opts)).await;
    }
}

/// A test container, force-removed on drop.
pub struct Running {
    docker: Docker,
    pub id: String,
}

impl Drop for Running {
    fn drop(&mut self) {
        let (docker, id) = (self.docker.clone(), self.id.clone());
        // Drop cannot await: remove it from a small runtime of its own.
        let _ = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            let opts = RemoveContainerOptionsBuilder::new().force(true).build();
            let _ = rt.block_on(docker.remove_container(&id, Some(opts)));
        })
        .join();
    }
}
