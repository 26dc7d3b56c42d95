//! Locates the real corpora (20 Newsgroups, UCI bag-of-words) for tests and
//! benchmarks, read in place and never copied into the repository.
//!
//! The data directory is `$TOPICMILL_DATA` when set, else `../shared/datasets`
//! beside the repository. A test that needs a file calls [`require`]:
//!
//! ```no_run
//! if let Some(kos) = topicmill_testdata::require("uci-bow/docword.kos.txt.gz") {
//!     // … use the file
//!     # let _ = kos;
//! }
//! ```
//!
//! Outside CI a missing file skips the test with a message on stderr; under CI
//! (`CI` set to anything but `false`/`0`) it panics, so a test that silently ran
//! on nothing can never turn CI green.

use std::path::PathBuf;

/// The environment variable naming the data directory.
pub const DATA_ENV: &str = "TOPICMILL_DATA";

/// The data directory: `$TOPICMILL_DATA`, else `../shared/datasets` next to the
/// workspace root. It may not exist.
pub fn data_dir() -> PathBuf {
    match std::env::var_os(DATA_ENV) {
        Some(dir) if !dir.is_empty() => PathBuf::from(dir),
        _ => PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared/datasets"),
    }
}

/// True when running under CI, where missing data is a failure, not a skip.
pub fn under_ci() -> bool {
    std::env::var("CI").is_ok_and(|v| !v.is_empty() && v != "false" && v != "0")
}

/// The path of `relative` inside the data directory, or `None` (with a note on
/// stderr) when it is missing outside CI.
///
/// # Panics
/// Under CI, when the file is missing.
pub fn require(relative: &str) -> Option<PathBuf> {
    let path = data_dir().join(relative);
    if path.exists() {
        return Some(path);
    }
    assert!(
        !under_ci(),
        "dataset {} is missing under CI (set {DATA_ENV} to the shared datasets directory)",
        path.display()
    );
    eprintln!(
        "skipping: dataset {} not found (set {DATA_ENV})",
        path.display()
    );
    None
}

/// Whether an allocation of `bytes` must fail on this machine: more than its
/// RAM and swap together, which Linux's default overcommit refuses. Tests of
/// inputs declaring billions of rows or documents rely on that refusal (the
/// code under test reserves fallibly and reports an error); on a machine
/// that might really allocate them such a test says so on stderr and stops.
pub fn beyond_memory(bytes: u64) -> bool {
    let meminfo = std::fs::read_to_string("/proc/meminfo").unwrap_or_default();
    let kib = |key: &str| -> Option<u64> {
        let line = meminfo.lines().find(|l| l.starts_with(key))?;
        line.split_whitespace().nth(1)?.parse().ok()
    };
    match (kib("MemTotal:"), kib("SwapTotal:")) {
        (Some(mem), Some(swap)) if (mem + swap).saturating_mul(1024) < bytes => true,
        _ => {
            eprintln!("skipped: this machine might allocate {bytes} bytes");
            false
        }
    }
}
