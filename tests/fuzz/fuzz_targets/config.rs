//! libFuzzer target `config`: the bytes go to `taxiid::fuzzing::config`, which holds the
//! property checked (see there).
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| taxiid::fuzzing::config(data));
