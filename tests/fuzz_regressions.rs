//! The fuzz targets' inputs as plain tests: every crash the fuzzers found
//! (`tests/fuzz/regressions/<target>/`) and every seed (`tests/fuzz/seeds/<target>/`) goes
//! through the same `taxiid::fuzzing` entry point as under libFuzzer, so a fixed bug stays
//! fixed in `cargo test` without cargo-fuzz or a nightly feature. No database, no network.

use std::path::Path;

use taxiid::fuzzing::TARGETS;

/// Feeds every file under `dir/<target>/` to its target; returns how many it checked.
fn replay(dir: &str) -> usize {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join(dir);
    let (mut checked, mut failed) = (0, Vec::new());
    for (name, target) in TARGETS {
        let Ok(entries) = std::fs::read_dir(root.join(name)) else { continue };
        let mut files: Vec<_> = entries.map(|e| e.unwrap().path()).collect();
        files.sort();
        for file in files {
            let data = std::fs::read(&file).unwrap();
            if std::panic::catch_unwind(|| target(&data)).is_err() {
                failed.push(format!("{name}: {}", file.display()));
            }
            checked += 1;
        }
    }
    assert!(failed.is_empty(), "failing inputs:\n{}", failed.join("\n"));
    checked
}

#[test]
fn seeds_pass_every_target() {
    let n = replay("tests/fuzz/seeds");
    assert!(n > 0, "no seeds found");
    eprintln!("{n} seeds checked");
}

#[test]
fn fuzz_crashes_stay_fixed() {
    let n = replay("tests/fuzz/regressions");
    eprintln!("{n} regression inputs checked");
}

/// Every target has seeds: a target added without them would be fuzzed from nothing.
#[test]
fn every_target_has_seeds() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fuzz/seeds");
    for (name, _) in TARGETS {
        let n = std::fs::read_dir(root.join(name)).map(|d| d.count()).unwrap_or(0);
        assert!(n > 0, "tests/fuzz/seeds/{name} is empty");
    }
}
