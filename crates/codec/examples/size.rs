use chrono::{Duration, Utc};
use codec::{Container, Sample};
use rand::SeedableRng;

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let hosts: u32 = args.get(1).map_or(20, |s| s.parse().unwrap());
    let chunk: usize = args.get(2).map_or(600, |s| s.parse().unwrap());
    let level: i32 = args.get(3).map_or(3, |s| s.parse().unwrap());
    let mut rng = rand::rngs::StdRng::seed_from_u64(1);
    let mut sims: Vec<_> = (0..hosts)
        .map(|i| collector::simulate::SimHost::new("sim", i, 10, &mut rng))
        .collect();
    let t0 = Utc::now();
    let mut per_host: Vec<Vec<Sample>> = vec![Vec::new(); hosts as usize];
    let mut values = 0usize;
    for tick in 0..chunk {
        let at =
            common::timefmt::truncate_millis(t0 + Duration::milliseconds(tick as i64 * 1000 + (tick as i64 * 7) % 5));
        for (h, sim) in sims.iter_mut().enumerate() {
            let r = sim.next_record(at, 1000, &mut rng);
            values += count(&r);
            per_host[h].push(Sample {
                at,
                host: r.host.clone(),
                containers: r
                    .containers
                    .iter()
                    .enumerate()
                    .map(|(i, c)| Container::from_wire(1000 + h as u32 * 100 + i as u32, c))
                    .collect(),
            });
        }
    }
    let started = std::time::Instant::now();
    let mut total = 0usize;
    let mut plain = 0usize;
    for s in &per_host {
        let e = codec::encode(s, Some(level));
        plain += codec::encode(s, None).len();
        total += e.len();
        let d = codec::decode(&e).unwrap();
        assert_eq!(d.len(), s.len());
    }
    let el = started.elapsed();
    let one: usize = per_host
        .iter()
        .flat_map(|s| s.iter())
        .take(100)
        .map(|s| codec::encode(std::slice::from_ref(s), None).len())
        .sum::<usize>()
        / 100;
    let onez: usize = per_host
        .iter()
        .flat_map(|s| s.iter())
        .take(100)
        .map(|s| codec::encode(std::slice::from_ref(s), Some(1)).len())
        .sum::<usize>()
        / 100;
    let singles: Vec<&Sample> = per_host.iter().flat_map(|s| s.iter()).take(2000).collect();
    for lvl in [None, Some(1), Some(-3), Some(-10)] {
        let t = std::time::Instant::now();
        let mut n = 0;
        for s in &singles {
            n += codec::frame(std::slice::from_ref(*s), lvl).len();
        }
        println!(
            "one-sample frames at {lvl:?}: {:.1} us each, {} bytes each",
            t.elapsed().as_secs_f64() * 1e6 / singles.len() as f64,
            n / singles.len()
        );
    }
    println!("hosts {hosts} chunk {chunk} level {level}: values {values}, zstd {total} B = {:.3} B/value, plain {:.3} B/value; per chunk {} B; one record plain {one} B zstd1 {onez} B; encode+decode {:?}",
        total as f64 / values as f64, plain as f64 / values as f64, total / hosts as usize, el);
}

fn count(r: &common::Record) -> usize {
    let h = &r.host;
    let s = [
        h.cpu_percent.is_some(),
        h.cpu_cores.is_some(),
        h.load1.is_some(),
        h.load5.is_some(),
        h.load15.is_some(),
        h.mem_total_bytes.is_some(),
        h.mem_used_bytes.is_some(),
        h.mem_available_bytes.is_some(),
        h.mem_percent.is_some(),
        h.swap_total_bytes.is_some(),
        h.swap_used_bytes.is_some(),
        h.disk_read_bytes_per_sec.is_some(),
        h.disk_write_bytes_per_sec.is_some(),
        h.net_rx_bytes_per_sec.is_some(),
        h.net_tx_bytes_per_sec.is_some(),
        h.uptime_secs.is_some(),
    ]
    .iter()
    .filter(|x| **x)
    .count();
    let lists = h.per_core_percent.len()
        + h.interfaces.len() * 4
        + h.filesystems.len() * 4
        + h.temperatures_c.as_ref().map_or(0, |t| t.len());
    let cs: usize = r
        .containers
        .iter()
        .map(|c| {
            [
                c.restart_count.is_some(),
                c.cpu_percent.is_some(),
                c.mem_used_bytes.is_some(),
                c.mem_limit_bytes.is_some(),
                c.mem_percent.is_some(),
                c.net_rx_bytes_per_sec.is_some(),
                c.net_tx_bytes_per_sec.is_some(),
                c.blk_read_bytes_per_sec.is_some(),
                c.blk_write_bytes_per_sec.is_some(),
                c.pids.is_some(),
            ]
            .iter()
            .filter(|x| **x)
            .count()
        })
        .sum();
    s + lists + cs
}

#[allow(dead_code)]
fn unused() {}
