//! RFC 6962 §4 client: get-sth, get-sth-consistency, get-entries.

use crate::budget::RequestBudget;
use crate::http::{Body, FetchError, FetchObserver, HttpConfig, Transport};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use ctwatch_ct::Hash;
use ctwatch_ct::sth::{SignedTreeHead, TreeHead};
use std::sync::Arc;

/// One get-entries element, undecoded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RawEntry {
    pub leaf_input: Vec<u8>,
    pub extra_data: Vec<u8>,
}

/// Client for one RFC 6962 log.
#[derive(Debug, Clone)]
pub struct Rfc6962Client {
    base: String,
    transport: Transport,
}

#[derive(serde::Deserialize)]
struct SthJson {
    tree_size: u64,
    timestamp: u64,
    sha256_root_hash: String,
    tree_head_signature: String,
}

#[derive(serde::Deserialize)]
struct ProofByHashJson {
    leaf_index: u64,
    audit_path: Vec<String>,
}

#[derive(serde::Deserialize)]
struct ConsistencyJson {
    consistency: Vec<String>,
}

/// get-entries bodies are parsed without copying the base64 strings (borrowed unless the log
/// escaped characters in them).
#[derive(serde::Deserialize)]
struct EntriesJson<'a> {
    #[serde(borrow)]
    entries: Vec<EntryJson<'a>>,
}

#[derive(serde::Deserialize)]
struct EntryJson<'a> {
    #[serde(borrow)]
    leaf_input: std::borrow::Cow<'a, str>,
    #[serde(borrow)]
    extra_data: std::borrow::Cow<'a, str>,
}

impl Rfc6962Client {
    /// `url` is the log's base URL as in the log list (`https://host/path/`); only http and
    /// https are accepted.
    pub fn new(url: &str, config: &HttpConfig) -> Result<Self, FetchError> {
        let base = normalize_base(url)?;
        Ok(Rfc6962Client { base, transport: Transport::new(config)? })
    }

    /// Share a request budget (token bucket) across this client's clones.
    pub fn with_budget(mut self, budget: Arc<RequestBudget>) -> Self {
        self.transport.budget = budget;
        self
    }

    /// Report each HTTP attempt to `observer`.
    pub fn with_observer(mut self, observer: Arc<dyn FetchObserver>) -> Self {
        self.transport.observer = observer;
        self
    }

    /// The base URL (ends with `/`).
    pub fn url(&self) -> &str {
        &self.base
    }

    /// GET ct/v1/get-sth (the signature is not checked here).
    pub async fn get_sth(&self) -> Result<SignedTreeHead, FetchError> {
        let url = format!("{}ct/v1/get-sth", self.base);
        let body = self.fetch("get-sth", &url).await?;
        let j: SthJson = parse_json(&url, &body)?;
        let root = decode_hash(&url, "sha256_root_hash", &j.sha256_root_hash)?;
        let signature =
            B64.decode(&j.tree_head_signature).map_err(|e| malformed(&url, format!("tree_head_signature: {e}")))?;
        Ok(SignedTreeHead {
            head: TreeHead { tree_size: j.tree_size, timestamp: j.timestamp, root_hash: root },
            signature,
        })
    }

    /// GET ct/v1/get-sth-consistency.
    pub async fn get_consistency(&self, first: u64, second: u64) -> Result<Vec<Hash>, FetchError> {
        let url = format!("{}ct/v1/get-sth-consistency?first={first}&second={second}", self.base);
        let body = self.fetch("get-sth-consistency", &url).await?;
        let j: ConsistencyJson = parse_json(&url, &body)?;
        if j.consistency.len() > 128 {
            return Err(malformed(&url, format!("{} proof hashes", j.consistency.len())));
        }
        j.consistency.iter().map(|h| decode_hash(&url, "consistency", h)).collect()
    }

