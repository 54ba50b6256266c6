//! Chrome/Apple v3 log lists (`log_list.json`, `all_logs_list.json`).
//!
//! The schema: `{version, log_list_timestamp, operators: [{name, email, logs, tiled_logs}]}`.
//! A log carries `description`, `log_id` (base64 SHA-256 of `key`), `key` (base64 DER SPKI),
//! `url` (RFC 6962) or `submission_url` + `monitoring_url` (static-ct-api), `mmd`, an optional
//! `state` object with exactly one key (`pending`, `qualified`, `usable`, `readonly` with a
//! `final_tree_head`, `retired`, `rejected`) and an optional `temporal_interval` of RFC 3339
//! times. Unknown fields are ignored so newer lists keep parsing.

use base64::Engine;
use serde::Deserialize;

use crate::Hash;

const B64: base64::engine::GeneralPurpose = base64::engine::general_purpose::STANDARD;

/// Log list errors.
#[derive(Debug, thiserror::Error)]
pub enum LogListError {
    /// The document does not match the v3 schema.
    #[error("log list is not valid JSON for schema v3: {0}")]
    Json(#[from] serde_json::Error),
    /// One log entry is inconsistent.
    #[error("log {description:?}: {detail}")]
    BadLog {
        /// The log's description.
        description: String,
        /// What is wrong with it.
        detail: String,
    },
}

/// How the log is read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LogEndpoint {
    /// RFC 6962: base URL; requests go to `<url>/ct/v1/...` (url ends with `/`).
    Rfc6962 {
        /// Base URL, always ending with `/`.
        url: String,
    },
    /// static-ct-api: `monitoring_url` serves checkpoint, tiles, issuers.
    Static {
        /// Where `add-chain` goes; its scheme-less form is the checkpoint origin.
        submission_url: String,
        /// Prefix of `checkpoint`, `tile/...` and `issuer/...`, always ending with `/`.
        monitoring_url: String,
    },
}

/// A log's state in the list.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogState {
    /// Submitted for inclusion, not yet trusted.
    Pending,
    /// Trusted by the browser.
    Qualified,
    /// Trusted, and recognised by the browser as usable.
    Usable,
    /// Frozen: no new entries; the final tree head is known.
    Readonly,
    /// No longer trusted for new SCTs.
    Retired,
    /// Never trusted.
    Rejected,
    /// No `state` field (or a state name this version does not know).
    Unknown,
}

/// One log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogInfo {
    /// Human-readable name, e.g. `Google 'Argon2025h1' log`.
    pub description: String,
    /// Name of the operator the log is listed under.
    pub operator: String,
    /// SHA-256 of `key`.
    pub log_id: Hash,
    /// DER SubjectPublicKeyInfo.
    pub key: Vec<u8>,
    /// Where and how to read the log.
    pub endpoint: LogEndpoint,
    /// Maximum merge delay, seconds.
    pub mmd: u64,
    /// The list's state for this log.
    pub state: LogState,
    /// `[start_inclusive, end_exclusive)` as Unix seconds.
    pub temporal_interval: Option<(i64, i64)>,
    /// For readonly logs: the final tree size.
    pub final_tree_size: Option<u64>,
}

impl LogInfo {
    /// Default selection: usable, qualified or readonly, and, when the log has a temporal
    /// interval, `now` (Unix seconds) before its `end_exclusive`.
    ///
    /// The interval bounds the *expiry* (notAfter) of the certificates a log accepts, not the
    /// time they are logged: a certificate issued today for 90 days goes to a shard whose
    /// interval starts in the future. A monitor must therefore follow future shards too, and
    /// can drop a shard only once `end_exclusive` has passed (everything in it has expired).
    pub fn followed_by_default(&self, now: i64) -> bool {
        let trusted = matches!(self.state, LogState::Usable | LogState::Qualified | LogState::Readonly);
        let not_expired = self.temporal_interval.is_none_or(|(_, end)| now < end);
        trusted && not_expired
    }

    /// Parse the log's key for signature verification.
    pub fn log_key(&self) -> Result<crate::sth::LogKey, crate::sth::SignatureError> {
        crate::sth::LogKey::from_spki_der(&self.key)
    }
}

