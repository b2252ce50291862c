//! The native (v1) record decoder and its validation: any bytes give a record or an error,
//! never a panic; a record that validates survives its own JSON form unchanged.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let now = chrono::DateTime::from_timestamp(1_767_225_600, 0).unwrap();
    if let Ok(record) = common::validate::parse_record_json(text, now) {
        let again = String::from_utf8(record.to_json()).expect("records serialise to UTF-8");
        let back = common::validate::parse_record_json(&again, now).expect("a valid record's own JSON is valid");
        assert_eq!(back.to_json(), record.to_json(), "the JSON round trip changes nothing");
    }
});
