//! [`TestLog`]: one Merkle tree of real entries, its published heads, and the ways it can be
//! told to misbehave. The HTTP views ([`crate::server`]) read it; nothing here knows HTTP.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Instant;

use ctwatch_ct::sth::{LogSigner, SignedTreeHead, TreeHead, tree_head_signature_input};
use ctwatch_ct::wire::{SignedEntry, TileLeaf, TimestampedEntry, leaf_index_extensions};
use ctwatch_ct::{Hash, merkle::leaf_hash, sha256};

use crate::ca::{CertError, CertFactory, LeafSpec, POISON_OID, Precert, encode_sct_list};
use crate::der::{self, DerError};
use crate::tree::Tree;

/// Errors from adding entries to a [`TestLog`].
#[derive(Debug, thiserror::Error)]
pub enum TestLogError {
    /// Certificate generation failed.
    #[error(transparent)]
    Cert(#[from] CertError),
    /// A certificate handed to the log is not the DER it should be.
    #[error("certificate handed to the log: {0}")]
    Der(#[from] DerError),
    /// There is no entry at this index.
    #[error("no entry at index {index} (the log has {size})")]
    NoSuchEntry { index: u64, size: u64 },
    /// The static-ct-api `leaf_index` extension holds 40 bits.
    #[error("the log is full: index {0} does not fit in 40 bits")]
    Full(u64),
}

/// A way for the log to misbehave, set at runtime with [`TestLog::set_misbehaviour`] or
/// [`TestLog::add_misbehaviour`].
///
/// The tree-head kinds change the head that get-sth and the checkpoint serve (recomputed on
/// every [`TestLog::publish`] and misbehaviour change); the others change individual HTTP
/// responses. "Every n-th request" counts the requests to this log that passed the rate limit,
/// starting at 1; `every_n == 0` never fires.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Misbehaviour {
    /// The served tree head's signature does not verify (it signs a different head).
    BadSthSignature,
    /// The served tree head signs a root that is not the tree's (SHA-256 of the real root).
    WrongRootHash,
    /// A forked tree: every entry at or after `from_index` is replaced by a variant (its
    /// timestamp plus one ms, or for raw entries the last byte flipped). Heads, entries, proofs
    /// and tiles are all served from the fork, consistently with each other but not with heads
    /// published before covering `from_index`.
    SplitView {
        /// The first forked entry.
        from_index: u64,
    },
    /// The served head is a correctly signed head of the first `to_size` entries (when smaller
    /// than the published size), with a current timestamp.
    Rollback {
        /// The size the served head claims.
        to_size: u64,
    },
    /// The served head's timestamp is older than the MMD (MMD + 1 hour before publication).
    StaleSth,
    /// get-entries and data tiles serve the entry at `index` with one byte flipped, while the
    /// tree still hashes the original: the root no longer matches the entries.
    CorruptLeafBytes {
        /// The corrupted entry.
        index: u64,
    },
    /// get-entries returns at most `max` entries.
    ShortBatches {
        /// Entries per response.
        max: u64,
    },
    /// get-entries returns no entries at all (with status 200).
    EmptyBatches,
    /// get-entries repeats the first entry of each batch in place of the second (same count).
    DuplicatedEntries,
    /// get-entries swaps the first two entries of each batch.
    ReorderedEntries,
    /// get-entries answers with one entry more than asked for: the entry after `end` (even
    /// beyond the published size, when the log holds it) is appended to each batch.
    OutOfRangeEntries,
    /// JSON endpoints answer 200 with a body that is not JSON.
    GarbageJson,
    /// JSON endpoints answer 200 with the first half of the real JSON.
    TruncatedJson,
    /// JSON endpoints pad their (valid) JSON with an extra field to at least `bytes` bytes.
    Oversized {
        /// Minimum body size.
        bytes: usize,
    },
    /// Every n-th request gets 429 with `Retry-After: retry_after_secs`.
    TooManyRequests {
        /// Which requests.
        every_n: u64,
        /// The Retry-After value, seconds.
        retry_after_secs: u64,
    },
    /// Every n-th request gets 500.
    ServerError {
        /// Which requests.
        every_n: u64,
    },
    /// Every n-th request gets a 200 header and a few body bytes, then the connection is cut.
    ResetConnection {
        /// Which requests.
        every_n: u64,
    },
    /// Every response is delayed by `ms` milliseconds.
    Stall {
        /// The delay.
        ms: u64,
    },
    /// Full tiles (data and hash) are never served (404); partial tiles of any width up to the
    /// published size are.
    PartialTileForever,
}

/// How [`crate::log_list_json`] lists a log.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ListedAs {
    /// Only under `logs` with its RFC 6962 `url`.
    #[default]
    Rfc6962,
    /// Only under `tiled_logs` with `submission_url` and `monitoring_url`.
    Tiled,
    /// Both (the same key and log ID twice).
    Both,
}

