//! Network throughput and error counters per interface from `/proc/net/dev`.
//!
//! The record lists every interface (loopback included) and sums rates over the non-loopback
//! ones into `net_rx_bytes_per_sec` / `net_tx_bytes_per_sec`.

use std::collections::BTreeMap;
use std::io::Read;
use std::path::Path;
use std::time::Duration;

use common::Interface;
use procfs_core::net::InterfaceDeviceStatus;
use procfs_core::FromRead;

use crate::rates::{per_sec, round2, sum_rates};

/// `ARPHRD_LOOPBACK` as found in `/sys/class/net/<if>/type`.
const ARPHRD_LOOPBACK: &str = "772";

/// Cumulative counters of one interface.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NicCounters {
    pub rx_bytes: u64,
    pub tx_bytes: u64,
    pub rx_errors: u64,
    pub tx_errors: u64,
}

/// Parses `/proc/net/dev` with procfs-core.
pub fn parse(r: impl Read) -> Result<BTreeMap<String, NicCounters>, String> {
    let status = InterfaceDeviceStatus::from_read(r).map_err(|e| e.to_string())?;
    Ok(status
        .0
        .into_iter()
        .map(|(name, d)| {
            let c = NicCounters {
                rx_bytes: d.recv_bytes,
                tx_bytes: d.sent_bytes,
                rx_errors: d.recv_errs,
                tx_errors: d.sent_errs,
            };
            (name, c)
        })
        .collect())
}

/// Is `name` a loopback interface? `lo`, or any interface whose link type is loopback.
pub fn is_loopback(sys_root: &Path, name: &str) -> bool {
    name == "lo"
        || std::fs::read_to_string(sys_root.join("class/net").join(name).join("type"))
            .is_ok_and(|t| t.trim() == ARPHRD_LOOPBACK)
}

/// Builds the interface list and the non-loopback sums `(rx, tx)`. Rates need a previous reading
/// of the same interface: on the first tick there are no rates at all; an interface that appeared
/// since the last tick (a container's veth) has no rate yet and is left out of the sums; a
/// counter that went backwards leaves its interface and the sums without a rate for the tick.
pub fn derive(
    prev: Option<(&BTreeMap<String, NicCounters>, Duration)>,
    cur: &BTreeMap<String, NicCounters>,
    is_loopback: impl Fn(&str) -> bool,
) -> (Vec<Interface>, Option<f64>, Option<f64>) {
    let mut interfaces = Vec::with_capacity(cur.len());
    let (mut rx_sum, mut tx_sum) = (Vec::new(), Vec::new());
    for (name, c) in cur {
        let before = prev.and_then(|(p, elapsed)| p.get(name).map(|p| (p, elapsed)));
        let rx = before.and_then(|(p, e)| per_sec(p.rx_bytes, c.rx_bytes, e)).map(round2);
        let tx = before.and_then(|(p, e)| per_sec(p.tx_bytes, c.tx_bytes, e)).map(round2);
        if before.is_some() && !is_loopback(name) {
            rx_sum.push(rx);
            tx_sum.push(tx);
        }
        interfaces.push(Interface {
            name: name.clone(),
            rx_bytes_per_sec: rx,
            tx_bytes_per_sec: tx,
            rx_errors: Some(c.rx_errors),
            tx_errors: Some(c.tx_errors),
        });
    }
    let sum = |v: Vec<Option<f64>>| sum_rates(v).map(round2);
    (interfaces, sum(rx_sum), sum(tx_sum))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn readings() -> (BTreeMap<String, NicCounters>, BTreeMap<String, NicCounters>) {
        (
            parse(include_str!("../../tests/fixtures/proc/net_dev.1").as_bytes()).unwrap(),
            parse(include_str!("../../tests/fixtures/proc/net_dev.2").as_bytes()).unwrap(),
        )
    }

    #[test]
    fn parses_counters() {
        let (a, _) = readings();
        assert_eq!(
            a["eth0"],
            NicCounters {
                rx_bytes: 374_659_800,
                tx_bytes: 995_199,
                rx_errors: 3,
                tx_errors: 1
            }
        );
        assert_eq!(a.len(), 3);
    }

    #[test]
    fn sums_exclude_loopback_but_list_includes_it() {
        let (a, b) = readings();
        let (list, rx, tx) = derive(Some((&a, Duration::from_secs(2))), &b, |n| n == "lo");
        // eth0 +2000 rx / +1000 tx, wlan0 +600 rx / +200 tx over 2 s; lo's +10000 is ignored.
        assert_eq!(rx, Some(1_300.0));
        assert_eq!(tx, Some(600.0));
        let lo = list.iter().find(|i| i.name == "lo").unwrap();
        assert_eq!(lo.rx_bytes_per_sec, Some(5_000.0));
        let eth0 = list.iter().find(|i| i.name == "eth0").unwrap();
        assert_eq!((eth0.rx_errors, eth0.tx_errors), (Some(3), Some(1)));
    }

    #[test]
    fn first_reading_has_no_rates() {
        let (a, _) = readings();
        let (list, rx, tx) = derive(None, &a, |n| n == "lo");
        assert_eq!((rx, tx), (None, None));
        assert!(list
            .iter()
            .all(|i| i.rx_bytes_per_sec.is_none() && i.rx_errors.is_some()));
    }

    #[test]
    fn counter_reset_gives_no_rate() {
        let (a, b) = readings();
        let (list, rx, _) = derive(Some((&b, Duration::from_secs(1))), &a, |n| n == "lo");
        assert_eq!(rx, None);
        assert!(list.iter().all(|i| i.rx_bytes_per_sec.is_none()));
    }

    #[test]
    fn new_interface_has_no_rate_and_does_not_void_the_sums() {
        let (a, mut b) = readings();
        b.insert(
            "veth1".into(),
            NicCounters {
                rx_bytes: 9_999,
                tx_bytes: 9_999,
                rx_errors: 0,
                tx_errors: 0,
            },
        );
        let (list, rx, _) = derive(Some((&a, Duration::from_secs(2))), &b, |n| n == "lo");
        assert_eq!(rx, Some(1_300.0));
        assert_eq!(list.iter().find(|i| i.name == "veth1").unwrap().rx_bytes_per_sec, None);
    }

    #[test]
    fn loopback_detected_by_link_type() {
        let sys = crate::testutil::TempTree::new();
        sys.write("class/net/lo2/type", "772\n");
        sys.write("class/net/eth0/type", "1\n");
        assert!(is_loopback(sys.path(), "lo"));
        assert!(is_loopback(sys.path(), "lo2"));
        assert!(!is_loopback(sys.path(), "eth0"));
    }
}
