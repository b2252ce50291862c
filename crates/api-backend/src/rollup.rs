//! Rollups: per machine and time bucket (a minute, an hour, or any step a query asks for), per
//! metric the min, max, average, the value in the bucket's latest sample (`last`), and the count
//! of samples that measured it. Pure: samples in, buckets out; buckets merge exactly, so late
//! and repeated data can be folded in later (min/max/count exactly, the average as a weighted
//! mean).

use std::collections::BTreeMap;

use chrono::{DateTime, TimeDelta, Utc};
use codec::{Container, Sample};
use common::wire::HostSample;

use crate::store::Kind;

/// A rolled-up metric: its name (the §2 field name, or a derived one) and how to read it.
pub struct Metric<T> {
    pub name: &'static str,
    pub get: fn(&T) -> Option<f64>,
}

/// The host metrics kept in rollups; `temperature_c` (hottest sensor) and `fs_used_percent`
/// (fullest filesystem) are derived from the list fields.
pub const HOST_METRICS: [Metric<HostSample>; 14] = [
    Metric {
        name: "cpu_percent",
        get: |h| h.cpu_percent,
    },
    Metric {
        name: "load1",
        get: |h| h.load1,
    },
    Metric {
        name: "load5",
        get: |h| h.load5,
    },
    Metric {
        name: "load15",
        get: |h| h.load15,
    },
    Metric {
        name: "mem_used_bytes",
        get: |h| h.mem_used_bytes.map(|v| v as f64),
    },
    Metric {
        name: "mem_available_bytes",
        get: |h| h.mem_available_bytes.map(|v| v as f64),
    },
    Metric {
        name: "mem_percent",
        get: |h| h.mem_percent,
    },
    Metric {
        name: "swap_used_bytes",
        get: |h| h.swap_used_bytes.map(|v| v as f64),
    },
    Metric {
        name: "disk_read_bytes_per_sec",
        get: |h| h.disk_read_bytes_per_sec,
    },
    Metric {
        name: "disk_write_bytes_per_sec",
        get: |h| h.disk_write_bytes_per_sec,
    },
    Metric {
        name: "net_rx_bytes_per_sec",
        get: |h| h.net_rx_bytes_per_sec,
    },
    Metric {
        name: "net_tx_bytes_per_sec",
        get: |h| h.net_tx_bytes_per_sec,
    },
    Metric {
        name: "temperature_c",
        get: |h| h.temperatures_c.as_ref()?.values().copied().reduce(f64::max),
    },
    Metric {
        name: "fs_used_percent",
        get: |h| h.filesystems.iter().filter_map(|f| f.used_percent).reduce(f64::max),
    },
];

/// The container metrics kept in rollups.
pub const CONTAINER_METRICS: [Metric<Container>; 8] = [
    Metric {
        name: "cpu_percent",
        get: |c| c.cpu_percent,
    },
    Metric {
        name: "mem_used_bytes",
        get: |c| c.mem_used_bytes.map(|v| v as f64),
    },
    Metric {
        name: "mem_percent",
        get: |c| c.mem_percent,
    },
    Metric {
        name: "net_rx_bytes_per_sec",
        get: |c| c.net_rx_bytes_per_sec,
    },
    Metric {
        name: "net_tx_bytes_per_sec",
        get: |c| c.net_tx_bytes_per_sec,
    },
    Metric {
        name: "blk_read_bytes_per_sec",
        get: |c| c.blk_read_bytes_per_sec,
    },
    Metric {
        name: "blk_write_bytes_per_sec",
        get: |c| c.blk_write_bytes_per_sec,
    },
    Metric {
        name: "pids",
        get: |c| c.pids.map(|v| v as f64),
    },
];

/// The metric names of a kind of machine, in column order.
pub fn metric_names(kind: Kind) -> Vec<&'static str> {
    match kind {
        Kind::Host => HOST_METRICS.iter().map(|m| m.name).collect(),
        Kind::Container => CONTAINER_METRICS.iter().map(|m| m.name).collect(),
    }
}

/// Min, max, sum and count of one metric's values in a bucket.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Stat {
    pub min: f64,
    pub max: f64,
    pub sum: f64,
    pub n: u32,
}

impl Stat {
    fn of(v: f64) -> Self {
        Stat {
            min: v,
            max: v,
            sum: v,
            n: 1,
        }
    }

    fn merge(&mut self, o: &Stat) {
        self.min = self.min.min(o.min);
        self.max = self.max.max(o.max);
        self.sum += o.sum;
        self.n = self.n.saturating_add(o.n);
    }

    pub fn avg(&self) -> f64 {
        self.sum / f64::from(self.n.max(1))
    }
}