/// A token bucket rate limit: requests beyond it get 429 with a Retry-After.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RateLimit {
    /// Sustained requests per second.
    pub per_second: f64,
    /// Bucket size: how many requests may come at once.
    pub burst: f64,
}

/// Serving options of a log; change them at runtime with [`TestLog::set_options`].
#[derive(Debug, Clone, PartialEq)]
pub struct LogOptions {
    /// Most entries one get-entries response holds.
    pub max_batch: u64,
    /// Serve data tiles with `Content-Encoding: gzip`.
    pub gzip_data_tiles: bool,
    /// The request rate limit, if any.
    pub rate_limit: Option<RateLimit>,
    /// The maximum merge delay, seconds (listed in the log list; [`Misbehaviour::StaleSth`]
    /// goes beyond it).
    pub mmd_secs: u64,
    /// How [`crate::log_list_json`] lists the log.
    pub listed_as: ListedAs,
}

impl Default for LogOptions {
    fn default() -> Self {
        LogOptions {
            max_batch: 256,
            gzip_data_tiles: false,
            rate_limit: None,
            mmd_secs: 86_400,
            listed_as: ListedAs::Rfc6962,
        }
    }
}

/// The endpoints requests are counted under.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Endpoint {
    /// `ct/v1/get-sth`.
    GetSth,
    /// `ct/v1/get-sth-consistency`.
    GetSthConsistency,
    /// `ct/v1/get-proof-by-hash`.
    GetProofByHash,
    /// `ct/v1/get-entries`.
    GetEntries,
    /// `ct/v1/get-roots`.
    GetRoots,
    /// `checkpoint`.
    Checkpoint,
    /// `tile/<L>/<N>`.
    HashTile,
    /// `tile/data/<N>`.
    DataTile,
    /// `issuer/<hex>`.
    Issuer,
    /// Anything else under the log's prefixes.
    Unknown,
}

impl Endpoint {
    /// The endpoint's name as in the URL (`get-entries`, `checkpoint`, `tile`, `data-tile`, ...).
    pub fn as_str(self) -> &'static str {
        match self {
            Endpoint::GetSth => "get-sth",
            Endpoint::GetSthConsistency => "get-sth-consistency",
            Endpoint::GetProofByHash => "get-proof-by-hash",
            Endpoint::GetEntries => "get-entries",
            Endpoint::GetRoots => "get-roots",
            Endpoint::Checkpoint => "checkpoint",
            Endpoint::HashTile => "tile",
            Endpoint::DataTile => "data-tile",
            Endpoint::Issuer => "issuer",
            Endpoint::Unknown => "unknown",
        }
    }
}

/// Request counters of one log.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RequestStats {
    /// All requests.
    pub total: u64,
    /// Requests per endpoint.
    pub by_endpoint: BTreeMap<Endpoint, u64>,
    /// Responses per HTTP status.
    pub by_status: BTreeMap<u16, u64>,
    /// Responses per endpoint and status.
    pub by_endpoint_status: BTreeMap<(Endpoint, u16), u64>,
    /// 429s sent by the rate limit (a subset of the 429s in `by_status`).
    pub rate_limited: u64,
    /// Connections cut by [`Misbehaviour::ResetConnection`] (counted with status 200).
    pub resets: u64,
}

impl RequestStats {
    /// Requests to `endpoint`.
    pub fn endpoint(&self, endpoint: Endpoint) -> u64 {
        self.by_endpoint.get(&endpoint).copied().unwrap_or(0)
    }

    /// Responses with `status`.
    pub fn status(&self, status: u16) -> u64 {
        self.by_status.get(&status).copied().unwrap_or(0)
    }

    /// Responses to `endpoint` with `status`.
    pub fn count(&self, endpoint: Endpoint, status: u16) -> u64 {
        self.by_endpoint_status.get(&(endpoint, status)).copied().unwrap_or(0)
    }

    pub(crate) fn record(&mut self, endpoint: Endpoint, status: u16) {
        self.total += 1;
        *self.by_endpoint.entry(endpoint).or_default() += 1;
        *self.by_status.entry(status).or_default() += 1;
        *self.by_endpoint_status.entry((endpoint, status)).or_default() += 1;
    }
}