/// A parsed log list.
#[derive(Debug, Clone)]
pub struct LogList {
    /// The list's `version`, e.g. `53.34`.
    pub version: String,
    /// The list's `log_list_timestamp` (RFC 3339), verbatim.
    pub log_list_timestamp: String,
    /// Every log of every operator, RFC 6962 logs first within each operator.
    pub logs: Vec<LogInfo>,
}

impl LogList {
    /// `log_list_timestamp` as Unix seconds, if it is valid RFC 3339.
    pub fn timestamp_unix(&self) -> Option<i64> {
        parse_rfc3339(&self.log_list_timestamp)
    }

    /// The logs [`LogInfo::followed_by_default`] selects at `now` (Unix seconds).
    pub fn followed_by_default(&self, now: i64) -> Vec<&LogInfo> {
        self.logs.iter().filter(|log| log.followed_by_default(now)).collect()
    }

    /// The log with this LogID.
    pub fn find(&self, log_id: &Hash) -> Option<&LogInfo> {
        self.logs.iter().find(|log| &log.log_id == log_id)
    }
}

/// Parse an RFC 3339 date-time (e.g. `2025-05-05T12:54:12Z`) to Unix seconds (fractions of a
/// second are dropped).
pub fn parse_rfc3339(s: &str) -> Option<i64> {
    time::OffsetDateTime::parse(s, &time::format_description::well_known::Rfc3339).ok().map(|t| t.unix_timestamp())
}

#[derive(Deserialize)]
struct RawList {
    version: serde_json::Value,
    #[serde(default)]
    log_list_timestamp: String,
    operators: Vec<RawOperator>,
}

#[derive(Deserialize)]
struct RawOperator {
    name: String,
    #[serde(default)]
    logs: Vec<RawLog>,
    #[serde(default)]
    tiled_logs: Vec<RawLog>,
}

#[derive(Deserialize)]
struct RawLog {
    description: String,
    log_id: String,
    key: String,
    url: Option<String>,
    submission_url: Option<String>,
    monitoring_url: Option<String>,
    mmd: u64,
    state: Option<serde_json::Map<String, serde_json::Value>>,
    temporal_interval: Option<RawInterval>,
}

#[derive(Deserialize)]
struct RawInterval {
    start_inclusive: String,
    end_exclusive: String,
}

#[derive(Deserialize)]
struct RawReadonly {
    final_tree_head: RawFinalTreeHead,
}

#[derive(Deserialize)]
struct RawFinalTreeHead {
    tree_size: u64,
}

/// Parse v3 JSON (both `logs` and `tiled_logs` of every operator, all states). A log whose
/// key or log_id is not valid base64, or whose log_id is not SHA-256 of its key, is an error
/// naming the log.
pub fn parse_log_list(json: &[u8]) -> Result<LogList, LogListError> {
    let raw: RawList = serde_json::from_slice(json)?;
    let version = match raw.version {
        serde_json::Value::String(s) => s,
        other => other.to_string(),
    };
    let mut logs = Vec::new();
    for operator in &raw.operators {
        for log in &operator.logs {
            logs.push(convert_log(log, &operator.name, false)?);
        }
        for log in &operator.tiled_logs {
            logs.push(convert_log(log, &operator.name, true)?);
        }
    }
    Ok(LogList { version, log_list_timestamp: raw.log_list_timestamp, logs })
}

/// `url` with a trailing slash.
fn with_slash(url: &str) -> String {
    if url.ends_with('/') { url.to_string() } else { format!("{url}/") }
}

