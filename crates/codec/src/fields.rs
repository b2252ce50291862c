//! Which fields are stored, in which order, at which precision: the host's scalar fields, its
//! list fields (per-core values, interfaces, filesystems, temperature sensors) and a container's
//! fields. Each field is one column.

use std::collections::BTreeMap;

use common::wire::{Filesystem, HostSample, Interface};

use crate::bytes::{Reader, Writer};
use crate::column;
use crate::family::{self, Family};
use crate::{Container, Error};

/// Steps per unit of each kind of float field (100: kept to 0.01).
pub mod precision {
    /// CPU and memory percentages, per-core values, load averages, filesystem percentages.
    pub const PERCENT: f64 = 100.0;
    /// Temperatures (°C).
    pub const CELSIUS: f64 = 10.0;
    /// Byte rates (bytes per second): exact to the byte.
    pub const BYTES_PER_SEC: f64 = 1.0;

    /// `v` as stored at `scale` steps per unit (rounded to the nearest step).
    pub fn round(v: f64, scale: f64) -> f64 {
        (v * scale).round() / scale
    }
}
use precision::{BYTES_PER_SEC, CELSIUS, PERCENT};

/// A float field: read, write, steps per unit.
struct FloatField<T> {
    get: fn(&T) -> Option<f64>,
    set: fn(&mut T, Option<f64>),
    scale: f64,
}

/// An integer field.
struct IntField<T> {
    get: fn(&T) -> Option<u64>,
    set: fn(&mut T, Option<u64>),
}

macro_rules! float {
    ($t:ty, $f:ident, $scale:expr) => {
        FloatField::<$t> {
            get: |x| x.$f,
            set: |x, v| x.$f = v,
            scale: $scale,
        }
    };
}

macro_rules! int {
    ($t:ty, $f:ident) => {
        IntField::<$t> {
            get: |x| x.$f,
            set: |x, v| x.$f = v,
        }
    };
}

const HOST_FLOATS: [FloatField<HostSample>; 9] = [
    float!(HostSample, cpu_percent, PERCENT),
    float!(HostSample, load1, PERCENT),
    float!(HostSample, load5, PERCENT),
    float!(HostSample, load15, PERCENT),
    float!(HostSample, mem_percent, PERCENT),
    float!(HostSample, disk_read_bytes_per_sec, BYTES_PER_SEC),
    float!(HostSample, disk_write_bytes_per_sec, BYTES_PER_SEC),
    float!(HostSample, net_rx_bytes_per_sec, BYTES_PER_SEC),
    float!(HostSample, net_tx_bytes_per_sec, BYTES_PER_SEC),
];

const HOST_INTS: [IntField<HostSample>; 6] = [
    IntField {
        get: |h| h.cpu_cores.map(u64::from),
        // a count beyond u32 cannot have been written
        set: |h, v| h.cpu_cores = v.map(|v| u32::try_from(v).unwrap_or(u32::MAX)),
    },
    int!(HostSample, mem_total_bytes),
    int!(HostSample, mem_used_bytes),
    int!(HostSample, swap_total_bytes),
    int!(HostSample, swap_used_bytes),
    int!(HostSample, uptime_secs),
];

const NIC_FLOATS: [FloatField<Interface>; 2] = [
    float!(Interface, rx_bytes_per_sec, BYTES_PER_SEC),
    float!(Interface, tx_bytes_per_sec, BYTES_PER_SEC),
];
const NIC_INTS: [IntField<Interface>; 2] = [int!(Interface, rx_errors), int!(Interface, tx_errors)];

const FS_FLOATS: [FloatField<Filesystem>; 2] = [
    float!(Filesystem, used_percent, PERCENT),
    float!(Filesystem, inodes_used_percent, PERCENT),
];
const FS_INTS: [IntField<Filesystem>; 2] = [int!(Filesystem, total_bytes), int!(Filesystem, used_bytes)];