/// A precertificate logged, its SCT, and the final certificate.
#[derive(Debug, Clone)]
pub struct IssuedCert {
    /// The precertificate.
    pub precert: Precert,
    /// Where the precertificate was logged.
    pub precert_index: u64,
    /// The serialized SCT the log issued for the precertificate.
    pub sct: Vec<u8>,
    /// The final certificate, embedding `sct`.
    pub final_der: Vec<u8>,
    /// Where the final certificate was logged, if it was.
    pub final_index: Option<u64>,
}

/// One stored entry.
#[derive(Debug, Clone)]
pub(crate) enum Stored {
    /// A well-formed entry, kept as its static-ct-api `TileLeaf` (the RFC 6962 leaf_input and
    /// extra_data are derived from it).
    Cert(TileLeaf),
    /// An entry appended verbatim by [`TestLog::add_raw_entry`].
    Raw { leaf_input: Vec<u8>, extra_data: Vec<u8> },
}

impl Stored {
    pub(crate) fn leaf_input(&self) -> Vec<u8> {
        match self {
            Stored::Cert(leaf) => leaf.entry.encode_leaf_input(),
            Stored::Raw { leaf_input, .. } => leaf_input.clone(),
        }
    }

    /// The entry as the other branch of a split view sees it.
    fn fork_variant(&self) -> Stored {
        match self {
            Stored::Cert(leaf) => {
                let mut leaf = leaf.clone();
                leaf.entry.timestamp = leaf.entry.timestamp.wrapping_add(1);
                Stored::Cert(leaf)
            }
            Stored::Raw { leaf_input, extra_data } => {
                let mut leaf_input = leaf_input.clone();
                match leaf_input.last_mut() {
                    Some(last) => *last ^= 1,
                    None => leaf_input.push(0),
                }
                Stored::Raw { leaf_input, extra_data: extra_data.clone() }
            }
        }
    }
}

/// The forked branch of a split view.
#[derive(Debug)]
pub(crate) struct Fork {
    pub(crate) from_index: u64,
    pub(crate) tree: Tree,
    pub(crate) index_of: HashMap<Hash, u64>,
}

/// A token bucket.
#[derive(Debug)]
pub(crate) struct Bucket {
    tokens: f64,
    last: Instant,
}

/// Everything behind the [`TestLog`] handle's lock.
#[derive(Debug)]
pub(crate) struct LogState {
    pub(crate) name: String,
    pub(crate) signer: Arc<LogSigner>,
    pub(crate) log_id: Hash,
    pub(crate) spki_der: Vec<u8>,
    pub(crate) entries: Vec<Stored>,
    pub(crate) tree: Tree,
    pub(crate) index_of: HashMap<Hash, u64>,
    pub(crate) fork: Option<Fork>,
    /// Chain certificates by SHA-256 fingerprint (served at `issuer/<hex>`).
    pub(crate) issuers: HashMap<Hash, Arc<Vec<u8>>>,
    /// Root certificates for get-roots, in the order first seen.
    pub(crate) roots: Vec<Hash>,
    /// The honest head of the last publish: entries are visible up to its size.
    pub(crate) published: TreeHead,
    /// The head get-sth and the checkpoint serve (the published head, misbehaviour applied).
    pub(crate) served: SignedTreeHead,
    pub(crate) misbehaviours: Vec<Misbehaviour>,
    pub(crate) options: LogOptions,
    pub(crate) stats: RequestStats,
    /// Requests that passed the rate limit, for the every-n-th misbehaviours.
    pub(crate) request_number: u64,
    pub(crate) bucket: Option<Bucket>,
}

impl LogState {
    /// The tree the HTTP views serve: the fork during a split view.
    pub(crate) fn view_tree(&self) -> &Tree {
        self.fork.as_ref().map_or(&self.tree, |f| &f.tree)
    }

    /// The entry at `index` as served (the fork variant during a split view).
    pub(crate) fn view_entry(&self, index: u64) -> Option<Stored> {
        let stored = self.entries.get(usize::try_from(index).ok()?)?;
        Some(match &self.fork {
            Some(fork) if index >= fork.from_index => stored.fork_variant(),
            _ => stored.clone(),
        })
    }

    /// Index of a leaf hash in the served tree.
    pub(crate) fn view_index_of(&self, hash: &Hash) -> Option<u64> {
        self.fork.as_ref().map_or(&self.index_of, |f| &f.index_of).get(hash).copied()
    }

