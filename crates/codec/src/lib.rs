//! Compact encoding of one host's samples (the host and its containers) over a span of time:
//! the raw tier's storage form. Pure: bytes in, samples out.
//!
//! Layout: columnar. Sample times as deltas of deltas; every numeric field a column of its own
//! (per key for list fields: per core, interface, filesystem, sensor, container) with a presence
//! bitmap, so a value that was not measured stays distinct from 0; values as integers at the
//! precision their source has, stored constant, as deltas or as deltas of deltas; the whole body
//! then compressed with zstd. Precision per field ([`precision`]): percentages, CPU and load to
//! 0.01, temperatures to 0.1 °C, byte counts and byte rates exact to the byte, counts exact. A
//! value too large for its precision's integers is kept as its exact `f64` instead.

mod bytes;
mod column;
mod family;
mod fields;

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use common::wire::{ContainerSample, HostSample};

use bytes::{Reader, Writer};
use family::Family;

pub use fields::precision;

/// One stored sample of a host and of the containers its record listed.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Sample {
    /// Sample time, whole milliseconds.
    pub at: DateTime<Utc>,
    pub host: HostSample,
    pub containers: Vec<Container>,
}

/// One container in a sample, named by its machine id (the inventory keeps its Docker id,
/// name and image).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Container {
    pub machine: u32,
    pub state: String,
    pub health: Option<String>,
    pub restart_count: Option<u64>,
    pub cpu_percent: Option<f64>,
    pub mem_used_bytes: Option<u64>,
    pub mem_limit_bytes: Option<u64>,
    pub mem_percent: Option<f64>,
    pub net_rx_bytes_per_sec: Option<f64>,
    pub net_tx_bytes_per_sec: Option<f64>,
    pub blk_read_bytes_per_sec: Option<f64>,
    pub blk_write_bytes_per_sec: Option<f64>,
    pub pids: Option<u64>,
}

impl Container {
    /// The values of a record's container, under its machine id.
    pub fn from_wire(machine: u32, c: &ContainerSample) -> Self {
        Container {
            machine,
            state: c.state.clone(),
            health: c.health.clone(),
            restart_count: c.restart_count,
            cpu_percent: c.cpu_percent,
            mem_used_bytes: c.mem_used_bytes,
            mem_limit_bytes: c.mem_limit_bytes,
            mem_percent: c.mem_percent,
            net_rx_bytes_per_sec: c.net_rx_bytes_per_sec,
            net_tx_bytes_per_sec: c.net_tx_bytes_per_sec,
            blk_read_bytes_per_sec: c.blk_read_bytes_per_sec,
            blk_write_bytes_per_sec: c.blk_write_bytes_per_sec,
            pids: c.pids,
        }
    }
}

/// Why bytes could not be decoded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Error {
    #[error("the encoded samples end early")]
    Truncated,
    #[error("the encoded samples are malformed: {0}")]
    Malformed(&'static str),
    #[error("unknown encoding version {0}")]
    Version(u8),
    #[error("zstd: {0}")]
    Zstd(String),
}

/// The format version written first.
const VERSION: u8 = 1;
const PLAIN: u8 = 0;
const ZSTD: u8 = 1;
/// Bounds a decoder trusts (a corrupt count cannot make it allocate without bound). A chunk at
/// a 1 s tick holds 1,200 samples; 1,000,000 is a 20-minute window at 1.2 ms. One decode call
/// (all the frames of a chunk together) yields at most this many samples, about 420 MB of
/// [`Sample`]s: constant columns cost no bytes per sample, so a few damaged bytes can claim
/// that many, and no more (found by the `codec_frames` fuzz target: before the bound held per
/// call, each of many frames could claim it).
pub const MAX_SAMPLES: usize = 1_000_000;
pub(crate) const MAX_KEYS: usize = 1_000_000;
const MAX_BODY: usize = 256 << 20;

/// How hard to compress: `None` leaves the body plain (cheapest, for one record at a time),
/// `Some(level)` is a zstd level (1..=22).
pub type Level = Option<i32>;

/// Encodes `samples` in the order given.
pub fn encode(samples: &[Sample], level: Level) -> Vec<u8> {
    let body = body(samples);
    let mut out = Vec::with_capacity(body.len() / 3 + 8);
    out.push(VERSION);
    match level {
        None => {
            out.push(PLAIN);
            out.extend_from_slice(&body);
        }
        Some(level) => {
            out.push(ZSTD);
            out.extend(compress(&body, level));
        }
    }
    out
}

