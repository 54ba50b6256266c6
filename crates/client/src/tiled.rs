//! C2SP static-ct-api client: checkpoint, hash tiles, data tiles, issuers.

use crate::budget::RequestBudget;
use crate::http::{Body, FetchError, FetchObserver, HttpConfig, Transport};
use crate::rfc6962::{malformed, normalize_base};
use ctwatch_ct::Hash;
use ctwatch_ct::tile::{data_tile_path, hash_tile_path};
use std::io::Read as _;
use std::sync::Arc;

/// Client for one tiled log's monitoring prefix.
#[derive(Debug, Clone)]
pub struct StaticClient {
    base: String,
    transport: Transport,
}

impl StaticClient {
    /// `monitoring_url` from the log list.
    pub fn new(monitoring_url: &str, config: &HttpConfig) -> Result<Self, FetchError> {
        Ok(StaticClient { base: normalize_base(monitoring_url)?, transport: Transport::new(config)? })
    }

    /// Share a request budget.
    pub fn with_budget(mut self, budget: Arc<RequestBudget>) -> Self {
        self.transport.budget = budget;
        self
    }

    /// Report each HTTP attempt to `observer`.
    pub fn with_observer(mut self, observer: Arc<dyn FetchObserver>) -> Self {
        self.transport.observer = observer;
        self
    }

    /// The monitoring prefix (ends with `/`).
    pub fn url(&self) -> &str {
        &self.base
    }

    /// The raw signed note at `<monitoring>/checkpoint`.
    pub async fn get_checkpoint(&self) -> Result<Vec<u8>, FetchError> {
        let url = format!("{}checkpoint", self.base);
        self.fetch("checkpoint", &url, false).await.map(|b| b.unwrap_or_default())
    }

    /// Hash tile `level`/`n` of `width` hashes (width 256 = full tile).
    pub async fn get_hash_tile(&self, level: u8, n: u64, width: u64) -> Result<Vec<Hash>, FetchError> {
        let url = format!("{}{}", self.base, hash_tile_path(level, n, width));
        let body = self.fetch_tile("hash-tile", &url, width).await?;
        if body.len() as u64 != width * 32 {
            return Err(malformed(&url, format!("{} bytes, expected {}", body.len(), width * 32)));
        }
        Ok(body.chunks_exact(32).map(|c| <Hash>::try_from(c).unwrap_or([0; 32])).collect())
    }

    /// Data tile `n` of `width` entries, decompressed.
    pub async fn get_data_tile(&self, n: u64, width: u64) -> Result<Vec<u8>, FetchError> {
        let url = format!("{}{}", self.base, data_tile_path(n, width));
        self.fetch_tile("data-tile", &url, width).await
    }

    /// The issuer certificate with SHA-256 fingerprint `fingerprint`.
    pub async fn get_issuer(&self, fingerprint: &Hash) -> Result<Vec<u8>, FetchError> {
        let url = format!("{}issuer/{}", self.base, hex_lower(fingerprint));
        match self.fetch("issuer", &url, false).await? {
            Some(b) => Ok(b),
            None => Err(FetchError::Status { url, status: 404 }),
        }
    }

    /// A full tile may be missing while only its partial version exists; the caller asks for
    /// the width it knows is published, so a 404 is an error here.
    async fn fetch_tile(&self, endpoint: &'static str, url: &str, _width: u64) -> Result<Vec<u8>, FetchError> {
        let body = match self.fetch(endpoint, url, false).await? {
            Some(b) => b,
            None => return Err(FetchError::Status { url: url.to_string(), status: 404 }),
        };
        maybe_gunzip(url, body, self.transport.config.max_response_bytes)
    }

    async fn fetch(&self, endpoint: &'static str, url: &str, allow_404: bool) -> Result<Option<Vec<u8>>, FetchError> {
        match self.transport.get(endpoint, url, allow_404).await? {
            Body::Ok(b) => Ok(Some(b)),
            Body::NotFound => Ok(None),
        }
    }
}

/// Tiles may be served gzip-compressed without a Content-Encoding header; detect the gzip magic
/// and inflate with the same size bound as any response.
fn maybe_gunzip(url: &str, body: Vec<u8>, limit: usize) -> Result<Vec<u8>, FetchError> {
    if body.len() < 2 || body[0] != 0x1f || body[1] != 0x8b {
        return Ok(body);
    }
    let mut out = Vec::new();
    let mut decoder = flate2::read::GzDecoder::new(body.as_slice()).take(limit as u64 + 1);
    decoder.read_to_end(&mut out).map_err(|e| malformed(url, format!("gzip: {e}")))?;
    if out.len() > limit {
        return Err(FetchError::TooLarge { url: url.to_string(), limit });
    }
    Ok(out)
}

fn hex_lower(bytes: &[u8]) -> String {
    use std::fmt::Write as _;
    bytes.iter().fold(String::with_capacity(bytes.len() * 2), |mut s, b| {
        let _ = write!(s, "{b:02x}");
        s
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write as _;

    #[test]
    fn gunzip_only_when_magic_present() {
        assert_eq!(maybe_gunzip("u", b"plain".to_vec(), 100).unwrap(), b"plain");
        let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        enc.write_all(&[7u8; 1000]).unwrap();
        let gz = enc.finish().unwrap();
        assert_eq!(maybe_gunzip("u", gz.clone(), 1000).unwrap(), vec![7u8; 1000]);
        // A gzip bomb beyond the limit is refused.
        assert!(matches!(maybe_gunzip("u", gz, 999), Err(FetchError::TooLarge { .. })));
        assert!(matches!(maybe_gunzip("u", vec![0x1f, 0x8b, 0, 0], 100), Err(FetchError::Malformed { .. })));
    }
}