    /// The RFC 6962 extra_data of a stored entry (the reference `write_extra_data` is tested
    /// against).
    #[cfg(test)]
    pub(crate) fn extra_data(&self, stored: &Stored) -> Vec<u8> {
        use ctwatch_ct::wire::{ExtraData, encode_extra_data};
        match stored {
            Stored::Raw { extra_data, .. } => extra_data.clone(),
            Stored::Cert(leaf) => {
                let chain = leaf
                    .chain_fingerprints
                    .iter()
                    .filter_map(|fp| self.issuers.get(fp).map(|der| der.as_ref().clone()))
                    .collect();
                let extra = ExtraData { pre_certificate: leaf.pre_certificate.clone(), chain };
                encode_extra_data(leaf.entry.signed_entry.entry_type(), &extra)
            }
        }
    }

    /// Append the RFC 6962 extra_data of a stored entry to `out` without copying the chain.
    pub(crate) fn write_extra_data(&self, stored: &Stored, out: &mut Vec<u8>) {
        fn u24(out: &mut Vec<u8>, n: usize) {
            out.extend_from_slice(&(n as u32).to_be_bytes()[1..]);
        }
        let leaf = match stored {
            Stored::Raw { extra_data, .. } => {
                out.extend_from_slice(extra_data);
                return;
            }
            Stored::Cert(leaf) => leaf,
        };
        if leaf.entry.signed_entry.entry_type() == ctwatch_ct::wire::EntryType::Precert {
            let pre = leaf.pre_certificate.as_deref().unwrap_or_default();
            u24(out, pre.len());
            out.extend_from_slice(pre);
        }
        let chain: Vec<&Arc<Vec<u8>>> = leaf.chain_fingerprints.iter().filter_map(|fp| self.issuers.get(fp)).collect();
        u24(out, chain.iter().map(|c| c.len() + 3).sum());
        for cert in chain {
            u24(out, cert.len());
            out.extend_from_slice(cert);
        }
    }

    /// The static-ct-api TileLeaf bytes of a stored entry. A raw entry is served as its
    /// leaf_input without the two MerkleTreeLeaf header bytes, followed by its extra_data.
    pub(crate) fn tile_leaf(stored: &Stored) -> Vec<u8> {
        match stored {
            Stored::Cert(leaf) => leaf.encode(),
            Stored::Raw { leaf_input, extra_data } => {
                let mut out = leaf_input.get(2..).unwrap_or_default().to_vec();
                out.extend_from_slice(extra_data);
                out
            }
        }
    }

    fn has(&self, pred: impl Fn(&Misbehaviour) -> bool) -> bool {
        self.misbehaviours.iter().any(pred)
    }

    pub(crate) fn misbehaving(&self, pred: impl Fn(&Misbehaviour) -> bool) -> bool {
        self.has(pred)
    }

    /// Append an entry to the tree (and to the fork, if there is one).
    fn append(&mut self, stored: Stored) -> u64 {
        let index = self.entries.len() as u64;
        let hash = leaf_hash(&stored.leaf_input());
        self.tree.push(hash);
        self.index_of.entry(hash).or_insert(index);
        if let Some(fork) = &mut self.fork {
            let fork_hash =
                if index >= fork.from_index { leaf_hash(&stored.fork_variant().leaf_input()) } else { hash };
            fork.tree.push(fork_hash);
            fork.index_of.entry(fork_hash).or_insert(index);
        }
        self.entries.push(stored);
        index
    }

    fn next_index(&self) -> Result<u64, TestLogError> {
        let index = self.entries.len() as u64;
        if index >= 1 << 40 { Err(TestLogError::Full(index)) } else { Ok(index) }
    }

    /// Remember the chain certificates (by fingerprint) and the root; returns the fingerprints.
    fn register_chain(&mut self, chain: &[(&[u8], Hash)]) -> Vec<Hash> {
        for (der, fp) in chain {
            self.issuers.entry(*fp).or_insert_with(|| Arc::new(der.to_vec()));
        }
        if let Some((_, root)) = chain.last()
            && !self.roots.contains(root)
        {
            self.roots.push(*root);
        }
        chain.iter().map(|(_, fp)| *fp).collect()
    }

    fn add_cert_entry(
        &mut self,
        timestamp_ms: u64,
        signed_entry: SignedEntry,
        pre_certificate: Option<Vec<u8>>,
        chain: &[(&[u8], Hash)],
    ) -> Result<u64, TestLogError> {
        let index = self.next_index()?;
        let chain_fingerprints = self.register_chain(chain);
        let entry =
            TimestampedEntry { timestamp: timestamp_ms, signed_entry, extensions: leaf_index_extensions(index) };
        Ok(self.append(Stored::Cert(TileLeaf { entry, pre_certificate, chain_fingerprints })))
    }

