//! Reaching the Docker Engine API named by `DOCKER_HOST`, with a timeout on every call.

use std::future::Future;
use std::time::Duration;

use bollard::{Docker, API_DEFAULT_VERSION};

use crate::error::{Error, Result};

/// Where the Docker API is, parsed from `DOCKER_HOST`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Endpoint {
    /// `unix:///var/run/docker.sock` (or a bare absolute path).
    Unix(String),
    /// `tcp://host:2375` or `http://host:2375`, e.g. a docker-socket-proxy. Plain HTTP only.
    Http(String),
}

impl Endpoint {
    /// Parses `DOCKER_HOST`; `Ok(None)` when it is empty or `none` (Docker sampling disabled).
    pub fn parse(docker_host: &str) -> Result<Option<Endpoint>> {
        let s = docker_host.trim();
        if s.is_empty() || s.eq_ignore_ascii_case("none") {
            return Ok(None);
        }
        if let Some(path) = s.strip_prefix("unix://") {
            return Ok(Some(Endpoint::Unix(path.to_string())));
        }
        if s.starts_with('/') {
            return Ok(Some(Endpoint::Unix(s.to_string())));
        }
        if let Some(addr) = s.strip_prefix("tcp://").or_else(|| s.strip_prefix("http://")) {
            return Ok(Some(Endpoint::Http(format!("http://{addr}"))));
        }
        Err(Error::Config(format!(
            "DOCKER_HOST {s:?} is not supported: use unix:///path/docker.sock, tcp://host:port, or none"
        )))
    }

    /// Creates a client and negotiates the API version with the engine (so a newer client works
    /// with an older engine, and podman's compatible API at 1.41).
    pub async fn connect(&self, timeout: Duration) -> Result<Docker> {
        let secs = timeout.as_secs().max(1); // bollard's own (whole-second) timeout is only a backstop
        let docker = match self {
            Endpoint::Unix(path) => Docker::connect_with_unix(path, secs, API_DEFAULT_VERSION),
            Endpoint::Http(url) => Docker::connect_with_http(url, secs, API_DEFAULT_VERSION),
        }
        .map_err(|source| Error::Docker {
            call: "connect",
            source,
        })?;
        bounded("version", timeout, docker.negotiate_version()).await
    }
}

impl std::fmt::Display for Endpoint {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Endpoint::Unix(p) => write!(f, "unix://{p}"),
            Endpoint::Http(u) => f.write_str(u),
        }
    }
}

/// Runs one Docker call with a timeout; the error names the call.
pub async fn bounded<T>(
    call: &'static str,
    timeout: Duration,
    fut: impl Future<Output = Result<T, bollard::errors::Error>>,
) -> Result<T> {
    match tokio::time::timeout(timeout, fut).await {
        Ok(Ok(v)) => Ok(v),
        Ok(Err(source)) => Err(Error::Docker { call, source }),
        Err(_) => Err(Error::DockerTimeout { call, after: timeout }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_docker_host() {
        assert_eq!(
            Endpoint::parse("unix:///var/run/docker.sock").unwrap(),
            Some(Endpoint::Unix("/var/run/docker.sock".into()))
        );
        assert_eq!(
            Endpoint::parse("/run/podman.sock").unwrap(),
            Some(Endpoint::Unix("/run/podman.sock".into()))
        );
        assert_eq!(
            Endpoint::parse("tcp://proxy:2375").unwrap(),
            Some(Endpoint::Http("http://proxy:2375".into()))
        );
        assert_eq!(Endpoint::parse("").unwrap(), None);
        assert_eq!(Endpoint::parse("none").unwrap(), None);
        assert!(Endpoint::parse("ssh://host")
            .unwrap_err()
            .to_string()
            .contains("DOCKER_HOST"));
    }

    #[tokio::test]
    async fn missing_socket_is_an_error_not_a_hang() {
        let e = Endpoint::Unix("/nonexistent/docker.sock".into());
        let err = e.connect(Duration::from_millis(200)).await.unwrap_err();
        assert!(matches!(err, Error::Docker { call: "connect", .. }), "{err}");
    }
}