const CONTAINER_FLOATS: [FloatField<Container>; 6] = [
    float!(Container, cpu_percent, PERCENT),
    float!(Container, mem_percent, PERCENT),
    float!(Container, net_rx_bytes_per_sec, BYTES_PER_SEC),
    float!(Container, net_tx_bytes_per_sec, BYTES_PER_SEC),
    float!(Container, blk_read_bytes_per_sec, BYTES_PER_SEC),
    float!(Container, blk_write_bytes_per_sec, BYTES_PER_SEC),
];
const CONTAINER_INTS: [IntField<Container>; 4] = [
    int!(Container, restart_count),
    int!(Container, mem_used_bytes),
    int!(Container, mem_limit_bytes),
    int!(Container, pids),
];

/// Writes the columns of `floats` and `ints` over `items`.
fn put_columns<T>(w: &mut Writer, items: &[&T], floats: &[FloatField<T>], ints: &[IntField<T>]) {
    for f in floats {
        column::put_floats(w, &items.iter().map(|x| (f.get)(x)).collect::<Vec<_>>(), f.scale);
    }
    for f in ints {
        column::put_ints(w, &items.iter().map(|x| (f.get)(x)).collect::<Vec<_>>());
    }
}

/// Reads the columns [`put_columns`] wrote into `items`.
fn get_columns<T>(
    r: &mut Reader<'_>,
    items: &mut [&mut T],
    floats: &[FloatField<T>],
    ints: &[IntField<T>],
) -> Result<(), Error> {
    let n = items.len();
    for f in floats {
        for (x, v) in items.iter_mut().zip(column::get_floats(r, n, f.scale)?) {
            (f.set)(x, v);
        }
    }
    for f in ints {
        for (x, v) in items.iter_mut().zip(column::get_ints(r, n)?) {
            (f.set)(x, v);
        }
    }
    Ok(())
}

/// Steps over the columns [`put_columns`] wrote for `n` items.
fn skip_columns<T>(r: &mut Reader<'_>, n: usize, floats: &[FloatField<T>], ints: &[IntField<T>]) -> Result<(), Error> {
    for _ in floats {
        column::skip_floats(r, n)?;
    }
    for _ in ints {
        column::skip_ints(r, n)?;
    }
    Ok(())
}

/// Available memory as collectors compute it: total − used (so it need not be stored when
/// every sample agrees).
fn total_minus_used(h: &HostSample) -> Option<u64> {
    h.mem_total_bytes?.checked_sub(h.mem_used_bytes?)
}

const DERIVED: u8 = 1;
const STORED: u8 = 0;

pub fn put_host(w: &mut Writer, hosts: &[&HostSample]) {
    put_columns(w, hosts, &HOST_FLOATS, &HOST_INTS);
    if hosts.iter().all(|h| h.mem_available_bytes == total_minus_used(h)) {
        w.u8(DERIVED);
    } else {
        w.u8(STORED);
        column::put_ints(w, &hosts.iter().map(|h| h.mem_available_bytes).collect::<Vec<_>>());
    }
}

pub fn get_host(r: &mut Reader<'_>, hosts: &mut [&mut HostSample]) -> Result<(), Error> {
    get_columns(r, hosts, &HOST_FLOATS, &HOST_INTS)?;
    match r.u8()? {
        DERIVED => hosts
            .iter_mut()
            .for_each(|h| h.mem_available_bytes = total_minus_used(h)),
        STORED => {
            let n = hosts.len();
            for (h, v) in hosts.iter_mut().zip(column::get_ints(r, n)?) {
                h.mem_available_bytes = v;
            }
        }
        _ => return Err(Error::Malformed("unknown available-memory mode")),
    }
    Ok(())
}

/// Steps over what [`put_host`] wrote for `n` hosts.
pub fn skip_host(r: &mut Reader<'_>, n: usize) -> Result<(), Error> {
    skip_columns(r, n, &HOST_FLOATS, &HOST_INTS)?;
    match r.u8()? {
        DERIVED => Ok(()),
        STORED => column::skip_ints(r, n),
        _ => Err(Error::Malformed("unknown available-memory mode")),
    }
}

