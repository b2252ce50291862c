//! The raw tier's block decoder (what MySQL hands back, possibly damaged): any bytes give
//! samples or an error, never a panic or an allocation beyond the fuzzer's limit; decoded
//! samples encode and decode back to themselves.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(samples) = codec::decode_frames(data) {
        let again = codec::frame(&samples, codec::Level::default());
        let back = codec::decode_frames(&again).expect("a block the encoder wrote decodes");
        assert_eq!(back, samples, "encode after decode changes nothing");
    }
});
