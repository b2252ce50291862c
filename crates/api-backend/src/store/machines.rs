//! The inventory table `machines`: resolving external ids (host ids, container ids) to the small
//! integer ids sample rows use, through an in-memory cache; creating machines seen for the first
//! time; keeping their descriptive fields at their latest sample; linking a re-created container
//! to its predecessor; marking removals. The cache's generation moves on every committed change
//! of the inventory beyond `last_seen`, so a copy of the machine list knows when it is stale.

use std::collections::{HashMap, HashSet};
use std::sync::Mutex;

use chrono::NaiveDateTime;
use sqlx::mysql::MySqlConnection;
use sqlx::{MySql, QueryBuilder, Row as _};

use super::columns::{text, CHUNK};

/// `machines.kind`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Kind {
    Host,
    Container,
}

impl From<Kind> for crate::alerts::MachineKind {
    fn from(k: Kind) -> Self {
        match k {
            Kind::Host => crate::alerts::MachineKind::Host,
            Kind::Container => crate::alerts::MachineKind::Container,
        }
    }
}

impl Kind {
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Host => "host",
            Kind::Container => "container",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "host" => Some(Kind::Host),
            "container" => Some(Kind::Container),
            _ => None,
        }
    }
}

/// Ids of machines known to exist, and what was last written to each machine row (only
/// committed ones are ever put here).
#[derive(Debug, Default)]
pub struct Cache {
    ids: Mutex<HashMap<(Kind, String), u32>>,
    written: Mutex<HashMap<u32, Written>>,
    /// The newest committed sample time of each machine this process stored (exact, where
    /// `machines.last_seen` is refreshed only every [`LAST_SEEN_REFRESH`]).
    seen: Mutex<HashMap<u32, NaiveDateTime>>,
    /// Moves on every committed change of the inventory beyond `last_seen` (a new machine, new
    /// descriptive fields, a removal): a copy of the machine list read at an older value is stale.
    generation: std::sync::atomic::AtomicU64,
}

/// What the last committed update wrote to a machine row.
#[derive(Debug, Clone, PartialEq)]
pub struct Written {
    fingerprint: u64,
    first_seen: NaiveDateTime,
    last_seen: NaiveDateTime,
}

/// A machine row whose descriptive fields did not change is rewritten at most this often just
/// to move `last_seen`: readers take the newest sample time this process stored (see
/// [`Cache::seen`]), so rewriting every machine on every batch (as many row updates as records
/// at 2,000 hosts x 10 containers) buys nothing. After a restart `last_seen` may be this old
/// until the machine's next record.
pub const LAST_SEEN_REFRESH: chrono::TimeDelta = chrono::TimeDelta::seconds(60);

impl Written {
    pub fn of(row: &Row<'_>) -> Self {
        use std::hash::{Hash, Hasher};
        let mut h = std::collections::hash_map::DefaultHasher::new();
        (
            row.name,
            row.host_machine_id,
            row.image,
            row.state,
            row.health,
            row.restart_count,
            row.interval_ms,
        )
            .hash(&mut h);
        Written {
            fingerprint: h.finish(),
            first_seen: row.first_seen,
            last_seen: row.last_seen,
        }
    }
}

/// The cache starts over beyond this many machines (a cheap bound; misses just cost a SELECT).
const CACHE_MAX: usize = 200_000;

impl Cache {
    fn get(&self, kind: Kind, ext_id: &str) -> Option<u32> {
        self.ids
            .lock()
            .expect("machine cache lock")
            .get(&(kind, ext_id.to_owned()))
            .copied()
    }

    /// The inventory's generation (see [`Cache::changed`]).
    pub fn generation(&self) -> u64 {
        self.generation.load(std::sync::atomic::Ordering::Acquire)
    }

    /// A committed batch changed the inventory beyond `last_seen`.
    pub fn changed(&self) {
        self.generation.fetch_add(1, std::sync::atomic::Ordering::AcqRel);
    }