/// One machine's bucket: per metric (in the kind's column order) its stat, and the values of
/// the bucket's latest sample.
#[derive(Debug, Clone, PartialEq)]
pub struct Bucket {
    pub start: DateTime<Utc>,
    /// Time of the latest sample folded in.
    pub last_at: DateTime<Utc>,
    pub stats: Vec<Option<Stat>>,
    pub last: Vec<Option<f64>>,
}

impl Bucket {
    fn new(start: DateTime<Utc>, at: DateTime<Utc>, values: &[Option<f64>]) -> Self {
        Bucket {
            start,
            last_at: at,
            stats: values.iter().map(|v| v.map(Stat::of)).collect(),
            last: values.to_vec(),
        }
    }

    /// Folds `other` (same machine, same kind) in.
    pub fn merge(&mut self, other: &Bucket) {
        for (a, b) in self.stats.iter_mut().zip(&other.stats) {
            match (a.as_mut(), b) {
                (Some(a), Some(b)) => a.merge(b),
                (None, Some(b)) => *a = Some(*b),
                (_, None) => {}
            }
        }
        if other.last_at > self.last_at {
            self.last_at = other.last_at;
            self.last.clone_from(&other.last);
        }
        self.start = self.start.min(other.start);
    }
}

/// A rollup row's identity, ordered as rows are written (time first, so inserts append): the
/// kind, the bucket start, the host whose records carried the samples (the machine itself for
/// a host), the machine.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Key {
    pub kind: Kind,
    pub start: DateTime<Utc>,
    pub host: u32,
    pub machine: u32,
}

/// The start of the bucket of `width` that `t` falls in (buckets are aligned to the epoch).
pub fn bucket_start(t: DateTime<Utc>, width: TimeDelta) -> DateTime<Utc> {
    let w = width.num_milliseconds().max(1);
    let ms = t.timestamp_millis();
    DateTime::from_timestamp_millis(ms - ms.rem_euclid(w)).unwrap_or(t)
}

/// Which machines of a host's samples [`aggregate`] folds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Machines {
    /// The host and every container (compaction).
    All,
    /// One machine (a query).
    One(Kind, u32),
}

impl Machines {
    fn takes(self, kind: Kind, machine: u32) -> bool {
        match self {
            Machines::All => true,
            Machines::One(k, m) => k == kind && m == machine,
        }
    }
}

/// Folds the samples of one host (its own values and its containers', as `which` says) into
/// buckets of `width`.
pub fn aggregate<'a>(
    host: u32,
    samples: impl IntoIterator<Item = &'a Sample>,
    width: TimeDelta,
    which: Machines,
    into: &mut BTreeMap<Key, Bucket>,
) {
    let host_too = which.takes(Kind::Host, host);
    let containers_too = which != Machines::One(Kind::Host, host);
    for s in samples {
        let start = bucket_start(s.at, width);
        let key = |kind, machine| Key {
            kind,
            start,
            host,
            machine,
        };
        if host_too {
            let values: Vec<Option<f64>> = HOST_METRICS.iter().map(|m| (m.get)(&s.host)).collect();
            fold(into, key(Kind::Host, host), s.at, &values);
        }
        if !containers_too {
            continue;
        }
        for c in s.containers.iter().filter(|c| which.takes(Kind::Container, c.machine)) {
            let values: Vec<Option<f64>> = CONTAINER_METRICS.iter().map(|m| (m.get)(c)).collect();
            fold(into, key(Kind::Container, c.machine), s.at, &values);
        }
    }
}

fn fold(into: &mut BTreeMap<Key, Bucket>, key: Key, at: DateTime<Utc>, values: &[Option<f64>]) {
    let one = Bucket::new(key.start, at, values);
    match into.get_mut(&key) {
        Some(b) => b.merge(&one),
        None => {
            into.insert(key, one);
        }
    }
}

