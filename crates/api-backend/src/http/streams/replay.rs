//! Stored alert events after a given id, oldest first, a page at a time: what a client that
//! reconnects with `Last-Event-ID` missed.

use std::sync::Arc;

use sqlx::{MySqlPool, Row};

use crate::error::{Error, Result};
use crate::hub::PublishedAlert;

/// Events per query.
pub const PAGE: usize = 1000;

/// One page of stored events.
pub struct Page {
    pub events: Vec<Arc<PublishedAlert>>,
    /// The greatest id read (also of a row left out), where the next page starts.
    pub last_id: Option<u64>,
    /// Whether the page is full, so that more may follow.
    pub full: bool,
}

/// Up to [`PAGE`] stored events with an id greater than `after`, in id order. A row whose
/// `event` is not an alert event is logged and left out.
pub async fn page(pool: &MySqlPool, after: u64) -> Result<Page> {
    let rows = sqlx::query("SELECT id, event FROM alert_events WHERE id > ? ORDER BY id LIMIT ?")
        .bind(after)
        .bind(PAGE as u64)
        .fetch_all(pool)
        .await
        .map_err(Error::from_sqlx)?
        .iter()
        .map(|r| {
            // `event` has a binary collation, which sqlx's type check takes for VARBINARY: the
            // bytes are UTF-8 text all the same (`String` still validates it)
            Ok((r.try_get::<u64, _>("id")?, r.try_get_unchecked::<String, _>("event")?))
        })
        .collect::<Result<Vec<_>, sqlx::Error>>()
        .map_err(Error::from_sqlx)?;
    let (full, last_id) = (rows.len() == PAGE, rows.last().map(|(id, _)| *id));
    let events = rows
        .into_iter()
        .filter_map(|(id, json)| match PublishedAlert::from_stored(id, json) {
            Ok(event) => Some(Arc::new(event)),
            Err(e) => {
                tracing::warn!(id, error = %e, "skipping a stored alert event that does not parse");
                None
            }
        })
        .collect();
    Ok(Page { events, last_id, full })
}
