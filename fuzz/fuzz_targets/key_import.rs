//! Compromised-key import files (PEM keys, certificates, CSRs, SPKI hashes, JWK, DKIM records).
//! The parser never fails; its report must account for what it saw.

#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let report = ctwatch_keys::import::parse_import(data);
    let _ = report.to_compromised("fuzz.pem", 0);
});
