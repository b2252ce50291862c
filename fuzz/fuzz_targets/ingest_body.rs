//! The ingest body splitter: any bytes give a refusal of the whole body or one verdict per
//! array element, never a panic.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let now = chrono::DateTime::from_timestamp(1_767_225_600, 0).unwrap();
    if let Ok(verdicts) = common::validate::parse_batch(data, now) {
        let elements: Vec<&serde_json::value::RawValue> = serde_json::from_slice(data).expect("the splitter agreed it is an array");
        assert_eq!(verdicts.len(), elements.len(), "one verdict per element");
    }
});
