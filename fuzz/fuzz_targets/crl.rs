//! CRL parsing. Each input is parsed twice: as is, against the fixed Ed25519 issuer (named
//! `CN=ctwatch fuzz issuer`), and re-signed by that issuer under the name it claims, so the
//! code behind the issuer, key-identifier and signature checks is fuzzed too.

#![no_main]

use ctwatch_keys::crl::{CrlLimits, CrlState, parse_crl};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let limits = CrlLimits { max_bytes: 1 << 20, max_entries: 10_000 };
    let fixed = ctwatch_fuzz::crl_issuer(ctwatch_fuzz::fixed_issuer_name());
    let _ = parse_crl(data, &fixed, &limits);

    let Some((resigned, issuer_name)) = ctwatch_fuzz::resign_crl(data, None) else { return };
    let issuer = ctwatch_fuzz::crl_issuer(issuer_name);
    if let Ok(crl) = parse_crl(&resigned, &issuer, &limits) {
        assert!(crl.entries.len() <= limits.max_entries);
        let _ = crl.number_string();
        let _ = crl.is_stale(i64::MAX);
        let _ = crl.is_stale(i64::MIN);
        let _ = crl.key_compromise_entries().count();
        let mut state = CrlState::new();
        let _ = state.observe("http://crl.example/1.crl", &crl, crl.this_update);
        let _ = state.observe("http://crl.example/1.crl", &crl, crl.this_update);
    }
});
