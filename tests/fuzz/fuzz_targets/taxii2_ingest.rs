//! libFuzzer target `taxii2_ingest`: the bytes go to `taxiid::fuzzing::taxii2_ingest`, which holds the
//! property checked (see there).
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| taxiid::fuzzing::taxii2_ingest(data));