    /// GET ct/v1/get-proof-by-hash: the index of the leaf whose Merkle leaf hash is
    /// `leaf_hash` in the tree of `tree_size` leaves, and its inclusion proof. Nothing is
    /// verified here.
    pub async fn get_proof_by_hash(&self, leaf_hash: &Hash, tree_size: u64) -> Result<(u64, Vec<Hash>), FetchError> {
        let hash: String = B64
            .encode(leaf_hash)
            .chars()
            .map(|c| match c {
                '+' => "%2B".to_string(),
                '/' => "%2F".to_string(),
                '=' => "%3D".to_string(),
                c => c.to_string(),
            })
            .collect();
        let url = format!("{}ct/v1/get-proof-by-hash?hash={hash}&tree_size={tree_size}", self.base);
        let body = self.fetch("get-proof-by-hash", &url).await?;
        let j: ProofByHashJson = parse_json(&url, &body)?;
        if j.audit_path.len() > 128 {
            return Err(malformed(&url, format!("{} proof hashes", j.audit_path.len())));
        }
        let path = j.audit_path.iter().map(|h| decode_hash(&url, "audit_path", h)).collect::<Result<_, _>>()?;
        Ok((j.leaf_index, path))
    }

    /// GET ct/v1/get-entries for `[start, end]` (inclusive). The log may return fewer entries
    /// than asked; it must return at least one and never more.
    pub async fn get_entries(&self, start: u64, end: u64) -> Result<Vec<RawEntry>, FetchError> {
        let url = format!("{}ct/v1/get-entries?start={start}&end={end}", self.base);
        let body = self.fetch("get-entries", &url).await?;
        let j: EntriesJson<'_> = serde_json::from_slice(&body).map_err(|e| malformed(&url, format!("JSON: {e}")))?;
        let asked = end.saturating_sub(start).saturating_add(1);
        if j.entries.is_empty() {
            return Err(malformed(&url, "no entries returned".to_string()));
        }
        if j.entries.len() as u64 > asked {
            return Err(malformed(&url, format!("{} entries returned for {asked} asked", j.entries.len())));
        }
        j.entries
            .into_iter()
            .enumerate()
            .map(|(i, e)| {
                let leaf_input = B64
                    .decode(e.leaf_input.as_bytes())
                    .map_err(|err| malformed(&url, format!("entry {}: leaf_input: {err}", start + i as u64)))?;
                let extra_data = B64
                    .decode(e.extra_data.as_bytes())
                    .map_err(|err| malformed(&url, format!("entry {}: extra_data: {err}", start + i as u64)))?;
                Ok(RawEntry { leaf_input, extra_data })
            })
            .collect()
    }

    async fn fetch(&self, endpoint: &'static str, url: &str) -> Result<Vec<u8>, FetchError> {
        match self.transport.get(endpoint, url, false).await? {
            Body::Ok(b) => Ok(b),
            Body::NotFound => Err(FetchError::Status { url: url.to_string(), status: 404 }),
        }
    }
}

pub(crate) fn normalize_base(url: &str) -> Result<String, FetchError> {
    let lower = url.to_ascii_lowercase();
    if !(lower.starts_with("http://") || lower.starts_with("https://")) {
        return Err(FetchError::BadUrl { url: url.to_string(), detail: "scheme must be http or https".into() });
    }
    if url.contains(['?', '#', ' ']) {
        return Err(FetchError::BadUrl {
            url: url.to_string(),
            detail: "must not contain a query, fragment or space".into(),
        });
    }
    let mut base = url.to_string();
    if !base.ends_with('/') {
        base.push('/');
    }
    Ok(base)
}

pub(crate) fn malformed(url: &str, detail: String) -> FetchError {
    FetchError::Malformed { url: url.to_string(), detail }
}

fn parse_json<T: serde::de::DeserializeOwned>(url: &str, body: &[u8]) -> Result<T, FetchError> {
    serde_json::from_slice(body).map_err(|e| malformed(url, format!("JSON: {e}")))
}

fn decode_hash(url: &str, field: &str, b64: &str) -> Result<Hash, FetchError> {
    let bytes = B64.decode(b64).map_err(|e| malformed(url, format!("{field}: {e}")))?;
    <Hash>::try_from(bytes.as_slice())
        .map_err(|_| malformed(url, format!("{field}: {} bytes, expected 32", bytes.len())))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base_urls_are_normalized_and_checked() {
        assert_eq!(normalize_base("https://ct.example/log").unwrap(), "https://ct.example/log/");
        assert_eq!(normalize_base("http://127.0.0.1:1/x/").unwrap(), "http://127.0.0.1:1/x/");
        assert!(normalize_base("ftp://ct.example/").is_err());
        assert!(normalize_base("file:///etc/passwd").is_err());
        assert!(normalize_base("https://x/?a=b").is_err());
    }
}