    /// Recompute the served head from the published one and the misbehaviours.
    fn refresh_served(&mut self) {
        // Keep the fork in step with the SplitView setting.
        let split = self.misbehaviours.iter().find_map(|m| match m {
            Misbehaviour::SplitView { from_index } => Some(*from_index),
            _ => None,
        });
        match split {
            Some(from) if self.fork.as_ref().map(|f| f.from_index) != Some(from) => {
                self.fork = Some(self.build_fork(from))
            }
            Some(_) => {}
            None => self.fork = None,
        }

        let published = self.published;
        let mut head = TreeHead { root_hash: self.view_tree().root(published.tree_size), ..published };
        let mut bad_signature = false;
        for m in &self.misbehaviours {
            match m {
                Misbehaviour::WrongRootHash => head.root_hash = sha256(&head.root_hash),
                Misbehaviour::Rollback { to_size } if *to_size < head.tree_size => {
                    head.tree_size = *to_size;
                    head.root_hash = self.view_tree().root(*to_size);
                }
                Misbehaviour::StaleSth => {
                    let age_ms = (self.options.mmd_secs + 3600) * 1000;
                    head.timestamp = head.timestamp.saturating_sub(age_ms);
                }
                Misbehaviour::BadSthSignature => bad_signature = true,
                _ => {}
            }
        }
        let mut signed = self.signer.sign_tree_head(&head);
        if bad_signature {
            let other = TreeHead { tree_size: head.tree_size + 1, ..head };
            signed.signature = self.signer.sign(&tree_head_signature_input(&other));
        }
        self.served = signed;
    }

    fn build_fork(&self, from_index: u64) -> Fork {
        let mut fork = Fork { from_index, tree: Tree::default(), index_of: HashMap::new() };
        for (index, stored) in self.entries.iter().enumerate() {
            let index = index as u64;
            let hash = if index >= from_index {
                leaf_hash(&stored.fork_variant().leaf_input())
            } else {
                self.tree.leaf(index).unwrap_or_else(|| leaf_hash(&stored.leaf_input()))
            };
            fork.tree.push(hash);
            fork.index_of.entry(hash).or_insert(index);
        }
        fork
    }

    /// Take a token from the rate limit bucket, or say how many seconds to wait.
    pub(crate) fn take_token(&mut self) -> Result<(), u64> {
        let Some(limit) = self.options.rate_limit else {
            return Ok(());
        };
        let now = Instant::now();
        let burst = limit.burst.max(1.0);
        let bucket = self.bucket.get_or_insert(Bucket { tokens: burst, last: now });
        let elapsed = now.duration_since(bucket.last).as_secs_f64();
        bucket.tokens = (bucket.tokens + elapsed * limit.per_second).min(burst);
        bucket.last = now;
        if bucket.tokens >= 1.0 {
            bucket.tokens -= 1.0;
            Ok(())
        } else if limit.per_second > 0.0 {
            Err(((1.0 - bucket.tokens) / limit.per_second).ceil().max(1.0) as u64)
        } else {
            Err(3600)
        }
    }
}

/// A test CT log: one Merkle tree served both as an RFC 6962 log and as a static-ct-api log by
/// [`crate::serve`]. Cheap to clone: clones share the log.
///
/// Entries become visible over HTTP only once [`TestLog::publish`] has signed a head covering
/// them. Every leaf carries the static-ct-api `leaf_index` extension, so both views hash the
/// same leaves to the same root.
#[derive(Debug, Clone)]
pub struct TestLog {
    state: Arc<Mutex<LogState>>,
}

impl TestLog {
    /// A new empty log named `name` (the first path segment of its URLs), signing with
    /// `signer`, with default options. An empty tree head is published at once.
    pub fn new(name: &str, signer: LogSigner) -> TestLog {
        TestLog::with_options(name, signer, LogOptions::default())
    }

    /// A new empty log with `options`.
    pub fn with_options(name: &str, signer: LogSigner, options: LogOptions) -> TestLog {
        let signer = Arc::new(signer);
        let published = TreeHead { tree_size: 0, timestamp: now_ms(), root_hash: sha256(&[]) };
        let served = signer.sign_tree_head(&published);
        let state = LogState {
            name: name.to_owned(),
            log_id: signer.log_id(),
            spki_der: signer.spki_der().to_vec(),
            signer,
            entries: Vec::new(),
            tree: Tree::default(),
            index_of: HashMap::new(),
            fork: None,
            issuers: HashMap::new(),
            roots: Vec::new(),
            published,
            served,
            misbehaviours: Vec::new(),
            options,
            stats: RequestStats::default(),
            request_number: 0,
            bucket: None,
        };
        TestLog { state: Arc::new(Mutex::new(state)) }
    }

