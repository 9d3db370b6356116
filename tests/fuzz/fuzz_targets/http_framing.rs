//! libFuzzer target `http_framing`: the bytes go to `taxiid::fuzzing::http_framing`, which holds the
//! property checked (see there).
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| taxiid::fuzzing::http_framing(data));
