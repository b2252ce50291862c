//! Lenient reads of the Docker API: the container list and inspect, parsed only for the fields
//! we use. bollard's models reject the whole answer when one container has a value its strict
//! enums do not know (podman 4.3 reports a transient `stopped` state), which would blind
//! container sampling; these reads keep unknown values as plain strings.

use std::time::Duration;

use bollard::ClientVersion;
use http_body_util::{BodyExt, Empty};
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use hyperlocal::UnixConnector;
use serde::Deserialize;

use super::client::Endpoint;
use crate::error::{Error, Result};

type Body = Empty<&'static [u8]>;

/// A plain HTTP/1 client for the same endpoint bollard talks to.
#[derive(Clone)]
pub enum RawClient {
    Unix(Client<UnixConnector, Body>, String),
    Http(Client<HttpConnector, Body>, String),
}

/// One entry of `GET /containers/json`.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
pub struct Summary {
    #[serde(rename = "Id", default)]
    pub id: String,
    #[serde(rename = "Names", default)]
    pub names: Option<Vec<String>>,
    #[serde(rename = "Image", default)]
    pub image: Option<String>,
    #[serde(rename = "State", default)]
    pub state: Option<String>,
}

/// The parts of `GET /containers/{id}/json` we use.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
pub struct Inspect {
    #[serde(rename = "RestartCount", default)]
    pub restart_count: Option<i64>,
    #[serde(rename = "State", default)]
    pub state: Option<InspectState>,
}

#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
pub struct InspectState {
    #[serde(rename = "Health", default)]
    pub health: Option<InspectHealth>,
}

#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
pub struct InspectHealth {
    #[serde(rename = "Status", default)]
    pub status: Option<String>,
}

impl Inspect {
    /// `healthy`, `unhealthy`, `starting`; `None` without a health check.
    pub fn health(&self) -> Option<String> {
        let status = self.state.as_ref()?.health.as_ref()?.status.as_deref()?;
        (!status.is_empty() && status != "none").then(|| status.to_string())
    }

    pub fn restart_count(&self) -> Option<u64> {
        self.restart_count.and_then(|n| u64::try_from(n).ok())
    }
}

impl RawClient {
    pub fn new(endpoint: &Endpoint) -> Self {
        let builder = Client::builder(TokioExecutor::new());
        match endpoint {
            Endpoint::Unix(path) => RawClient::Unix(builder.build(UnixConnector), path.clone()),
            Endpoint::Http(url) => RawClient::Http(
                builder.build(HttpConnector::new()),
                url.trim_end_matches('/').to_string(),
            ),
        }
    }

    /// Every container, running or not.
    pub async fn list(&self, version: &ClientVersion, timeout: Duration) -> Result<Vec<Summary>> {
        self.get_json("list", &format!("/v{version}/containers/json?all=1"), timeout)
            .await
    }

    /// One container's restart count and health.
    pub async fn inspect(&self, version: &ClientVersion, id: &str, timeout: Duration) -> Result<Inspect> {
        self.get_json("inspect", &format!("/v{version}/containers/{id}/json"), timeout)
            .await
    }

    async fn get_json<T: serde::de::DeserializeOwned>(
        &self,
        call: &'static str,
        path: &str,
        timeout: Duration,
    ) -> Result<T> {
        let api = |message: String| Error::DockerApi { call, message };
        let request = async {
            let response = match self {
                RawClient::Unix(client, socket) => client.get(hyperlocal::Uri::new(socket, path).into()).await,
                RawClient::Http(client, base) => {
                    let uri = format!("{base}{path}")
                        .parse()
                        .map_err(|e| api(format!("bad URL: {e}")))?;
                    client.get(uri).await
                }
            }
            .map_err(|e| api(e.to_string()))?;
            let status = response.status();
            let body = response
                .into_body()
                .collect()
                .await
                .map_err(|e| api(e.to_string()))?
                .to_bytes();
            if !status.is_success() {
                return Err(api(format!("HTTP {status}: {}", String::from_utf8_lossy(&body).trim())));
            }
            serde_json::from_slice(&body).map_err(|e| api(format!("unexpected answer: {e}")))
        };
        tokio::time::timeout(timeout, request)
            .await
            .map_err(|_| Error::DockerTimeout { call, after: timeout })?
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unknown_states_do_not_break_the_list() {
        let list: Vec<Summary> = serde_json::from_str(
            r#"[{"Id":"a1","Names":["/web"],"Image":"nginx","State":"stopped","Status":"Exited (0)","Ports":[],"Labels":{}},
                {"Id":"b2","Names":null,"Image":"redis","State":"running","NetworkSettings":{"Networks":null}}]"#,
        )
        .unwrap();
        assert_eq!(list[0].state.as_deref(), Some("stopped"));
        assert_eq!(list[1].names, None);
    }

    #[test]
    fn health_and_restart_count() {
        let i: Inspect = serde_json::from_str(
            r#"{"RestartCount":2,"State":{"Status":"running","Health":{"Status":"unhealthy","FailingStreak":3}}}"#,
        )
        .unwrap();
        assert_eq!((i.health().as_deref(), i.restart_count()), (Some("unhealthy"), Some(2)));
        // podman: an empty status for containers without a health check; Docker: no Health at all.
        let i: Inspect =
            serde_json::from_str(r#"{"RestartCount":0,"State":{"Health":{"Status":"","FailingStreak":0}}}"#).unwrap();
        assert_eq!((i.health(), i.restart_count()), (None, Some(0)));
        let i: Inspect = serde_json::from_str(r#"{"RestartCount":0,"State":{"Status":"exited"}}"#).unwrap();
        assert_eq!(i.health(), None);
    }
}
