//! libFuzzer target `data_config_yaml`: the bytes go to `taxiid::fuzzing::data_config_yaml`, which holds the
//! property checked (see there).
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| taxiid::fuzzing::data_config_yaml(data));
