//! CAA RDATA and issue-value parsing, and RRset evaluation. The input is split by
//! `ctwatch_fuzz::split_caa_input` into up to 7 RDATA blobs, a certificate name and the CA's
//! identifiers; the whole input is also parsed as one RDATA and as one issue value.

#![no_main]

use ctwatch_caa::rdata::normalize_identifier;
use ctwatch_caa::{CaaRecord, evaluate, parse_issue_value};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(record) = CaaRecord::from_rdata(data) {
        assert_eq!(record.to_rdata(), data, "CAA RDATA does not round-trip");
        let _ = (record.tag_text(), record.value_text(), record.to_string());
    }
    let _ = parse_issue_value(data);

    let input = ctwatch_fuzz::split_caa_input(data);
    let rrset: Vec<CaaRecord> = input.records.iter().filter_map(|r| CaaRecord::from_rdata(r).ok()).collect();
    for record in &rrset {
        let _ = parse_issue_value(&record.value);
    }
    for id in &input.identifiers {
        let _ = normalize_identifier(id);
    }
    let decision = evaluate(&input.name, &rrset, &input.identifiers);
    let _ = (decision.verdict.as_str(), decision.verdict.is_violation());
});