    /// Remembers ids, and what was written, after the transaction committed.
    pub fn remember(&self, found: Vec<(Kind, String, u32)>, written: Vec<(u32, Written)>) {
        let described = {
            let last = self.written.lock().expect("machine cache lock");
            written.iter().any(|(id, w)| {
                // first_seen is the batch's earliest sample: only an earlier one changes the row
                last.get(id)
                    .is_none_or(|old| old.fingerprint != w.fingerprint || w.first_seen < old.first_seen)
            })
        };
        if described || !found.is_empty() {
            self.changed();
        }
        let mut ids = self.ids.lock().expect("machine cache lock");
        if ids.len() + found.len() > CACHE_MAX {
            ids.clear();
        }
        ids.extend(found.into_iter().map(|(kind, ext, id)| ((kind, ext), id)));
        drop(ids);
        let mut last = self.written.lock().expect("machine cache lock");
        if last.len() + written.len() > CACHE_MAX {
            last.clear();
        }
        last.extend(written);
    }

    /// Notes the newest sample times of a committed batch.
    pub fn note_seen(&self, seen: impl IntoIterator<Item = (u32, NaiveDateTime)>) {
        let mut map = self.seen.lock().expect("machine cache lock");
        if map.len() > CACHE_MAX {
            map.clear();
        }
        for (id, at) in seen {
            let t = map.entry(id).or_insert(at);
            *t = (*t).max(at);
        }
    }

    /// `f` of the newest sample time per machine stored by this process (one lock for a
    /// whole listing, not one per machine: ingest takes the same lock).
    pub fn with_seen<T>(&self, f: impl FnOnce(&HashMap<u32, NaiveDateTime>) -> T) -> T {
        f(&self.seen.lock().expect("machine cache lock"))
    }

    /// Does this row change the machine: new descriptive fields, an earlier first_seen, or a
    /// last_seen at least [`LAST_SEEN_REFRESH`] past what was last written?
    pub fn changes(&self, id: u32, row: &Row<'_>) -> bool {
        let last = self.written.lock().expect("machine cache lock");
        match last.get(&id) {
            None => true,
            Some(w) => {
                w.fingerprint != Written::of(row).fingerprint
                    || row.first_seen < w.first_seen
                    || row.last_seen - w.last_seen >= LAST_SEEN_REFRESH
            }
        }
    }
}

/// A machine as one batch describes it: created with these values when new, otherwise its
/// descriptive fields are replaced when `last_seen` is not older than what is stored.
#[derive(Debug, Clone)]
pub struct Row<'a> {
    pub ext_id: &'a str,
    pub name: &'a str,
    pub host_machine_id: Option<u32>,
    pub image: Option<&'a str>,
    pub state: Option<&'a str>,
    pub health: Option<&'a str>,
    pub restart_count: Option<u32>,
    pub interval_ms: Option<u32>,
    pub first_seen: NaiveDateTime,
    pub last_seen: NaiveDateTime,
}

/// Ids of the machines of one batch.
#[derive(Debug, Default)]
pub struct Resolved<'a> {
    pub ids: HashMap<&'a str, u32>,
    /// Found or created in this transaction: cache them once it commits.
    pub to_cache: Vec<(Kind, String, u32)>,
    /// Did not exist before this transaction.
    pub created: HashSet<&'a str>,
}

/// Makes sure every row's machine exists and returns the ids.
pub async fn ensure<'a>(
    conn: &mut MySqlConnection,
    cache: &Cache,
    kind: Kind,
    rows: &[Row<'a>],
) -> Result<Resolved<'a>, sqlx::Error> {
    let mut out = Resolved::default();
    let mut missing: Vec<&Row<'a>> = Vec::new();
    for row in rows {
        match cache.get(kind, row.ext_id) {
            Some(id) => {
                out.ids.insert(row.ext_id, id);
            }
            None => missing.push(row),
        }
    }
    if missing.is_empty() {
        return Ok(out);
    }
    let found = select_ids(conn, kind, missing.iter().map(|r| r.ext_id)).await?;
    let to_create: Vec<&Row<'a>> = missing
        .iter()
        .copied()
        .filter(|r| !found.contains_key(r.ext_id))
        .collect();
    for chunk in to_create.chunks(CHUNK) {
        insert(conn, kind, chunk).await?;
    }
    let created = select_ids(conn, kind, to_create.iter().map(|r| r.ext_id)).await?;
    for row in missing {
        let id = match found.get(row.ext_id).or_else(|| created.get(row.ext_id)) {
            Some(id) => *id,
            None => return Err(sqlx::Error::RowNotFound),
        };
        if created.contains_key(row.ext_id) {
            out.created.insert(row.ext_id);
        }
        out.ids.insert(row.ext_id, id);
        out.to_cache.push((kind, row.ext_id.to_owned(), id));
    }
    Ok(out)
}

