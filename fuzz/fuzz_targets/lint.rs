//! Every lint over the facts of whatever parses as a certificate, as a certificate and as a
//! precertificate entry.

#![no_main]

use ctwatch_lint::{LintInput, lint};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(facts) = ctwatch_cert::facts::cert_facts(data) else { return };
    for (is_precert, sct_timestamp_ms) in [(facts.is_precert, None), (!facts.is_precert, Some(u64::MAX))] {
        let input = LintInput { der: data, facts: &facts, is_precert, sct_timestamp_ms };
        for result in lint(&input) {
            let _ = (result.lint.name, result.status.as_str(), result.detail);
        }
    }
});