/// Combines consecutive buckets into buckets of `width` (a multiple of theirs), oldest first.
pub fn coarsen(buckets: Vec<Bucket>, width: TimeDelta) -> Vec<Bucket> {
    let mut out: Vec<Bucket> = Vec::new();
    for mut b in buckets {
        b.start = bucket_start(b.start, width);
        match out.last_mut() {
            Some(last) if last.start == b.start => last.merge(&b),
            _ => out.push(b),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(s: i64) -> DateTime<Utc> {
        DateTime::from_timestamp(1_800_000_000 + s, 0).unwrap()
    }

    fn sample(at: i64, cpu: Option<f64>, containers: Vec<(u32, Option<f64>)>) -> Sample {
        Sample {
            at: t(at),
            host: HostSample {
                cpu_percent: cpu,
                ..HostSample::default()
            },
            containers: containers
                .into_iter()
                .map(|(machine, cpu_percent)| Container {
                    machine,
                    state: "running".into(),
                    cpu_percent,
                    ..Container::default()
                })
                .collect(),
        }
    }

    #[test]
    fn buckets_keep_min_max_avg_last_and_count_per_metric() {
        let mut out = BTreeMap::new();
        let samples = [
            sample(0, Some(10.0), vec![(7, Some(1.0))]),
            sample(1, None, vec![(7, Some(3.0))]),
            sample(2, Some(30.0), vec![]),
            sample(61, Some(5.0), vec![]),
        ];
        aggregate(1, &samples, TimeDelta::minutes(1), Machines::All, &mut out);
        let minute = bucket_start(t(0), TimeDelta::minutes(1));
        let key = |kind, machine| Key {
            kind,
            start: minute,
            host: 1,
            machine,
        };
        let host = &out[&key(Kind::Host, 1)];
        assert_eq!(
            host.stats[0],
            Some(Stat {
                min: 10.0,
                max: 30.0,
                sum: 40.0,
                n: 2
            })
        );
        assert_eq!(host.last[0], Some(30.0));
        assert_eq!(host.stats[1], None, "load1 was never measured");
        let c = &out[&key(Kind::Container, 7)];
        assert_eq!(c.stats[0].unwrap().avg(), 2.0);
        assert_eq!(c.last_at, t(1));
        assert_eq!(out.len(), 3, "the sample at 61 s starts the next minute");
    }

    #[test]
    fn merging_in_any_order_gives_the_same_bucket() {
        let samples: Vec<Sample> = (0..20)
            .map(|i| sample(i, (i % 3 != 0).then_some(i as f64), vec![(2, Some(0.5 * i as f64))]))
            .collect();
        let mut whole = BTreeMap::new();
        aggregate(1, &samples, TimeDelta::hours(1), Machines::All, &mut whole);
        let mut parts = BTreeMap::new();
        aggregate(1, samples[10..].iter(), TimeDelta::hours(1), Machines::All, &mut parts);
        let mut early = BTreeMap::new();
        aggregate(
            1,
            samples[..10].iter().rev(),
            TimeDelta::hours(1),
            Machines::All,
            &mut early,
        );
        for (k, b) in early {
            parts.get_mut(&k).unwrap().merge(&b);
        }
        assert_eq!(whole, parts);
    }

    #[test]
    fn the_last_value_is_the_latest_samples_even_when_it_did_not_measure() {
        let mut out = BTreeMap::new();
        aggregate(
            1,
            &[sample(0, Some(1.0), vec![]), sample(5, None, vec![])],
            TimeDelta::minutes(1),
            Machines::All,
            &mut out,
        );
        let b = out.values().next().unwrap();
        assert_eq!(b.last[0], None);
        assert_eq!(b.stats[0].unwrap().n, 1);
    }

    #[test]
    fn one_machine_is_folded_alone() {
        let samples = [
            sample(0, Some(10.0), vec![(7, Some(1.0)), (8, Some(5.0))]),
            sample(1, Some(30.0), vec![(7, Some(3.0)), (8, Some(6.0))]),
        ];
        let mut all = BTreeMap::new();
        aggregate(1, &samples, TimeDelta::minutes(1), Machines::All, &mut all);
        for (kind, machine) in [(Kind::Host, 1), (Kind::Container, 7), (Kind::Container, 8)] {
            let mut one = BTreeMap::new();
            aggregate(
                1,
                &samples,
                TimeDelta::minutes(1),
                Machines::One(kind, machine),
                &mut one,
            );
            assert_eq!(one.len(), 1, "{kind:?} {machine}");
            let (k, b) = one.into_iter().next().unwrap();
            assert_eq!((k.kind, k.machine), (kind, machine));
            assert_eq!(&b, &all[&k]);
        }
    }

    #[test]
    fn coarsening_merges_consecutive_buckets() {
        let mut out = BTreeMap::new();
        let samples: Vec<Sample> = (0..600)
            .step_by(30)
            .map(|i| sample(i, Some(i as f64), vec![]))
            .collect();
        aggregate(1, &samples, TimeDelta::minutes(1), Machines::All, &mut out);
        let minutes: Vec<Bucket> = out.into_values().collect();
        assert_eq!(minutes.len(), 10);
        let five = coarsen(minutes, TimeDelta::minutes(5));
        assert_eq!(five.len(), 2);
        assert_eq!(five[0].stats[0].unwrap().n + five[1].stats[0].unwrap().n, 20);
    }
}
