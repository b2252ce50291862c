//! Whatever samples go in come back out, at the stated precision: NULLs stay NULLs, list fields
//! keep their order, containers come and go, times need not be regular; and damaged bytes are
//! an error, never a panic.

use std::collections::BTreeMap;

use chrono::DateTime;
use codec::{Container, Sample};
use common::wire::{Filesystem, HostSample, Interface};
use proptest::collection::vec;
use proptest::option;
use proptest::prelude::*;

/// A value at the precision it is kept at (what a reader gets back).
fn at(v: Option<f64>, scale: f64) -> Option<f64> {
    v.map(|v| (v * scale).round() / scale)
}

fn stored(s: &Sample) -> Sample {
    use codec::precision::{BYTES_PER_SEC as B, CELSIUS as C, PERCENT as P};
    let mut s = s.clone();
    let h = &mut s.host;
    h.cpu_percent = at(h.cpu_percent, P);
    h.per_core_percent
        .iter_mut()
        .for_each(|v| *v = at(Some(*v), P).unwrap());
    h.load1 = at(h.load1, P);
    h.load5 = at(h.load5, P);
    h.load15 = at(h.load15, P);
    h.mem_percent = at(h.mem_percent, P);
    for f in [
        &mut h.disk_read_bytes_per_sec,
        &mut h.disk_write_bytes_per_sec,
        &mut h.net_rx_bytes_per_sec,
        &mut h.net_tx_bytes_per_sec,
    ] {
        *f = at(*f, B);
    }
    for n in &mut h.interfaces {
        n.rx_bytes_per_sec = at(n.rx_bytes_per_sec, B);
        n.tx_bytes_per_sec = at(n.tx_bytes_per_sec, B);
    }
    for f in &mut h.filesystems {
        f.used_percent = at(f.used_percent, P);
        f.inodes_used_percent = at(f.inodes_used_percent, P);
    }
    if let Some(t) = &mut h.temperatures_c {
        t.values_mut().for_each(|v| *v = at(Some(*v), C).unwrap());
    }
    for c in &mut s.containers {
        c.cpu_percent = at(c.cpu_percent, P);
        c.mem_percent = at(c.mem_percent, P);
        c.net_rx_bytes_per_sec = at(c.net_rx_bytes_per_sec, B);
        c.net_tx_bytes_per_sec = at(c.net_tx_bytes_per_sec, B);
        c.blk_read_bytes_per_sec = at(c.blk_read_bytes_per_sec, B);
        c.blk_write_bytes_per_sec = at(c.blk_write_bytes_per_sec, B);
    }
    s
}

fn pct() -> impl Strategy<Value = Option<f64>> {
    option::weighted(0.8, 0.0..100.0f64)
}

fn rate() -> impl Strategy<Value = Option<f64>> {
    option::weighted(0.8, prop_oneof![Just(0.0), 0.0..1.0e10f64])
}

fn bytes() -> impl Strategy<Value = Option<u64>> {
    option::weighted(0.8, prop_oneof![Just(0u64), any::<u64>(), 0..1u64 << 40])
}

fn interface() -> impl Strategy<Value = Interface> {
    (
        prop::sample::select(vec!["eth0", "eth1", "lo", "wlan0"]),
        rate(),
        rate(),
        bytes(),
        bytes(),
    )
        .prop_map(|(name, rx, tx, rxe, txe)| Interface {
            name: name.into(),
            rx_bytes_per_sec: rx,
            tx_bytes_per_sec: tx,
            rx_errors: rxe,
            tx_errors: txe,
        })
}

fn filesystem() -> impl Strategy<Value = Filesystem> {
    (
        prop::sample::select(vec!["/", "/var", "/data"]),
        bytes(),
        bytes(),
        pct(),
        pct(),
    )
        .prop_map(|(mount, total, used, p, i)| Filesystem {
            mount: mount.into(),
            device: format!("/dev/{}", mount.len()),
            fs_type: "ext4".into(),
            total_bytes: total,
            used_bytes: used,
            used_percent: p,
            inodes_used_percent: i,
        })
}

