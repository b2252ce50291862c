//! How many live streams may be open: in total (`STREAMS_MAX`) and from one client address
//! (`STREAMS_MAX_PER_CLIENT`; behind a reverse proxy every client shares its address). A
//! stream over either limit is refused with 429 and the reason, counted in
//! `api_limit_refusals_total{limit="streams"|"streams_per_client"}`. The permit lives in the
//! answer's body, so it ends when the stream does; a WebSocket handler takes it from the
//! request ([`PermitSlot`]) into the upgraded socket's task.

use std::collections::HashMap;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::{Arc, Mutex, PoisonError};

use axum::body::Body;
use axum::extract::{ConnectInfo, Request, State};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use futures_util::StreamExt;

use crate::error::Error;

/// The limits (STREAMS_MAX, STREAMS_MAX_PER_CLIENT).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StreamSettings {
    pub max: usize,
    pub per_client: usize,
}

impl Default for StreamSettings {
    fn default() -> Self {
        StreamSettings {
            max: 1000,
            per_client: 32,
        }
    }
}

/// The request's permit, for a handler whose stream outlives the answer's body (a WebSocket):
/// [`PermitSlot::take`] it into the task that serves the stream.
#[derive(Debug, Clone)]
pub struct PermitSlot(Arc<Mutex<Option<Permit>>>);

impl PermitSlot {
    /// The permit, once: the stream is then counted until it is dropped.
    pub fn take(&self) -> Option<Permit> {
        self.0.lock().unwrap_or_else(PoisonError::into_inner).take()
    }
}

/// The open streams, by client address.
#[derive(Debug)]
pub struct Streams {
    settings: StreamSettings,
    open: Mutex<HashMap<IpAddr, usize>>,
}

/// One open stream; dropping it closes its place.
#[derive(Debug)]
pub struct Permit {
    streams: Arc<Streams>,
    client: IpAddr,
}

impl Streams {
    pub fn new(settings: StreamSettings) -> Arc<Streams> {
        Arc::new(Streams {
            settings,
            open: Mutex::new(HashMap::new()),
        })
    }

    /// A place for one more stream of `client`, or why not.
    pub fn open(self: &Arc<Self>, client: IpAddr) -> Result<Permit, Error> {
        let mut open = self.open.lock().unwrap_or_else(PoisonError::into_inner);
        let total: usize = open.values().sum();
        if total >= self.settings.max {
            return Err(Error::Busy {
                limit: "streams",
                message: format!(
                    "{total} live streams are open, the most this server takes (STREAMS_MAX {}): retry later",
                    self.settings.max
                ),
            });
        }
        let mine = open.entry(client).or_default();
        if *mine >= self.settings.per_client {
            return Err(Error::Busy {
                limit: "streams_per_client",
                message: format!(
                    "{mine} live streams are open from {client}, the most one client may hold (STREAMS_MAX_PER_CLIENT {}): close one",
                    self.settings.per_client
                ),
            });
        }
        *mine += 1;
        Ok(Permit {
            streams: self.clone(),
            client,
        })
    }
}

impl Drop for Permit {
    fn drop(&mut self) {
        let mut open = self.streams.open.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(n) = open.get_mut(&self.client) {
            *n -= 1;
            if *n == 0 {
                open.remove(&self.client);
            }
        }
    }
}

/// Middleware of the stream routes: takes a permit for the client (its TCP peer address) and
/// keeps it in the answer's body.
pub async fn guard(State(streams): State<Arc<Streams>>, req: Request, next: Next) -> Response {
    let client = req
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED), |c| c.0.ip());
    let slot = match streams.open(client) {
        Ok(permit) => PermitSlot(Arc::new(Mutex::new(Some(permit)))),
        Err(e) => return e.into_response(),
    };
    let mut req = req;
    req.extensions_mut().insert(slot.clone());
    let response = next.run(req).await;
    // an error ends here; a WebSocket's upgrade (101) took the permit into its task
    let Some(permit) = slot.take().filter(|_| response.status().is_success()) else {
        return response;
    };
    response.map(|body| {
        Body::from_stream(body.into_data_stream().map(move |chunk| {
            let _open = &permit;
            chunk
        }))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn streams_stop_at_each_limit_and_a_closed_one_frees_its_place() {
        let streams = Streams::new(StreamSettings { max: 3, per_client: 2 });
        let (a, b) = (IpAddr::from([10, 0, 0, 1]), IpAddr::from([10, 0, 0, 2]));
        let first = streams.open(a).unwrap();
        let _second = streams.open(a).unwrap();
        assert!(matches!(
            streams.open(a),
            Err(Error::Busy {
                limit: "streams_per_client",
                ..
            })
        ));
        let _third = streams.open(b).unwrap();
        assert!(matches!(streams.open(b), Err(Error::Busy { limit: "streams", .. })));
        drop(first);
        assert!(streams.open(a).is_ok(), "a closed stream frees its place");
    }
}