    pub(crate) fn lock(&self) -> MutexGuard<'_, LogState> {
        // A panic while holding the lock leaves consistent data behind (every mutation is a
        // push or an assignment), so a poisoned lock is still usable.
        self.state.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// The log's name (its URL path segment).
    pub fn name(&self) -> String {
        self.lock().name.clone()
    }

    /// The RFC 6962 LogID: SHA-256 of the log key's SPKI.
    pub fn log_id(&self) -> Hash {
        self.lock().log_id
    }

    /// The log's public key, DER SubjectPublicKeyInfo.
    pub fn log_key_spki_der(&self) -> Vec<u8> {
        self.lock().spki_der.clone()
    }

    /// Entries added so far, published or not.
    pub fn tree_size(&self) -> u64 {
        self.lock().entries.len() as u64
    }

    /// The size of the last published head: entries visible over HTTP.
    pub fn published_size(&self) -> u64 {
        self.lock().published.tree_size
    }

    /// The honest root of the first `size` entries (for tests to compare against).
    pub fn root_at(&self, size: u64) -> Hash {
        self.lock().tree.root(size)
    }

    /// The RFC 6962 leaf hash of the entry at `index`, as the honest tree has it.
    pub fn leaf_hash(&self, index: u64) -> Option<Hash> {
        self.lock().tree.leaf(index)
    }

    /// The RFC 6962 `leaf_input` of the entry at `index`.
    pub fn leaf_input(&self, index: u64) -> Option<Vec<u8>> {
        let state = self.lock();
        state.entries.get(usize::try_from(index).ok()?).map(Stored::leaf_input)
    }

    /// Log a precertificate: `issuer_der` signed it, `chain_rest` continues the chain to a root.
    /// The leaf is a precert_entry (issuer_key_hash, TBS without the poison); extra_data is the
    /// precertificate and the chain; the tiled view stores chain fingerprints and serves the
    /// chain certificates at `issuer/<hex sha256>`. Returns the entry's index.
    pub fn add_precert_entry(
        &self,
        precert_der: &[u8],
        issuer_der: &[u8],
        chain_rest: Vec<Vec<u8>>,
        timestamp_ms: u64,
    ) -> Result<u64, TestLogError> {
        let issuer_key_hash = sha256(der::certificate_spki(issuer_der)?);
        let tbs = der::certificate_parts(precert_der)?.tbs;
        let leaf_tbs = der::replace_extension(tbs, &der::oid_content(POISON_OID), None)?;
        let mut chain = vec![(issuer_der, sha256(issuer_der))];
        chain.extend(chain_rest.iter().map(|der| (der.as_slice(), sha256(der))));
        let signed_entry = SignedEntry::Precert { issuer_key_hash, tbs_certificate: leaf_tbs };
        self.lock().add_cert_entry(timestamp_ms, signed_entry, Some(precert_der.to_vec()), &chain)
    }

    /// Log a certificate as an x509_entry with `chain` (issuer first). Returns its index.
    pub fn add_x509_entry(&self, cert_der: &[u8], chain: Vec<Vec<u8>>, timestamp_ms: u64) -> Result<u64, TestLogError> {
        let chain: Vec<(&[u8], Hash)> = chain.iter().map(|der| (der.as_slice(), sha256(der))).collect();
        self.lock().add_cert_entry(timestamp_ms, SignedEntry::X509(cert_der.to_vec()), None, &chain)
    }

    /// Append an entry verbatim: the tree hashes `leaf_input` as given, so the root verifies
    /// while the entry itself may be malformed (a monitor must record it, not choke). The tiled
    /// view serves it as `leaf_input[2..] ‖ extra_data` in place of a TileLeaf.
    pub fn add_raw_entry(&self, leaf_input: Vec<u8>, extra_data: Vec<u8>) -> Result<u64, TestLogError> {
        let mut state = self.lock();
        state.next_index()?;
        Ok(state.append(Stored::Raw { leaf_input, extra_data }))
    }

    /// The serialized RFC 6962 SCT for the entry at `index`: version 0, this log's ID, the
    /// entry's timestamp and CT extensions (the `leaf_index`), and a signature over the
    /// entry (signature_type certificate_timestamp, the entry type and signed entry).
    pub fn sct_for_entry(&self, index: u64) -> Result<Vec<u8>, TestLogError> {
        let (entry, log_id, signer) = {
            let state = self.lock();
            let size = state.entries.len() as u64;
            match state.entries.get(usize::try_from(index).unwrap_or(usize::MAX)) {
                Some(Stored::Cert(leaf)) => (leaf.entry.clone(), state.log_id, Arc::clone(&state.signer)),
                _ => return Err(TestLogError::NoSuchEntry { index, size }),
            }
        };
        Ok(sign_sct(&signer, &log_id, &entry))
    }

