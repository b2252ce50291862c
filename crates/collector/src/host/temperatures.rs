//! Temperatures from the hwmon class: `SYS_ROOT/class/hwmon/*/temp*_input` in millidegrees.
//!
//! Each sensor is keyed `<hwmon name>/<label>` (label from `temp<N>_label`, else `temp<N>`).
//! A host without sensors has no map at all (not an empty one), so nothing alerts on it.

use std::collections::BTreeMap;
use std::path::Path;

/// Readings outside this range are sensor faults (e.g. -273.15 °C or 1000+ °C), not temperatures.
const PLAUSIBLE_C: std::ops::RangeInclusive<f64> = -100.0..=500.0;

/// Reads every hwmon temperature sensor under `sys_root`; `None` when there is none.
pub fn read(sys_root: &Path) -> Option<BTreeMap<String, f64>> {
    let base = sys_root.join("class/hwmon");
    let mut chips: Vec<_> = std::fs::read_dir(&base)
        .ok()?
        .filter_map(|e| e.ok())
        .map(|e| e.path())
        .collect();
    chips.sort();
    let mut temps = BTreeMap::new();
    for chip in chips {
        let chip_dir = chip
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let name = read_trimmed(&chip.join("name")).unwrap_or_else(|| chip_dir.clone());
        let Ok(entries) = std::fs::read_dir(&chip) else {
            continue;
        };
        let mut inputs: Vec<String> = entries
            .filter_map(|e| e.ok())
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .filter(|f| f.starts_with("temp") && f.ends_with("_input"))
            .collect();
        inputs.sort();
        for input in inputs {
            let sensor = &input[..input.len() - "_input".len()]; // temp1
            let Some(celsius) = read_trimmed(&chip.join(&input)).and_then(|v| millidegrees(&v)) else {
                continue;
            };
            let label = read_trimmed(&chip.join(format!("{sensor}_label"))).unwrap_or_else(|| sensor.to_string());
            let mut key = format!("{name}/{label}");
            if temps.contains_key(&key) {
                // Two chips with the same name (e.g. two NVMe drives): tell them apart.
                key = format!("{name}@{chip_dir}/{label}");
            }
            temps.insert(key, celsius);
        }
    }
    (!temps.is_empty()).then_some(temps)
}

/// `"47250"` → 47.25 °C; `None` for garbage and implausible readings.
pub fn millidegrees(raw: &str) -> Option<f64> {
    let c = raw.trim().parse::<i64>().ok()? as f64 / 1000.0;
    PLAUSIBLE_C.contains(&c).then_some(c)
}

fn read_trimmed(path: &Path) -> Option<String> {
    std::fs::read_to_string(path)
        .ok()
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testutil::TempTree;

    #[test]
    fn keys_by_chip_name_and_label() {
        let sys = TempTree::new();
        sys.write("class/hwmon/hwmon0/name", "coretemp\n");
        sys.write("class/hwmon/hwmon0/temp1_input", "47000\n");
        sys.write("class/hwmon/hwmon0/temp1_label", "Package id 0\n");
        sys.write("class/hwmon/hwmon0/temp2_input", "45500\n");
        sys.write("class/hwmon/hwmon0/temp2_max", "100000\n");
        sys.write("class/hwmon/hwmon1/name", "nvme\n");
        sys.write("class/hwmon/hwmon1/temp1_input", "38850\n");
        sys.write("class/hwmon/hwmon1/temp1_label", "Composite\n");
        sys.write("class/hwmon/hwmon2/name", "nvme\n");
        sys.write("class/hwmon/hwmon2/temp1_input", "40000\n");
        sys.write("class/hwmon/hwmon2/temp1_label", "Composite\n");
        sys.write("class/hwmon/hwmon3/name", "broken\n");
        sys.write("class/hwmon/hwmon3/temp1_input", "-273150\n");
        let t = read(sys.path()).unwrap();
        assert_eq!(
            t,
            BTreeMap::from([
                ("coretemp/Package id 0".to_string(), 47.0),
                ("coretemp/temp2".to_string(), 45.5),
                ("nvme/Composite".to_string(), 38.85),
                ("nvme@hwmon2/Composite".to_string(), 40.0),
            ])
        );
    }

    #[test]
    fn no_sensors_means_no_map() {
        let sys = TempTree::new();
        assert_eq!(read(sys.path()), None);
        sys.write("class/hwmon/hwmon0/name", "acpi_fan\n");
        sys.write("class/hwmon/hwmon0/fan1_input", "1200\n");
        assert_eq!(read(sys.path()), None);
    }

    #[test]
    fn parses_millidegrees() {
        assert_eq!(millidegrees("47250\n"), Some(47.25));
        assert_eq!(millidegrees("-5000"), Some(-5.0));
        assert_eq!(millidegrees("n/a"), None);
        assert_eq!(millidegrees("1000000"), None);
    }
}