pub fn put_container(w: &mut Writer, cs: &[&Container]) {
    put_columns(w, cs, &CONTAINER_FLOATS, &CONTAINER_INTS);
}

pub fn get_container(r: &mut Reader<'_>, cs: &mut [&mut Container]) -> Result<(), Error> {
    get_columns(r, cs, &CONTAINER_FLOATS, &CONTAINER_INTS)
}

/// Steps over what [`put_container`] wrote for `n` entries.
pub fn skip_container(r: &mut Reader<'_>, n: usize) -> Result<(), Error> {
    skip_columns(r, n, &CONTAINER_FLOATS, &CONTAINER_INTS)
}

/// The identity of a filesystem entry.
type FsKey = (String, String, String);

fn fs_key(f: &Filesystem) -> FsKey {
    (f.mount.clone(), f.device.clone(), f.fs_type.clone())
}

/// Writes the list fields: per-core values, interfaces, filesystems, temperatures.
pub fn put_lists(w: &mut Writer, hosts: &[&HostSample]) {
    // per core: key = the core's index
    let cores: Vec<Vec<u32>> = hosts
        .iter()
        .map(|h| (0..h.per_core_percent.len() as u32).collect())
        .collect();
    let fam: Family<u32> = Family::build(cores.iter().map(|c| Some(c.iter())));
    fam.put(w, |w, k| w.uvar(u64::from(*k)));
    for entries in fam.entries() {
        let v: Vec<Option<f64>> = entries
            .iter()
            .map(|(i, p)| Some(hosts[*i].per_core_percent[*p]))
            .collect();
        column::put_floats(w, &v, PERCENT);
    }

    let names: Vec<Vec<String>> = hosts
        .iter()
        .map(|h| h.interfaces.iter().map(|n| n.name.clone()).collect())
        .collect();
    let fam: Family<String> = Family::build(names.iter().map(|n| Some(n.iter())));
    fam.put(w, |w, k| w.str(k));
    for entries in fam.entries() {
        let nics: Vec<&Interface> = entries.iter().map(|(i, p)| &hosts[*i].interfaces[*p]).collect();
        put_columns(w, &nics, &NIC_FLOATS, &NIC_INTS);
    }

    let keys: Vec<Vec<FsKey>> = hosts
        .iter()
        .map(|h| h.filesystems.iter().map(fs_key).collect())
        .collect();
    let fam: Family<FsKey> = Family::build(keys.iter().map(|k| Some(k.iter())));
    fam.put(w, |w, (m, d, t)| {
        w.str(m);
        w.str(d);
        w.str(t);
    });
    for entries in fam.entries() {
        let fss: Vec<&Filesystem> = entries.iter().map(|(i, p)| &hosts[*i].filesystems[*p]).collect();
        put_columns(w, &fss, &FS_FLOATS, &FS_INTS);
    }

    let sensors: Vec<Option<Vec<String>>> = hosts
        .iter()
        .map(|h| h.temperatures_c.as_ref().map(|t| t.keys().cloned().collect()))
        .collect();
    let fam: Family<String> = Family::build(sensors.iter().map(|s| s.as_ref().map(|s| s.iter())));
    fam.put(w, |w, k| w.str(k));
    for (entries, name) in fam.entries().iter().zip(&fam.keys) {
        let v: Vec<Option<f64>> = entries
            .iter()
            .map(|(i, _)| hosts[*i].temperatures_c.as_ref().and_then(|t| t.get(name).copied()))
            .collect();
        column::put_floats(w, &v, CELSIUS);
    }
}

