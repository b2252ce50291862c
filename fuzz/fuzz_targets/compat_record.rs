//! The original (Java) record decoder: any bytes give a v1 record or an error, never a panic;
//! what it converts passes the v1 validation's shape checks (its numbers are finite).
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(record) = common::compat::parse(data, &chrono::Utc) {
        let json = record.to_json();
        serde_json::from_slice::<common::wire::Record>(&json).expect("a converted record serialises as a v1 record");
    }
});
