//! A v3 log list (the schema of Chrome's `log_list.json`) describing served test logs, so a
//! monitor can be pointed at them like at real logs.

use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use serde_json::json;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use crate::log::{ListedAs, TestLog};
use crate::server::TestLogServer;

/// The operator every test log is listed under.
pub const OPERATOR_NAME: &str = "ctwatch test logs";

/// A v3 log list of `logs` as served by `server`, each listed as its
/// [`crate::LogOptions::listed_as`] says: one operator, state `usable`, MMD from the options,
/// a temporal interval from a year ago to a year ahead.
pub fn log_list_json(server: &TestLogServer, logs: &[TestLog]) -> String {
    let listed: Vec<(TestLog, ListedAs)> = logs.iter().map(|log| (log.clone(), log.options().listed_as)).collect();
    log_list_json_with(server, &listed)
}

/// Like [`log_list_json`], with the listing of each log given explicitly.
pub fn log_list_json_with(server: &TestLogServer, logs: &[(TestLog, ListedAs)]) -> String {
    let now = OffsetDateTime::now_utc().replace_nanosecond(0).unwrap_or_else(|_| OffsetDateTime::now_utc());
    let rfc3339 = |t: OffsetDateTime| t.format(&Rfc3339).unwrap_or_default();
    let year = time::Duration::days(365);
    let mut rfc6962_logs = Vec::new();
    let mut tiled_logs = Vec::new();
    for (log, listed_as) in logs {
        let name = log.name();
        let common = json!({
            "description": format!("ctwatch test log {name}"),
            "log_id": B64.encode(log.log_id()),
            "key": B64.encode(log.log_key_spki_der()),
            "mmd": log.options().mmd_secs,
            "state": { "usable": { "timestamp": rfc3339(now - year) } },
            "temporal_interval": {
                "start_inclusive": rfc3339(now - year),
                "end_exclusive": rfc3339(now + year),
            },
        });
        if matches!(listed_as, ListedAs::Rfc6962 | ListedAs::Both) {
            let mut entry = common.clone();
            entry["url"] = json!(server.url_rfc6962(&name));
            rfc6962_logs.push(entry);
        }
        if matches!(listed_as, ListedAs::Tiled | ListedAs::Both) {
            let mut entry = common;
            entry["submission_url"] = json!(server.url_submission(&name));
            entry["monitoring_url"] = json!(server.url_monitoring(&name));
            tiled_logs.push(entry);
        }
    }
    let list = json!({
        "version": "1.0",
        "log_list_timestamp": rfc3339(now),
        "operators": [{
            "name": OPERATOR_NAME,
            "email": ["ct-test@example.invalid"],
            "logs": rfc6962_logs,
            "tiled_logs": tiled_logs,
        }],
    });
    serde_json::to_string_pretty(&list).unwrap_or_default()
}
