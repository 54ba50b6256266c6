//! Chrome/Apple v3 log lists (`log_list.json`, `all_logs_list.json`).

use crate::Hash;

/// Log list errors.
#[derive(Debug, thiserror::Error)]
pub enum LogListError {
    #[error("log list is not valid JSON for schema v3: {0}")]
    Json(#[from] serde_json::Error),
    #[error("log {description:?}: {detail}")]
    BadLog { description: String, detail: String },
}

/// How the log is read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LogEndpoint {
    /// RFC 6962: base URL; requests go to `<url>/ct/v1/...` (url ends with `/`).
    Rfc6962 { url: String },
    /// static-ct-api: `monitoring_url` serves checkpoint, tiles, issuers.
    Static { submission_url: String, monitoring_url: String },
}

/// A log's state in the list.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogState {
    Pending,
    Qualified,
    Usable,
    Readonly,
    Retired,
    Rejected,
    /// No `state` field.
    Unknown,
}

/// One log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogInfo {
    pub description: String,
    pub operator: String,
    pub log_id: Hash,
    /// DER SubjectPublicKeyInfo.
    pub key: Vec<u8>,
    pub endpoint: LogEndpoint,
    /// Maximum merge delay, seconds.
    pub mmd: u64,
    pub state: LogState,
    /// `[start_inclusive, end_exclusive)` as Unix seconds.
    pub temporal_interval: Option<(i64, i64)>,
    /// For readonly logs: the final tree size.
    pub final_tree_size: Option<u64>,
}

impl LogInfo {
    /// Default selection: usable, qualified or readonly, and `now` (Unix seconds) within the
    /// temporal interval when there is one.
    pub fn followed_by_default(&self, now: i64) -> bool {
        todo!()
    }
}

/// A parsed log list.
#[derive(Debug, Clone)]
pub struct LogList {
    pub version: String,
    pub log_list_timestamp: String,
    pub logs: Vec<LogInfo>,
}

/// Parse v3 JSON (both `logs` and `tiled_logs` of every operator, all states). A log whose
/// key or log_id is not valid base64, or whose log_id is not SHA-256 of its key, is an error
/// naming the log.
pub fn parse_log_list(json: &[u8]) -> Result<LogList, LogListError> {
    todo!()
}