/// Steps over the list fields [`put_lists`] wrote for `n` hosts.
pub fn skip_lists(r: &mut Reader<'_>, n: usize, limit: usize) -> Result<(), Error> {
    // every listed core and sensor has a value (as get_lists requires)
    let all = |present: usize, count: usize, what| {
        if present == count {
            Ok(())
        } else {
            Err(Error::Malformed(what))
        }
    };
    for count in family::skip(r, n, limit, |r| r.uvar().map(drop))? {
        all(column::skip_floats(r, count)?, count, "per-core value missing")?;
    }
    for count in family::skip(r, n, limit, |r| r.skip_str())? {
        skip_columns(r, count, &NIC_FLOATS, &NIC_INTS)?;
    }
    let fs_key = |r: &mut Reader<'_>| {
        r.skip_str()?;
        r.skip_str()?;
        r.skip_str()
    };
    for count in family::skip(r, n, limit, fs_key)? {
        skip_columns(r, count, &FS_FLOATS, &FS_INTS)?;
    }
    for count in family::skip(r, n, limit, |r| r.skip_str())? {
        all(column::skip_floats(r, count)?, count, "temperature missing")?;
    }
    Ok(())
}

/// Reads the list fields [`put_lists`] wrote.
pub fn get_lists(r: &mut Reader<'_>, hosts: &mut [&mut HostSample], limit: usize) -> Result<(), Error> {
    let n = hosts.len();
    let fam: Family<u32> = Family::get(r, n, limit, |r| Ok(r.uvar()? as u32))?;
    for (h, l) in hosts.iter_mut().zip(&fam.layouts) {
        h.per_core_percent = vec![0.0; l.as_ref().map_or(0, Vec::len)];
    }
    for entries in fam.entries() {
        for ((i, p), v) in entries.iter().zip(column::get_floats(r, entries.len(), PERCENT)?) {
            hosts[*i].per_core_percent[*p] = v.ok_or(Error::Malformed("per-core value missing"))?;
        }
    }

    let fam: Family<String> = Family::get(r, n, limit, |r| r.str())?;
    for (h, l) in hosts.iter_mut().zip(&fam.layouts) {
        h.interfaces = l
            .iter()
            .flatten()
            .map(|k| Interface {
                name: fam.keys[*k as usize].clone(),
                ..Interface::default()
            })
            .collect();
    }
    for entries in fam.entries() {
        let mut nics: Vec<Interface> = vec![Interface::default(); entries.len()];
        get_columns(r, &mut nics.iter_mut().collect::<Vec<_>>(), &NIC_FLOATS, &NIC_INTS)?;
        for ((i, p), nic) in entries.iter().zip(nics) {
            let slot = &mut hosts[*i].interfaces[*p];
            *slot = Interface {
                name: std::mem::take(&mut slot.name),
                ..nic
            };
        }
    }

    let fam: Family<FsKey> = Family::get(r, n, limit, |r| Ok((r.str()?, r.str()?, r.str()?)))?;
    for (h, l) in hosts.iter_mut().zip(&fam.layouts) {
        h.filesystems = l
            .iter()
            .flatten()
            .map(|k| {
                let (mount, device, fs_type) = fam.keys[*k as usize].clone();
                Filesystem {
                    mount,
                    device,
                    fs_type,
                    ..Filesystem::default()
                }
            })
            .collect();
    }
    for entries in fam.entries() {
        let mut fss: Vec<Filesystem> = vec![Filesystem::default(); entries.len()];
        get_columns(r, &mut fss.iter_mut().collect::<Vec<_>>(), &FS_FLOATS, &FS_INTS)?;
        for ((i, p), fs) in entries.iter().zip(fss) {
            let slot = &mut hosts[*i].filesystems[*p];
            slot.total_bytes = fs.total_bytes;
            slot.used_bytes = fs.used_bytes;
            slot.used_percent = fs.used_percent;
            slot.inodes_used_percent = fs.inodes_used_percent;
        }
    }

    let fam: Family<String> = Family::get(r, n, limit, |r| r.str())?;
    for (h, l) in hosts.iter_mut().zip(&fam.layouts) {
        h.temperatures_c = l.as_ref().map(|_| BTreeMap::new());
    }
    for (entries, name) in fam.entries().iter().zip(&fam.keys) {
        for ((i, _), v) in entries.iter().zip(column::get_floats(r, entries.len(), CELSIUS)?) {
            let v = v.ok_or(Error::Malformed("temperature missing"))?;
            if let Some(t) = hosts[*i].temperatures_c.as_mut() {
                t.insert(name.clone(), v);
            }
        }
    }
    Ok(())
}
