//! The `taxiid` binary: everything lives in the library; this only hands over the exit code.
#![deny(unsafe_code)]

fn main() {
    std::process::exit(taxiid::cli::main());
}
