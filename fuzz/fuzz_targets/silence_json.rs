//! Silence bodies (POST /api/v1/silences): any bytes give a silence or an error, never a
//! panic; an accepted silence is valid, matches something less than everything, and survives
//! its stored JSON form unchanged.
#![no_main]

use alerts::silence::{Silence, SilenceInput};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let now = chrono::DateTime::from_timestamp(1_767_225_600, 0).unwrap();
    let Ok(input) = serde_json::from_slice::<SilenceInput>(data) else { return };
    let Ok(silence) = input.into_silence(now) else { return };
    assert!(silence.validate().is_ok(), "an accepted silence is valid");
    let stored = serde_json::to_string(&silence).expect("silences serialise");
    let back: Silence = serde_json::from_str(&stored).expect("a stored silence reads back");
    assert_eq!(back, silence, "the stored form changes nothing");
});