fn host() -> impl Strategy<Value = HostSample> {
    (
        (
            pct(),
            option::of(1u32..256),
            vec(0.0..100.0f64, 0..6),
            pct(),
            pct(),
            pct(),
        ),
        (bytes(), bytes(), any::<bool>(), pct(), bytes(), bytes()),
        (rate(), rate(), rate(), rate(), bytes()),
        (
            vec(interface(), 0..4),
            vec(filesystem(), 0..3),
            option::of(prop::collection::btree_map("[a-z]{1,6}", -40.0..120.0f64, 0..3)),
        ),
    )
        .prop_map(
            |(
                (cpu, cores, per_core, l1, l5, l15),
                (total, used, derived, mp, st, su),
                (dr, dw, rx, tx, up),
                (interfaces, filesystems, temps),
            )| HostSample {
                cpu_percent: cpu,
                cpu_cores: cores,
                per_core_percent: per_core,
                load1: l1,
                load5: l5,
                load15: l15,
                mem_total_bytes: total,
                mem_used_bytes: used,
                // sometimes total - used, as collectors compute it
                mem_available_bytes: if derived {
                    total.zip(used).and_then(|(t, u)| t.checked_sub(u))
                } else {
                    used
                },
                mem_percent: mp,
                swap_total_bytes: st,
                swap_used_bytes: su,
                disk_read_bytes_per_sec: dr,
                disk_write_bytes_per_sec: dw,
                net_rx_bytes_per_sec: rx,
                net_tx_bytes_per_sec: tx,
                interfaces,
                filesystems,
                temperatures_c: temps.map(|t: BTreeMap<String, f64>| t),
                uptime_secs: up,
            },
        )
}

fn container() -> impl Strategy<Value = Container> {
    (
        (1u32..6, prop::sample::select(vec!["running", "exited", "paused"])),
        option::of(prop::sample::select(vec!["healthy", "unhealthy"])),
        (bytes(), option::weighted(0.8, 0.0..800.0f64), bytes(), bytes(), pct()),
        (rate(), rate(), rate(), rate(), bytes()),
    )
        .prop_map(
            |((machine, state), health, (restarts, cpu, used, limit, mp), (rx, tx, br, bw, pids))| Container {
                machine,
                state: state.into(),
                health: health.map(Into::into),
                restart_count: restarts,
                cpu_percent: cpu,
                mem_used_bytes: used,
                mem_limit_bytes: limit,
                mem_percent: mp,
                net_rx_bytes_per_sec: rx,
                net_tx_bytes_per_sec: tx,
                blk_read_bytes_per_sec: br,
                blk_write_bytes_per_sec: bw,
                pids,
            },
        )
}

fn samples() -> impl Strategy<Value = Vec<Sample>> {
    vec(
        (
            0i64..4_000_000_000_000,
            host(),
            vec(container(), 0..4).prop_map(|mut cs| {
                // a record lists each container once
                let mut seen = std::collections::HashSet::new();
                cs.retain(|c| seen.insert(c.machine));
                cs
            }),
        )
            .prop_map(|(ms, host, containers)| Sample {
                at: DateTime::from_timestamp_millis(ms).unwrap(),
                host,
                containers,
            }),
        0..12,
    )
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(300))]

    #[test]
    fn samples_round_trip_at_their_precision(samples in samples(), level in prop_oneof![Just(None), Just(Some(1)), Just(Some(3))]) {
        let bytes = codec::encode(&samples, level);
        let back = codec::decode(&bytes).unwrap();
        let expect: Vec<Sample> = samples.iter().map(stored).collect();
        prop_assert_eq!(back, expect);
    }

    #[test]
    fn frames_concatenate(a in samples(), b in samples()) {
        let mut bytes = codec::frame(&a, Some(3));
        bytes.extend(codec::frame(&b, None));
        let back = codec::decode_frames(&bytes).unwrap();
        let expect: Vec<Sample> = a.iter().chain(&b).map(stored).collect();
        prop_assert_eq!(back, expect);
        prop_assert!(codec::decode_frames(&bytes[..bytes.len() - 1]).is_err());
    }

    #[test]
    fn the_host_part_alone_is_the_samples_without_their_containers(a in samples(), b in samples()) {
        let mut bytes = codec::frame(&a, Some(3));
        bytes.extend(codec::frame(&b, None));
        let back = codec::decode_frames_of(&bytes, codec::Parts::Host).unwrap();
        let expect: Vec<Sample> = a
            .iter()
            .chain(&b)
            .map(|s| Sample { containers: Vec::new(), ..stored(s) })
            .collect();
        prop_assert_eq!(back, expect);
    }

    #[test]
    fn one_container_alone_is_that_container_of_each_sample(a in samples(), b in samples(), pick in 0usize..64) {
        let mut bytes = codec::frame(&a, Some(3));
        bytes.extend(codec::frame(&b, None));
        // a machine some sample lists (or, when none lists any, one no sample has)
        let listed: Vec<u32> = a.iter().chain(&b).flat_map(|s| s.containers.iter().map(|c| c.machine)).collect();
        let machine = listed.get(pick % listed.len().max(1)).copied().unwrap_or(u32::MAX);
        let back = codec::decode_frames_of(&bytes, codec::Parts::Container(machine)).unwrap();
        let expect: Vec<Sample> = a
            .iter()
            .chain(&b)
            .map(|s| {
                let s = stored(s);
                Sample {
                    at: s.at,
                    host: HostSample::default(),
                    containers: s.containers.into_iter().filter(|c| c.machine == machine).collect(),
                }
            })
            .collect();
        prop_assert_eq!(back, expect);
    }

    #[test]
    fn damaged_bytes_are_an_error_not_a_panic(samples in samples(), cut in 0usize..10_000, flip in any::<(usize, u8)>()) {
        let mut bytes = codec::encode(&samples, None);
        let _ = codec::decode(&bytes[..cut.min(bytes.len())]);
        let i = flip.0 % bytes.len();
        bytes[i] ^= flip.1 | 1;
        let _ = codec::decode(&bytes);
        // the same damaged bodies, framed, through the paths that step over columns
        let machine = samples.iter().flat_map(|s| s.containers.iter().map(|c| c.machine)).next().unwrap_or(1);
        let framed = |body: &[u8]| {
            let mut f = (body.len() as u32).to_le_bytes().to_vec();
            f.extend_from_slice(body);
            f
        };
        let clean = codec::encode(&samples, None);
        for body in [&bytes[..], &clean[..cut.min(clean.len())]] {
            let _ = codec::decode_frames_of(&framed(body), codec::Parts::Container(machine));
            let _ = codec::decode_frames_of(&framed(body), codec::Parts::Host);
        }
    }
}