/// Encodes `samples` as one frame: [`encode`]'s bytes after their length (4 bytes, little
/// endian). Frames concatenate: appending a frame to stored bytes adds samples without
/// decoding the ones already there.
pub fn frame(samples: &[Sample], level: Level) -> Vec<u8> {
    let body = encode(samples, level);
    let mut out = Vec::with_capacity(body.len() + 4);
    out.extend_from_slice(&u32::try_from(body.len()).unwrap_or(u32::MAX).to_le_bytes());
    out.extend_from_slice(&body);
    out
}

/// What of each sample to decode.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Parts {
    /// The host and its containers.
    All,
    /// The host only (its containers are the last columns: left unread, `containers` empty).
    Host,
    /// One container (by machine id) only: the host's columns and the other containers' are
    /// stepped over, `host` is left empty and `containers` holds that container where a
    /// sample lists it.
    Container(u32),
}

/// Decodes concatenated frames (see [`frame`]), their samples one after the other.
pub fn decode_frames(bytes: &[u8]) -> Result<Vec<Sample>, Error> {
    decode_frames_of(bytes, Parts::All)
}

/// [`decode_frames`], of the `parts` asked for.
pub fn decode_frames_of(mut bytes: &[u8], parts: Parts) -> Result<Vec<Sample>, Error> {
    let mut out = Vec::new();
    while !bytes.is_empty() {
        let (len, rest) = bytes.split_first_chunk::<4>().ok_or(Error::Truncated)?;
        let len = u32::from_le_bytes(*len) as usize;
        let body = rest.get(..len).ok_or(Error::Truncated)?;
        out.extend(decode_of(body, parts, MAX_SAMPLES - out.len())?);
        bytes = &rest[len..];
    }
    Ok(out)
}

/// Decodes what [`encode`] wrote.
pub fn decode(bytes: &[u8]) -> Result<Vec<Sample>, Error> {
    decode_of(bytes, Parts::All, MAX_SAMPLES)
}

/// Decodes one body of at most `budget` samples.
fn decode_of(bytes: &[u8], parts: Parts, budget: usize) -> Result<Vec<Sample>, Error> {
    let (&version, rest) = bytes.split_first().ok_or(Error::Truncated)?;
    if version != VERSION {
        return Err(Error::Version(version));
    }
    let (&mode, rest) = rest.split_first().ok_or(Error::Truncated)?;
    match mode {
        PLAIN => read_body(rest, parts, budget),
        ZSTD => read_body(&decompress(rest)?, parts, budget),
        _ => Err(Error::Malformed("unknown compression")),
    }
}

thread_local! {
    // a zstd context per thread: making one costs more than compressing one record
    static COMPRESSOR: std::cell::RefCell<Option<zstd::bulk::Compressor<'static>>> = const { std::cell::RefCell::new(None) };
    static DECOMPRESSOR: std::cell::RefCell<Option<zstd::bulk::Decompressor<'static>>> = const { std::cell::RefCell::new(None) };
}

fn compress(body: &[u8], level: i32) -> Vec<u8> {
    COMPRESSOR.with(|c| {
        let mut c = c.borrow_mut();
        let zstd = match c.as_mut() {
            Some(z) => z,
            None => {
                let mut z = zstd::bulk::Compressor::new(level).expect("a zstd context");
                // a damaged frame fails its checksum instead of decoding to other samples
                z.include_checksum(true).expect("zstd takes a checksum flag");
                c.insert(z)
            }
        };
        zstd.set_compression_level(level).expect("a valid zstd level");
        // the frame records its content size, which decompress needs
        zstd.compress(body).expect("zstd compresses any input in memory")
    })
}

/// Decompresses one zstd frame whose header gives its size, at most [`MAX_BODY`] (damaged or
/// hostile bytes must not make the decoder allocate without bound).
fn decompress(frame: &[u8]) -> Result<Vec<u8>, Error> {
    let size = zstd::zstd_safe::get_frame_content_size(frame)
        .ok()
        .flatten()
        .ok_or(Error::Malformed("zstd frame without a content size"))?;
    let size = usize::try_from(size)
        .ok()
        .filter(|s| *s <= MAX_BODY)
        .ok_or(Error::Malformed("body too large"))?;
    DECOMPRESSOR.with(|d| {
        let mut d = d.borrow_mut();
        let zstd = match d.as_mut() {
            Some(z) => z,
            None => d.insert(zstd::bulk::Decompressor::new().map_err(|e| Error::Zstd(e.to_string()))?),
        };
        zstd.decompress(frame, size).map_err(|e| Error::Zstd(e.to_string()))
    })
}

fn body(samples: &[Sample]) -> Vec<u8> {
    let mut w = Writer::default();
    w.len(samples.len());
    column::put_stream(
        &mut w,
        &samples.iter().map(|s| s.at.timestamp_millis()).collect::<Vec<_>>(),
    );
    let hosts: Vec<&HostSample> = samples.iter().map(|s| &s.host).collect();
    fields::put_host(&mut w, &hosts);
    fields::put_lists(&mut w, &hosts);
    put_containers(&mut w, samples);
    w.buf
}