fn convert_log(raw: &RawLog, operator: &str, tiled: bool) -> Result<LogInfo, LogListError> {
    let bad = |detail: String| LogListError::BadLog { description: raw.description.clone(), detail };
    let key = B64.decode(&raw.key).map_err(|e| bad(format!("key is not base64: {e}")))?;
    let log_id: Hash = B64
        .decode(&raw.log_id)
        .ok()
        .and_then(|id| id.try_into().ok())
        .ok_or_else(|| bad(format!("log_id {:?} is not base64 of 32 bytes", raw.log_id)))?;
    if crate::sha256(&key) != log_id {
        return Err(bad("log_id is not the SHA-256 of the key".into()));
    }
    let endpoint = if tiled {
        match (&raw.submission_url, &raw.monitoring_url) {
            (Some(submission), Some(monitoring)) => {
                LogEndpoint::Static { submission_url: submission.clone(), monitoring_url: with_slash(monitoring) }
            }
            _ => return Err(bad("tiled log without submission_url and monitoring_url".into())),
        }
    } else {
        match &raw.url {
            Some(url) => LogEndpoint::Rfc6962 { url: with_slash(url) },
            None => return Err(bad("RFC 6962 log without url".into())),
        }
    };
    let (state, final_tree_size) = match &raw.state {
        None => (LogState::Unknown, None),
        Some(map) => {
            let mut entries = map.iter();
            let (Some((name, value)), None) = (entries.next(), entries.next()) else {
                return Err(bad(format!("state has {} keys, expected exactly one", map.len())));
            };
            match name.as_str() {
                "pending" => (LogState::Pending, None),
                "qualified" => (LogState::Qualified, None),
                "usable" => (LogState::Usable, None),
                "retired" => (LogState::Retired, None),
                "rejected" => (LogState::Rejected, None),
                "readonly" => {
                    let readonly = RawReadonly::deserialize(value)
                        .map_err(|e| bad(format!("readonly state without final_tree_head: {e}")))?;
                    (LogState::Readonly, Some(readonly.final_tree_head.tree_size))
                }
                _ => (LogState::Unknown, None),
            }
        }
    };
    let temporal_interval = match &raw.temporal_interval {
        None => None,
        Some(interval) => {
            let start = parse_rfc3339(&interval.start_inclusive)
                .ok_or_else(|| bad(format!("start_inclusive {:?} is not RFC 3339", interval.start_inclusive)))?;
            let end = parse_rfc3339(&interval.end_exclusive)
                .ok_or_else(|| bad(format!("end_exclusive {:?} is not RFC 3339", interval.end_exclusive)))?;
            if end <= start {
                return Err(bad(format!("temporal interval ends before it starts ({start} ≥ {end})")));
            }
            Some((start, end))
        }
    };
    Ok(LogInfo {
        description: raw.description.clone(),
        operator: operator.to_string(),
        log_id,
        key,
        endpoint,
        mmd: raw.mmd,
        state,
        temporal_interval,
        final_tree_size,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A minimal list with one RFC 6962 log and one tiled log sharing a key.
    fn list_json(state: &str, extra: &str) -> String {
        let key = B64.encode(b"not a real key, but hashed all the same");
        let log_id = B64.encode(crate::sha256(b"not a real key, but hashed all the same"));
        format!(
            r#"{{"version": "1.2", "log_list_timestamp": "2025-01-01T00:00:00Z", "operators": [
              {{"name": "Op", "email": ["a@b"], "logs": [
                {{"description": "Log A", "log_id": "{log_id}", "key": "{key}",
                  "url": "https://a.example/log", "mmd": 86400, {state}
                  "temporal_interval": {{"start_inclusive": "2024-07-01T00:00:00Z",
                                         "end_exclusive": "2025-07-01T00:00:00Z"}}{extra}}}],
               "tiled_logs": [
                {{"description": "Log B", "log_id": "{log_id}", "key": "{key}",
                  "submission_url": "https://b.example/2025/",
                  "monitoring_url": "https://b-mon.example/2025", "mmd": 60}}]}}]}}"#
        )
    }

    #[test]
    fn parses_both_kinds_of_logs() {
        let list =
            parse_log_list(list_json(r#""state": {"usable": {"timestamp": "2024-01-01T00:00:00Z"}},"#, "").as_bytes())
                .unwrap();
        assert_eq!(list.version, "1.2");
        assert_eq!(list.timestamp_unix(), Some(1_735_689_600));
        assert_eq!(list.logs.len(), 2);
        let a = &list.logs[0];
        assert_eq!(a.operator, "Op");
        assert_eq!(a.endpoint, LogEndpoint::Rfc6962 { url: "https://a.example/log/".into() });
        assert_eq!(a.state, LogState::Usable);
        assert_eq!(a.mmd, 86400);
        assert_eq!(a.temporal_interval, Some((1_719_792_000, 1_751_328_000)));
        let b = &list.logs[1];
        assert_eq!(
            b.endpoint,
            LogEndpoint::Static {
                submission_url: "https://b.example/2025/".into(),
                monitoring_url: "https://b-mon.example/2025/".into()
            }
        );
        assert_eq!(b.state, LogState::Unknown);
        assert_eq!(b.temporal_interval, None);
        assert!(list.find(&a.log_id).is_some());
        assert!(list.find(&[0; 32]).is_none());
    }

    #[test]
    fn states_and_default_selection() {
        let start = 1_719_792_000;
        let end = 1_751_328_000;
        for (state, expected, followed) in [
            ("pending", LogState::Pending, false),
            ("qualified", LogState::Qualified, true),
            ("usable", LogState::Usable, true),
            ("retired", LogState::Retired, false),
            ("rejected", LogState::Rejected, false),
            ("someday", LogState::Unknown, false),
        ] {
            let json = list_json(&format!(r#""state": {{"{state}": {{"timestamp": "2024-01-01T00:00:00Z"}}}},"#), "");
            let log = &parse_log_list(json.as_bytes()).unwrap().logs[0];
            assert_eq!(log.state, expected);
            assert_eq!(log.followed_by_default(start), followed, "{state} at start");
            assert_eq!(log.followed_by_default(end - 1), followed, "{state} before end");
            // A future shard already receives certificates that expire in its interval.
            assert_eq!(log.followed_by_default(start - 1), followed, "{state} before start");
            assert!(!log.followed_by_default(end), "{state} at end_exclusive");
            assert!(!log.followed_by_default(end + 86400), "{state} after the interval");
        }
        let readonly = r#""state": {"readonly": {"timestamp": "2024-01-01T00:00:00Z",
            "final_tree_head": {"sha256_root_hash": "AAAA", "tree_size": 42}}},"#;
        let log = &parse_log_list(list_json(readonly, "").as_bytes()).unwrap().logs[0];
        assert_eq!(log.state, LogState::Readonly);
        assert_eq!(log.final_tree_size, Some(42));
        assert!(log.followed_by_default(start));
        // A log without an interval is followed whenever its state allows.
        let mut no_interval = log.clone();
        no_interval.temporal_interval = None;
        assert!(no_interval.followed_by_default(0));
    }

    #[test]
    fn bad_logs_are_named() {
        let good = list_json("", "");
        assert!(parse_log_list(good.as_bytes()).is_ok());
        let cases = [
            good.replacen(r#""log_id": ""#, r#""log_id": "AAAA"#, 1),
            good.replacen(r#""key": ""#, r#""key": "!"#, 1),
            good.replacen("https://a.example/log", "", 1).replacen(r#""url": "","#, "", 1),
            good.replacen(r#""submission_url""#, r#""other_url""#, 1),
            list_json(r#""state": {"usable": {}, "retired": {}},"#, ""),
            list_json(r#""state": {},"#, ""),
            list_json(r#""state": {"readonly": {"timestamp": "x"}},"#, ""),
            good.replacen("2024-07-01T00:00:00Z", "2024-07-01", 1),
            good.replacen("2025-07-01T00:00:00Z", "2023-07-01T00:00:00Z", 1),
        ];
        for (i, json) in cases.iter().enumerate() {
            match parse_log_list(json.as_bytes()) {
                Err(LogListError::BadLog { description, .. }) => {
                    assert!(description.starts_with("Log "), "case {i}")
                }
                other => panic!("case {i}: expected BadLog, got {other:?}"),
            }
        }
        assert!(matches!(parse_log_list(b"{}"), Err(LogListError::Json(_))));
        assert!(matches!(parse_log_list(b"not json"), Err(LogListError::Json(_))));
        // A log_id that is valid base64 but not the key's hash.
        let other_id = B64.encode([7u8; 32]);
        let log_id = B64.encode(crate::sha256(b"not a real key, but hashed all the same"));
        let mismatched = good.replacen(&log_id, &other_id, 1);
        let err = parse_log_list(mismatched.as_bytes()).unwrap_err();
        assert!(err.to_string().contains("SHA-256"), "{err}");
    }

    #[test]
    fn rfc3339() {
        assert_eq!(parse_rfc3339("1970-01-01T00:00:00Z"), Some(0));
        assert_eq!(parse_rfc3339("2025-05-05T12:54:12Z"), Some(1_746_449_652));
        assert_eq!(parse_rfc3339("2025-05-05T14:54:12+02:00"), Some(1_746_449_652));
        assert_eq!(parse_rfc3339("2025-05-05T12:54:12.999Z"), Some(1_746_449_652));
        assert_eq!(parse_rfc3339("2025-05-05"), None);
        assert_eq!(parse_rfc3339(""), None);
    }
}