    /// Issue a precertificate for `spec` from `factory`, log it at `timestamp_ms`, embed the
    /// log's SCT in the final certificate, and log the final certificate too when `log_final`
    /// (as an x509_entry at the same timestamp).
    pub fn issue(
        &self,
        factory: &CertFactory,
        spec: &LeafSpec,
        timestamp_ms: u64,
        log_final: bool,
    ) -> Result<IssuedCert, TestLogError> {
        let (precert, precert_index) = self.issue_precert(factory, spec, timestamp_ms)?;
        // The SCT signs exactly the entry just logged.
        let entry = TimestampedEntry {
            timestamp: timestamp_ms,
            signed_entry: SignedEntry::Precert {
                issuer_key_hash: precert.issuer_key_hash,
                tbs_certificate: precert.leaf_tbs.clone(),
            },
            extensions: leaf_index_extensions(precert_index),
        };
        let (signer, log_id) = {
            let state = self.lock();
            (Arc::clone(&state.signer), state.log_id)
        };
        let sct = sign_sct(&signer, &log_id, &entry);
        let final_der = factory.final_cert(&precert, &encode_sct_list(std::slice::from_ref(&sct)))?;
        let final_index = if log_final {
            let chain = factory.chain_with_fingerprints();
            Some(self.lock().add_cert_entry(timestamp_ms, SignedEntry::X509(final_der.clone()), None, &chain)?)
        } else {
            None
        };
        Ok(IssuedCert { precert, precert_index, sct, final_der, final_index })
    }

    /// Issue a precertificate for `spec` from `factory` and log it at `timestamp_ms`, without
    /// an SCT or final certificate (one signature per entry: the fastest way to grow a log).
    /// Returns the precertificate and its index.
    pub fn issue_precert(
        &self,
        factory: &CertFactory,
        spec: &LeafSpec,
        timestamp_ms: u64,
    ) -> Result<(Precert, u64), TestLogError> {
        let precert = factory.precert(spec)?;
        let signed_entry = SignedEntry::Precert {
            issuer_key_hash: precert.issuer_key_hash,
            tbs_certificate: precert.leaf_tbs.clone(),
        };
        let chain = factory.chain_with_fingerprints();
        let index = self.lock().add_cert_entry(timestamp_ms, signed_entry, Some(precert.der.clone()), &chain)?;
        Ok((precert, index))
    }

    /// Issue a plain certificate for `spec` from `factory` and log it as an x509_entry at
    /// `timestamp_ms`. Returns the certificate and its index.
    pub fn issue_x509(
        &self,
        factory: &CertFactory,
        spec: &LeafSpec,
        timestamp_ms: u64,
    ) -> Result<(Vec<u8>, u64), TestLogError> {
        let cert = factory.x509(spec)?;
        let chain = factory.chain_with_fingerprints();
        let index = self.lock().add_cert_entry(timestamp_ms, SignedEntry::X509(cert.clone()), None, &chain)?;
        Ok((cert, index))
    }

    /// Sign a head over every entry added so far and make them visible. Returns the head that
    /// get-sth and the checkpoint now serve (the honest head unless a misbehaviour changes
    /// it). Timestamps strictly increase from one publish to the next.
    pub fn publish(&self) -> SignedTreeHead {
        let mut state = self.lock();
        let tree_size = state.entries.len() as u64;
        let timestamp = now_ms().max(state.published.timestamp + 1);
        state.published = TreeHead { tree_size, timestamp, root_hash: state.tree.root(tree_size) };
        state.refresh_served();
        state.served.clone()
    }

    /// The honest head of the last publish, correctly signed (whatever is being served).
    pub fn published_sth(&self) -> SignedTreeHead {
        let state = self.lock();
        state.signer.sign_tree_head(&state.published)
    }

    /// The head get-sth and the checkpoint serve now.
    pub fn served_sth(&self) -> SignedTreeHead {
        self.lock().served.clone()
    }

    /// Replace all misbehaviours by `misbehaviour`.
    pub fn set_misbehaviour(&self, misbehaviour: Misbehaviour) {
        let mut state = self.lock();
        state.misbehaviours = vec![misbehaviour];
        state.refresh_served();
    }

    /// Add `misbehaviour` to those in force.
    pub fn add_misbehaviour(&self, misbehaviour: Misbehaviour) {
        let mut state = self.lock();
        state.misbehaviours.push(misbehaviour);
        state.refresh_served();
    }

    /// Behave again.
    pub fn clear_misbehaviour(&self) {
        let mut state = self.lock();
        state.misbehaviours.clear();
        state.refresh_served();
    }

