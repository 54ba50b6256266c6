//! Locating the shared real-world test data (`../shared/data` beside the repository).
//!
//! Tests call [`data_dir`] and skip — saying so on stderr — when the directory is absent.
//! `CTWATCH_DATA_DIR` overrides the location; `CTWATCH_REQUIRE_DATA=1` (set by `.ci/run`)
//! turns a missing directory into a test failure, so CI can never pass by skipping.
//!
//! ```
//! if let Some(dir) = ctwatch_testdata::data_dir("log_lists") {
//!     assert!(dir.is_dir());
//! }
//! ```

use std::path::PathBuf;

/// The data root: `$CTWATCH_DATA_DIR`, or `<workspace>/../shared/data`.
pub fn data_root() -> PathBuf {
    match std::env::var_os("CTWATCH_DATA_DIR") {
        Some(dir) => PathBuf::from(dir),
        None => PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared/data"),
    }
}

/// `<data root>/<sub>` if it exists. Otherwise prints `SKIPPED: ...` and returns `None`, or
/// panics when `CTWATCH_REQUIRE_DATA` is set to a non-empty value other than `0`.
pub fn data_dir(sub: &str) -> Option<PathBuf> {
    let dir = data_root().join(sub);
    if dir.exists() {
        return Some(dir);
    }
    let required = std::env::var("CTWATCH_REQUIRE_DATA").is_ok_and(|v| !v.is_empty() && v != "0");
    if required {
        panic!("test data {} is missing and CTWATCH_REQUIRE_DATA is set", dir.display());
    }
    eprintln!("SKIPPED: test data {} not found (set CTWATCH_DATA_DIR)", dir.display());
    None
}
