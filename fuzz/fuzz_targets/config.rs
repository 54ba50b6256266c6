//! ctwatch.toml parsing and validation, as `ctwatch check-config` runs it.
//!
//! Validation reads two kinds of files: `[[ca]] issuers` entries that are not SPKI hashes, and
//! `metrics.token_file`. Relative paths resolve under a directory that does not exist, so they
//! are never read; inputs giving one of those keys an absolute path are skipped, because the
//! config is trusted operator input and reading a device file it names (say `/dev/zero`) is
//! what the operator asked for, not a bug.

#![no_main]

use std::path::Path;

use libfuzzer_sys::fuzz_target;

/// Whether `value` (a parsed config) names an absolute file that validation would read.
fn reads_absolute_file(value: &toml::Value) -> bool {
    let absolute = |v: &toml::Value| v.as_str().is_some_and(|s| s.trim().starts_with('/'));
    let token_file = value.get("metrics").and_then(|m| m.get("token_file")).is_some_and(absolute);
    let issuer_file = value.get("ca").and_then(toml::Value::as_array).is_some_and(|cas| {
        cas.iter().any(|ca| {
            ca.get("issuers").and_then(toml::Value::as_array).is_some_and(|issuers| issuers.iter().any(absolute))
        })
    });
    token_file || issuer_file
}

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    if toml::from_str::<toml::Table>(text).is_ok_and(|table| reads_absolute_file(&toml::Value::Table(table))) {
        return;
    }
    let _ = ctwatch_monitor::config::Settings::from_toml(text, Path::new("/nonexistent-ctwatch-fuzz/ctwatch.toml"));
});