fn read_body(body: &[u8], parts: Parts, budget: usize) -> Result<Vec<Sample>, Error> {
    let mut r = Reader::new(body);
    let n = r.len(budget)?;
    let times = column::get_stream(&mut r, n)?;
    let mut samples = times
        .into_iter()
        .map(|ms| {
            Ok(Sample {
                at: DateTime::from_timestamp_millis(ms).ok_or(Error::Malformed("time out of range"))?,
                ..Sample::default()
            })
        })
        .collect::<Result<Vec<_>, Error>>()?;
    let only = match parts {
        Parts::Container(machine) => {
            fields::skip_host(&mut r, n)?;
            fields::skip_lists(&mut r, n, MAX_KEYS)?;
            Some(machine)
        }
        Parts::All | Parts::Host => {
            let mut hosts: Vec<&mut HostSample> = samples.iter_mut().map(|s| &mut s.host).collect();
            fields::get_host(&mut r, &mut hosts)?;
            fields::get_lists(&mut r, &mut hosts, MAX_KEYS)?;
            None
        }
    };
    if parts == Parts::Host {
        return Ok(samples);
    }
    get_containers(&mut r, &mut samples, only)?;
    if !r.is_done() {
        return Err(Error::Malformed("bytes after the last column"));
    }
    Ok(samples)
}

fn put_containers(w: &mut Writer, samples: &[Sample]) {
    let fam: Family<u32> = Family::build(samples.iter().map(|s| Some(s.containers.iter().map(|c| &c.machine))));
    fam.put(w, |w, k| w.uvar(u64::from(*k)));
    // Docker states and health values, once per chunk
    let mut words: BTreeMap<&str, u64> = BTreeMap::new();
    for c in samples.iter().flat_map(|s| &s.containers) {
        words.entry(&c.state).or_default();
        if let Some(h) = &c.health {
            words.entry(h).or_default();
        }
    }
    for (i, v) in words.values_mut().enumerate() {
        *v = i as u64;
    }
    w.len(words.len());
    words.keys().for_each(|s| w.str(s));
    for entries in fam.entries() {
        let cs: Vec<&Container> = entries.iter().map(|(i, p)| &samples[*i].containers[*p]).collect();
        column::put_ints(w, &cs.iter().map(|c| Some(words[c.state.as_str()])).collect::<Vec<_>>());
        column::put_ints(
            w,
            &cs.iter()
                .map(|c| c.health.as_deref().map(|h| words[h]))
                .collect::<Vec<_>>(),
        );
        fields::put_container(w, &cs);
    }
}

/// Reads the containers' columns: every container's, or (`only`) one machine's, stepping over
/// the others'.
fn get_containers(r: &mut Reader<'_>, samples: &mut [Sample], only: Option<u32>) -> Result<(), Error> {
    let fam: Family<u32> = Family::get(r, samples.len(), MAX_KEYS, |r| {
        u32::try_from(r.uvar()?).map_err(|_| Error::Malformed("machine id out of range"))
    })?;
    let nwords = r.len(MAX_KEYS)?;
    let words = (0..nwords).map(|_| r.str()).collect::<Result<Vec<_>, _>>()?;
    let word = |i: u64| {
        usize::try_from(i)
            .ok()
            .and_then(|i| words.get(i).cloned())
            .ok_or(Error::Malformed("unknown word"))
    };
    if only.is_none() {
        // every container in its sample's order: the slots are filled key by key below
        for (s, layout) in samples.iter_mut().zip(&fam.layouts) {
            s.containers = layout
                .iter()
                .flatten()
                .map(|k| Container {
                    machine: fam.keys[*k as usize],
                    ..Container::default()
                })
                .collect();
        }
    }
    for (entries, &machine) in fam.entries().iter().zip(&fam.keys) {
        let n = entries.len();
        if only.is_some_and(|m| m != machine) {
            column::skip_ints(r, n)?; // states
            column::skip_ints(r, n)?; // health
            fields::skip_container(r, n)?;
            continue;
        }
        let states = column::get_ints(r, n)?;
        let health = column::get_ints(r, n)?;
        let mut cs: Vec<Container> = vec![Container::default(); n];
        fields::get_container(r, &mut cs.iter_mut().collect::<Vec<_>>())?;
        for (((i, p), mut c), (s, h)) in entries.iter().zip(cs).zip(states.into_iter().zip(health)) {
            c.machine = machine;
            c.state = word(s.ok_or(Error::Malformed("container without state"))?)?;
            c.health = h.map(word).transpose()?;
            match only {
                None => samples[*i].containers[*p] = c,
                Some(_) => samples[*i].containers.push(c),
            }
        }
    }
    Ok(())
}
