//! DNS responses to CAA queries, read by the raw-query fallback of the CAA lookup
//! (`ctwatch_caa::wire::parse_response`). The message ID and question name expected are taken
//! from the input itself, so the fuzzer gets past the query-matching checks.

#![no_main]

use ctwatch_caa::wire;
use libfuzzer_sys::fuzz_target;

/// The uncompressed question name at offset 12, dot-separated, if there is one.
fn question_name(msg: &[u8]) -> String {
    let mut labels = Vec::new();
    let mut pos = 12;
    while let Some(&len) = msg.get(pos) {
        if len == 0 || len & 0xc0 != 0 {
            break;
        }
        let Some(label) = msg.get(pos + 1..pos + 1 + usize::from(len)) else { break };
        labels.push(String::from_utf8_lossy(label).into_owned());
        pos += 1 + usize::from(len);
    }
    labels.join(".")
}

fuzz_target!(|data: &[u8]| {
    let id = u16::from_be_bytes([data.first().copied().unwrap_or(0), data.get(1).copied().unwrap_or(0)]);
    let qname = question_name(data);
    if let Ok(response) = wire::parse_response(data, id, &qname) {
        assert_eq!(response.id, id);
    }
    let _ = wire::parse_response(data, id, "example.com");
});
