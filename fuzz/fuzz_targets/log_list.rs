//! Chrome / CT log list v3 JSON parsing and the queries the monitor makes on a parsed list.

#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(list) = ctwatch_ct::loglist::parse_log_list(data) else { return };
    let _ = list.timestamp_unix();
    for now in [0, 1_750_000_000, i64::MAX, i64::MIN] {
        let _ = list.followed_by_default(now).len();
    }
    for log in &list.logs {
        let _ = log.log_key();
        let _ = list.find(&log.log_id);
    }
    if let Ok(text) = std::str::from_utf8(data) {
        let _ = ctwatch_ct::loglist::parse_rfc3339(text);
    }
});
