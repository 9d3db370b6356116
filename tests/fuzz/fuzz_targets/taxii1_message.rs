//! libFuzzer target `taxii1_message`: the bytes go to `taxiid::fuzzing::taxii1_message`, which holds the
//! property checked (see there).
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| taxiid::fuzzing::taxii1_message(data));
