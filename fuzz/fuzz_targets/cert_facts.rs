//! Certificate facts, identities (TBS without poison/SCT list, precert TBS reconstruction) and
//! embedded SCT parsing on arbitrary DER.

#![no_main]

use ctwatch_cert::{facts, identity, sct};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = facts::cert_facts(data);
    let _ = facts::spki_sha256_of_cert(data);
    let _ = identity::is_precert_signing_ca(data);
    let _ = identity::precert_leaf_tbs(data, None);
    let _ = identity::precert_leaf_tbs(data, Some(data));
    let _ = sct::embedded_scts_of_cert(data);
    let _ = sct::verify_embedded_scts(data, &[0; 32], &|_| None);
    // The input as an SCT-list extension value and as a bare TBSCertificate (precert entries
    // carry one).
    let _ = sct::parse_sct_list(data);
    let _ = identity::certificate_identity(data);
    let _ = identity::strip_ct_extensions(data);
    if let Ok(tbs) = identity::tbs_of_cert(data) {
        let _ = identity::certificate_identity(&tbs);
        let _ = identity::strip_ct_extensions(&tbs);
    }
});