#[test]
fn values_beyond_the_precision_range_are_kept_exactly() {
    let s = Sample {
        at: DateTime::from_timestamp_millis(1_000).unwrap(),
        host: HostSample {
            net_rx_bytes_per_sec: Some(1.0e300),
            cpu_percent: Some(12.5),
            ..HostSample::default()
        },
        containers: vec![],
    };
    let back = codec::decode(&codec::encode(&[s.clone(), s.clone()], Some(3))).unwrap();
    assert_eq!(back, vec![s.clone(), s]);
}

#[test]
fn a_chunk_is_much_smaller_than_its_json() {
    let samples: Vec<Sample> = (0..600)
        .map(|i| Sample {
            at: DateTime::from_timestamp_millis(1_700_000_000_000 + i * 1000 + i % 7).unwrap(),
            host: HostSample {
                cpu_percent: Some(10.0 + (i % 13) as f64),
                mem_total_bytes: Some(8 << 30),
                mem_used_bytes: Some((3 << 30) + (i as u64 % 50) * 4096),
                uptime_secs: Some(1000 + i as u64),
                ..HostSample::default()
            },
            containers: vec![],
        })
        .collect();
    let bytes = codec::encode(&samples, Some(3));
    // 600 samples x 4 values: well under a byte per value
    assert!(bytes.len() < 1200, "{}", bytes.len());
}

/// Found by the `codec_frames` fuzz target: 47 bytes whose count claimed 556,954 samples with
/// every column constant made the decoder allocate 411 MB, and each further such frame of a
/// chunk as much again. Together the frames of one decode may now hold at most
/// [`codec::MAX_SAMPLES`]; the frame that would go beyond is refused before it allocates.
#[test]
fn frames_claiming_more_samples_than_a_chunk_can_hold_are_refused() {
    let n = codec::MAX_SAMPLES / 2 + 1;
    let samples: Vec<Sample> = (0..n)
        .map(|i| Sample {
            at: DateTime::from_timestamp_millis(1_700_000_000_000 + i as i64).unwrap(),
            host: HostSample::default(),
            containers: vec![],
        })
        .collect();
    let frame = codec::frame(&samples, None);
    drop(samples);
    assert!(frame.len() < 100, "constant columns: {} bytes", frame.len());
    assert_eq!(
        codec::decode_frames(&frame).map(|s| s.len()),
        Ok(n),
        "one frame: within the bound"
    );
    let err = codec::decode_frames(&frame.repeat(2)).unwrap_err();
    assert_eq!(
        err.to_string(),
        codec::Error::Malformed("count out of range").to_string()
    );
}