async fn select_ids<'e>(
    conn: &mut MySqlConnection,
    kind: Kind,
    ext_ids: impl Iterator<Item = &'e str>,
) -> Result<HashMap<String, u32>, sqlx::Error> {
    let ext_ids: Vec<&str> = ext_ids.collect();
    let mut out = HashMap::with_capacity(ext_ids.len());
    for chunk in ext_ids.chunks(CHUNK) {
        let mut q = QueryBuilder::<MySql>::new("SELECT id, ext_id FROM machines WHERE kind = ");
        q.push_bind(kind.as_str()).push(" AND ext_id IN (");
        let mut list = q.separated(", ");
        for ext in chunk {
            list.push_bind(*ext);
        }
        q.push(")");
        for row in q.build().persistent(false).fetch_all(&mut *conn).await? {
            out.insert(text(&row, "ext_id")?, row.try_get::<u32, _>("id")?);
        }
    }
    Ok(out)
}

async fn insert(conn: &mut MySqlConnection, kind: Kind, rows: &[&Row<'_>]) -> Result<(), sqlx::Error> {
    let mut q = QueryBuilder::<MySql>::new(
        "INSERT INTO machines (kind, ext_id, name, host_machine_id, image, state, health, restart_count, \
         interval_ms, first_seen, last_seen) ",
    );
    q.push_values(rows, |mut b, r| {
        b.push_bind(kind.as_str())
            .push_bind(r.ext_id)
            .push_bind(r.name)
            .push_bind(r.host_machine_id)
            .push_bind(r.image)
            .push_bind(r.state)
            .push_bind(r.health)
            .push_bind(r.restart_count)
            .push_bind(r.interval_ms)
            .push_bind(r.first_seen)
            .push_bind(r.last_seen);
    });
    // a concurrent batch may have created it meanwhile: keep that row
    q.push(" ON DUPLICATE KEY UPDATE id = id");
    q.build().persistent(false).execute(&mut *conn).await?;
    Ok(())
}

/// Widens first/last seen and, where the batch is not older than what is stored, replaces the
/// descriptive fields. One statement per chunk: `UPDATE machines JOIN (SELECT ... UNION ALL ...)`.
///
/// `v.last_seen >= m.last_seen` is true before and after `m.last_seen` is raised to
/// `GREATEST(m.last_seen, v.last_seen)`, so the result does not depend on the order in which
/// MySQL applies the assignments of a multi-table UPDATE.
pub async fn update_latest(conn: &mut MySqlConnection, rows: &[(u32, Row<'_>)]) -> Result<(), sqlx::Error> {
    for chunk in rows.chunks(CHUNK) {
        let mut q = QueryBuilder::<MySql>::new("UPDATE machines m JOIN (");
        for (i, (id, r)) in chunk.iter().enumerate() {
            if i == 0 {
                // the first SELECT fixes the derived table's column types
                q.push("SELECT CAST(").push_bind(*id).push(" AS UNSIGNED) AS id, CAST(");
                q.push_bind(r.name).push(" AS CHAR(255)) AS name, CAST(");
                q.push_bind(r.host_machine_id)
                    .push(" AS UNSIGNED) AS host_machine_id, CAST(");
                q.push_bind(r.image).push(" AS CHAR(255)) AS image, CAST(");
                q.push_bind(r.state).push(" AS CHAR(32)) AS state, CAST(");
                q.push_bind(r.health).push(" AS CHAR(32)) AS health, CAST(");
                q.push_bind(r.restart_count)
                    .push(" AS UNSIGNED) AS restart_count, CAST(");
                q.push_bind(r.interval_ms).push(" AS UNSIGNED) AS interval_ms, CAST(");
                q.push_bind(r.first_seen).push(" AS DATETIME(3)) AS first_seen, CAST(");
                q.push_bind(r.last_seen).push(" AS DATETIME(3)) AS last_seen");
            } else {
                q.push(" UNION ALL SELECT ");
                let mut v = q.separated(", ");
                v.push_bind(*id)
                    .push_bind(r.name)
                    .push_bind(r.host_machine_id)
                    .push_bind(r.image)
                    .push_bind(r.state)
                    .push_bind(r.health)
                    .push_bind(r.restart_count)
                    .push_bind(r.interval_ms)
                    .push_bind(r.first_seen)
                    .push_bind(r.last_seen);
            }
        }
        q.push(
            ") v ON m.id = v.id SET \
             m.name = IF(v.last_seen >= m.last_seen AND v.name <> '', v.name, m.name), \
             m.host_machine_id = IF(v.last_seen >= m.last_seen, v.host_machine_id, m.host_machine_id), \
             m.image = IF(v.last_seen >= m.last_seen, v.image, m.image), \
             m.state = IF(v.last_seen >= m.last_seen, v.state, m.state), \
             m.health = IF(v.last_seen >= m.last_seen, v.health, m.health), \
             m.restart_count = IF(v.last_seen >= m.last_seen, v.restart_count, m.restart_count), \
             m.interval_ms = IF(v.last_seen >= m.last_seen, v.interval_ms, m.interval_ms), \
             m.first_seen = LEAST(m.first_seen, v.first_seen), \
             m.last_seen = GREATEST(m.last_seen, v.last_seen)",
        );
        q.build().persistent(false).execute(&mut *conn).await?;
    }
    Ok(())
}

/// A container created in this batch: link it to the container that ran under the same name on
/// the same host before it.
pub struct NewContainer<'a> {
    pub id: u32,
    pub host_machine_id: u32,
    pub name: &'a str,
    pub first_seen: NaiveDateTime,
}

/// Sets `predecessor_id` of each new container to the latest earlier container with the same
/// host and name (re-created containers get a new id; the name is what operators know them by).
pub async fn link_predecessors(conn: &mut MySqlConnection, new: &[NewContainer<'_>]) -> Result<(), sqlx::Error> {
    for c in new.iter().filter(|c| !c.name.is_empty()) {
        let predecessor: Option<u32> = sqlx::query_scalar(
            "SELECT id FROM machines WHERE kind = 'container' AND host_machine_id = ? AND name = ? \
             AND id <> ? AND first_seen < ? ORDER BY first_seen DESC, id DESC LIMIT 1",
        )
        .bind(c.host_machine_id)
        .bind(c.name)
        .bind(c.id)
        .bind(c.first_seen)
        .fetch_optional(&mut *conn)
        .await?;
        if let Some(p) = predecessor {
            sqlx::query("UPDATE machines SET predecessor_id = ? WHERE id = ? AND predecessor_id IS NULL")
                .bind(p)
                .bind(c.id)
                .execute(&mut *conn)
                .await?;
        }
    }
    Ok(())
}

/// Marks containers removed (the earliest removal time wins).
pub async fn mark_removed(conn: &mut MySqlConnection, removed: &[(u32, NaiveDateTime)]) -> Result<(), sqlx::Error> {
    for (id, at) in removed {
        sqlx::query("UPDATE machines SET removed_at = LEAST(COALESCE(removed_at, ?), ?) WHERE id = ?")
            .bind(*at)
            .bind(*at)
            .bind(*id)
            .execute(&mut *conn)
            .await?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(s: i64) -> NaiveDateTime {
        chrono::DateTime::from_timestamp(1_800_000_000 + s, 0)
            .unwrap()
            .naive_utc()
    }

    fn row(state: &'static str, first: i64, last: i64) -> Row<'static> {
        Row {
            ext_id: "c1",
            name: "web",
            host_machine_id: Some(1),
            image: Some("nginx"),
            state: Some(state),
            health: None,
            restart_count: Some(0),
            interval_ms: Some(1000),
            first_seen: t(first),
            last_seen: t(last),
        }
    }

    #[test]
    fn the_generation_moves_on_a_change_of_the_inventory_not_on_a_newer_sample() {
        let cache = Cache::default();
        cache.remember(
            vec![(Kind::Container, "c1".into(), 7)],
            vec![(7, Written::of(&row("running", 0, 0)))],
        );
        let g = cache.generation();
        // a later batch refreshing last_seen only (its first sample is later too)
        cache.remember(Vec::new(), vec![(7, Written::of(&row("running", 60, 61)))]);
        assert_eq!(cache.generation(), g, "a last_seen refresh is not a change");
        cache.remember(Vec::new(), vec![(7, Written::of(&row("exited", 62, 62)))]);
        assert!(cache.generation() > g, "a new state is");
        let g = cache.generation();
        cache.remember(Vec::new(), vec![(7, Written::of(&row("exited", -10, 63)))]);
        assert!(cache.generation() > g, "an earlier first sample is");
    }
}