    /// The misbehaviours in force.
    pub fn misbehaviours(&self) -> Vec<Misbehaviour> {
        self.lock().misbehaviours.clone()
    }

    /// The serving options.
    pub fn options(&self) -> LogOptions {
        self.lock().options.clone()
    }

    /// Replace the serving options (the rate limit bucket starts full again).
    pub fn set_options(&self, options: LogOptions) {
        let mut state = self.lock();
        state.options = options;
        state.bucket = None;
        state.refresh_served();
    }

    /// Request counters so far.
    pub fn stats(&self) -> RequestStats {
        self.lock().stats.clone()
    }

    /// Zero the request counters.
    pub fn reset_stats(&self) {
        self.lock().stats = RequestStats::default();
    }
}

/// Sign and serialize an SCT for `entry` (RFC 6962 §3.2).
fn sign_sct(signer: &LogSigner, log_id: &Hash, entry: &TimestampedEntry) -> Vec<u8> {
    // digitally-signed struct: sct_version 0, signature_type 0 (certificate_timestamp), then
    // timestamp, entry type, signed entry and extensions: exactly the TimestampedEntry.
    let mut signed = vec![0u8, 0u8];
    signed.extend_from_slice(&entry.encode());
    let signature = signer.sign(&signed);

    let mut sct = Vec::with_capacity(32 + 8 + 2 + entry.extensions.len() + signature.len() + 1);
    sct.push(0);
    sct.extend_from_slice(log_id);
    sct.extend_from_slice(&entry.timestamp.to_be_bytes());
    sct.extend_from_slice(&(entry.extensions.len() as u16).to_be_bytes());
    sct.extend_from_slice(&entry.extensions);
    sct.extend_from_slice(&signature);
    sct
}

/// Milliseconds since the Unix epoch.
pub fn now_ms() -> u64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_millis() as u64)
}

#[cfg(test)]
mod tests {
    use super::*;
    use ctwatch_ct::wire::decode_leaf_input;

    #[test]
    fn explicit_entries_match_issued_ones_and_reject_garbage() {
        let factory = CertFactory::new("Explicit CA").unwrap();
        let log = TestLog::new("explicit", LogSigner::generate());
        let precert = factory.precert(&LeafSpec::new(["p.example"])).unwrap();
        let index =
            log.add_precert_entry(&precert.der, factory.issuer_der(), vec![factory.root_der().to_vec()], 5).unwrap();
        let entry = decode_leaf_input(&log.leaf_input(index).unwrap()).unwrap();
        assert_eq!(entry.timestamp, 5);
        assert_eq!(entry.leaf_index_extension(), Some(0));
        assert_eq!(
            entry.signed_entry,
            SignedEntry::Precert {
                issuer_key_hash: factory.issuer_key_hash(),
                tbs_certificate: precert.leaf_tbs.clone()
            }
        );
        let (_, x509_index) = log.issue_x509(&factory, &LeafSpec::new(["x.example"]), 6).unwrap();
        assert_eq!(x509_index, 1);
        assert_eq!(log.tree_size(), 2);
        assert_eq!(log.published_size(), 0);

        // A plain certificate has no poison to remove; garbage is no certificate.
        let plain = factory.x509(&LeafSpec::new(["y.example"])).unwrap();
        assert!(matches!(log.add_precert_entry(&plain, factory.issuer_der(), vec![], 7), Err(TestLogError::Der(_))));
        assert!(log.add_precert_entry(&precert.der, b"garbage", vec![], 7).is_err());
        assert_eq!(log.tree_size(), 2);

        let sth = log.publish();
        assert_eq!(sth.head.tree_size, 2);
        assert_eq!(sth.head.root_hash, log.root_at(2));
        ctwatch_ct::sth::verify_sth(&log_key(&log), &sth).unwrap();
    }

    fn log_key(log: &TestLog) -> ctwatch_ct::sth::LogKey {
        ctwatch_ct::sth::LogKey::from_spki_der(&log.log_key_spki_der()).unwrap()
    }
}

#[cfg(test)]
mod extra_data_tests {
    use super::*;
    use crate::{CertFactory, LeafSpec};

    #[test]
    fn written_extra_data_equals_the_encoded_one() {
        let ca = CertFactory::new("Extra CA").unwrap();
        let log = TestLog::new("x", ctwatch_ct::sth::LogSigner::generate());
        log.issue(&ca, &LeafSpec::new(["a.example"]), 1, true).unwrap();
        let state = log.lock();
        for stored in &state.entries {
            let mut written = Vec::new();
            state.write_extra_data(stored, &mut written);
            assert_eq!(written, state.extra_data(stored));
        }
    }
}
