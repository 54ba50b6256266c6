//! The TOML configuration: parsed strictly (`deny_unknown_fields`), then validated into
//! [`Settings`] so that nothing downstream re-checks user input.
//!
//! ```toml
//! log_list = "https://www.gstatic.com/ct/log_list/v3/log_list.json"  # path or URL
//!
//! [store]
//! path = "/var/lib/ctwatch/ctwatch.sqlite"
//! # or, for PostgreSQL (several instances, long history):
//! # url = "postgres://ctwatch:secret@db.example/ctwatch?schema=ctwatch"
//!
//! [shard]                      # several instances sharing one PostgreSQL store
//! instance = "ctwatch-a"       # unique per instance; logs are leased to one instance at a time
//! lease_secs = 30
//!
//! [retention]
//! certificates_days = 400      # prune certificate records this long after their notAfter
//!
//! [[log]]                      # explicit logs, in addition to (or instead of) the list
//! name = "local"
//! url = "http://127.0.0.1:8080/log/"        # RFC 6962, or:
//! # monitoring_url = "http://127.0.0.1:8080/log/tiles/"  (static-ct-api; then also `origin`)
//! key = "MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAE..."   # base64 DER SPKI
//!
//! [[ca]]
//! name = "HiPKI"
//! issuers = ["issuer.pem", "6b1a9f...(SPKI SHA-256 hex)"]
//! caa_identifiers = ["pki.hinet.net", "tls.hinet.net"]
//!
//! [ccadb]                      # a CA-owner map written by `ctwatch ccadb import`
//! map = "ccadb-map.json"
//! watch_all_tls = true         # watch every TLS-capable issuer of the map
//!
//! [[ca]]
//! owner = "Chunghwa Telecom"   # every issuer of this CCADB owner (needs [ccadb] map)
//! ```

use serde::Deserialize;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// Configuration errors: each says which key is wrong and why.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read {path}: {source}")]
    Read { path: String, source: std::io::Error },
    #[error("{path}: {source}")]
    Toml { path: String, source: Box<toml::de::Error> },
    #[error("{path}: {key}: {detail}")]
    Invalid { path: String, key: String, detail: String },
}

/// The file as written.
#[derive(Debug, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct RawConfig {
    /// A v3 log list: file path or http(s) URL. Logs in it are followed by default when usable,
    /// qualified or readonly and their temporal interval contains now.
    pub log_list: Option<String>,
    /// Also follow logs in the list whose state is not followed by default (for tests).
    #[serde(default)]
    pub follow_all_list_states: bool,
    #[serde(default)]
    pub store: RawStore,
    #[serde(default, rename = "log")]
    pub logs: Vec<RawLog>,
    #[serde(default, rename = "ca")]
    pub cas: Vec<RawCa>,
    #[serde(default)]
    pub watch: RawWatch,
    #[serde(default)]
    pub fetch: RawFetch,
    #[serde(default)]
    pub dns: RawDns,
    #[serde(default)]
    pub metrics: RawMetrics,
    #[serde(default)]
    pub detectors: RawDetectors,
    #[serde(default)]
    pub caa: RawCaa,
    #[serde(default)]
    pub keys: RawKeys,
    #[serde(default)]
    pub crl: RawCrl,
    #[serde(default)]
    pub revocation: RawRevocation,
    /// `[[sink]]`: where findings are pushed (Alertmanager, webhook, command).
    #[serde(default, rename = "sink")]
    pub sinks: Vec<ctwatch_sinks::config::SinkConfig>,
    #[serde(default)]
    pub ccadb: RawCcadb,
    #[serde(default)]
    pub shard: RawShard,
    #[serde(default)]
    pub retention: RawRetention,
}

/// `[shard]`: this process is one of several instances sharing one store.
#[derive(Debug, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct RawShard {
    /// This instance's name, unique among the instances (e.g. the host name). Without it the
    /// process is the only instance and follows every log (the default).
    pub instance: Option<String>,
    /// Seconds a log's lease lasts without renewal (default 30); leases are renewed every third
    /// of it, and a dead instance's logs move after at most this long.
    pub lease_secs: Option<u64>,
}

/// `[retention]`: how long full certificate records are kept.
#[derive(Debug, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct RawRetention {
    /// Delete certificate records (and their log entries) this many days after their notAfter.
    /// Hourly issuance counts and findings stay. Default: keep forever.
    pub certificates_days: Option<u32>,
}

/// `[ccadb]`: a CA-owner map written by `ctwatch ccadb import`.
#[derive(Debug, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct RawCcadb {
    /// The map file (JSON). Relative paths are relative to the config file.
    pub map: Option<PathBuf>,
    /// Watch every TLS-capable issuer of the map, one watched CA per owner (root-program view).
    #[serde(default)]
    pub watch_all_tls: bool,
    /// Also poll the CRL URLs the map lists for watched issuers (default false).
    #[serde(default)]
    pub poll_crls: bool,
}

/// `[detectors]`: the per-certificate detectors.
#[derive(Debug, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct RawDetectors {
    /// BR lints on every stored certificate (default true).
    pub lints: Option<bool>,
    /// Issuance-surge detection (default true).
    pub surge: Option<bool>,
    /// A window must be at least this many times its baseline (default 5).
    pub surge_ratio: Option<f64>,
    /// ... and at least this many certificates above it (default 100).
    pub surge_min_excess: Option<u64>,
    /// Hours of history before an issuer's baseline is trusted (default 168).
    pub surge_min_history_hours: Option<u32>,
}

/// `[caa]`: CAA checks of watched CAs' names (needs `[dns] nameservers`).
#[derive(Debug, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct RawCaa {
    /// Default: true when `[dns] nameservers` is set and some CA has `caa_identifiers`.
    pub enabled: Option<bool>,
    /// Seconds before an indeterminate name is retried (default 600).
    pub retry_secs: Option<f64>,
    /// Indeterminate checks of one certificate before it is left unchecked (default 5).
    pub max_attempts: Option<u32>,
    /// DNS timeout per query, seconds (default 5).
    pub timeout_secs: Option<f64>,
    /// Most CAA queries per second sent to the resolvers (default 1000; 0: no limit, for a
    /// resolver of your own).
    pub queries_per_second: Option<u32>,
}

/// `[keys]`: compromised-key sources besides CRLs.
#[derive(Debug, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct RawKeys {
    /// Files of SPKI SHA-256 hex lines or PEM keys/certificates, imported at start.
    #[serde(default)]
    pub import: Vec<PathBuf>,
}

/// `[crl]`: revocation data of watched issuers.
#[derive(Debug, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct RawCrl {
    /// Extra CRL URLs to poll.
    #[serde(default)]
    pub urls: Vec<String>,
    /// Also poll the CRL distribution points of stored certificates (default true).
    pub from_certificates: Option<bool>,
    /// Seconds between polls of one URL (default 10800 = 3 h).
    pub interval_secs: Option<f64>,
    /// Largest CRL accepted, bytes (default 64 MiB).
    pub max_bytes: Option<usize>,
}

/// `[revocation]`: BR 4.9.1.1 deadlines.
#[derive(Debug, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct RawRevocation {
    /// When the revocation clock starts: "finding" (the finding's first-seen time, default) or
    /// "issuance" (the certificate's log entry time: for reviewing history).
    pub clock_start: Option<String>,
}

/// When the BR 4.9.1.1 clock starts for a certificate of a finding.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClockStart {
    Finding,
    Issuance,
}

/// `[store]`: set `path` or `url`, not both.
#[derive(Debug, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct RawStore {
    /// SQLite database file (created if missing). Relative paths are relative to the config file.
    /// The default when `url` is not set: `ctwatch.sqlite` beside the config file.
    pub path: Option<PathBuf>,
    /// PostgreSQL URL (`postgres://user:password@host:port/database?schema=name`): the store
    /// several instances can share. The password is never printed.
    pub url: Option<String>,
}

/// Where the store lives. `Display` and `Debug` never show a PostgreSQL password.
#[derive(Clone, PartialEq, Eq)]
pub enum StoreLocation {
    /// A SQLite database file.
    Sqlite(PathBuf),
    /// A PostgreSQL URL, password included (for opening only).
    Postgres(String),
}

impl StoreLocation {
    /// The location as [`ctwatch_store::open`] takes it. Contains the password: do not log it.
    pub fn location(&self) -> String {
        match self {
            StoreLocation::Sqlite(path) => path.to_string_lossy().into_owned(),
            StoreLocation::Postgres(url) => url.clone(),
        }
    }

    /// The SQLite file, when the store is SQLite.
    pub fn sqlite_path(&self) -> Option<&Path> {
        match self {
            StoreLocation::Sqlite(path) => Some(path),
            StoreLocation::Postgres(_) => None,
        }
    }

    /// Open the store for reading and writing (migrating its schema).
    pub fn open(&self) -> Result<Box<dyn ctwatch_store::Store>, ctwatch_store::StoreError> {
        ctwatch_store::open(&self.location())
    }

    /// Open the store for reading only.
    pub fn open_read_only(&self) -> Result<Box<dyn ctwatch_store::Store>, ctwatch_store::StoreError> {
        ctwatch_store::open_read_only(&self.location())
    }
}

impl std::fmt::Display for StoreLocation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            StoreLocation::Sqlite(path) => write!(f, "{}", path.display()),
            StoreLocation::Postgres(url) => f.write_str(&ctwatch_store::redact_location(url)),
        }
    }
}

impl std::fmt::Debug for StoreLocation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            StoreLocation::Sqlite(_) => write!(f, "Sqlite({self})"),
            StoreLocation::Postgres(_) => write!(f, "Postgres({self})"),
        }
    }
}

/// `[shard]`, validated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ShardSettings {
    /// This instance's name (the lease holder name).
    pub instance: String,
    /// How long a lease lasts without renewal.
    pub lease: Duration,
}

/// `[[log]]`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawLog {
    pub name: String,
    /// RFC 6962 base URL.
    pub url: Option<String>,
    /// static-ct-api monitoring prefix.
    pub monitoring_url: Option<String>,
    /// static-ct-api submission prefix; the checkpoint origin is derived from it. Defaults to
    /// `monitoring_url`.
    pub submission_url: Option<String>,
    /// Base64 DER SubjectPublicKeyInfo.
    pub key: String,
    /// Maximum merge delay in seconds (default 86400).
    pub mmd: Option<u64>,
    /// Per-log overrides of `[fetch]`.
    pub requests_per_second: Option<f64>,
    pub batch_size: Option<u64>,
    pub concurrency: Option<usize>,
}

/// `[[ca]]`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawCa {
    /// Defaults to `owner` when that is set.
    #[serde(default)]
    pub name: String,
    /// A CCADB owner name (case-insensitive): adds all its issuers and CAA identifiers from the
    /// `[ccadb] map`.
    pub owner: Option<String>,
    /// Issuer certificates (PEM/DER file paths) or SPKI SHA-256 hex strings.
    #[serde(default)]
    pub issuers: Vec<String>,
    /// Domains that authorise this CA in CAA `issue`/`issuewild` records.
    #[serde(default)]
    pub caa_identifiers: Vec<String>,
}

/// `[watch]`.
#[derive(Debug, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct RawWatch {
    /// Count issuance for every issuer (root-program view); full records are still stored only
    /// for watched CAs.
    #[serde(default)]
    pub all_issuers: bool,
}

/// `[fetch]`: defaults are polite to public logs.
#[derive(Debug, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct RawFetch {
    /// Seconds between head polls (default 30).
    pub poll_interval_secs: Option<f64>,
    /// Requests per second per log (default 5).
    pub requests_per_second: Option<f64>,
    /// Entries asked per get-entries request (default 256).
    pub batch_size: Option<u64>,
    /// Parallel requests per log (default 4).
    pub concurrency: Option<usize>,
    /// Entries per store transaction (default 4096).
    pub commit_entries: Option<u64>,
    /// Request timeout, seconds (default 30).
    pub timeout_secs: Option<f64>,
    /// Seconds a partial static-ct-api tile must stay partial before it is fetched (default 60).
    pub partial_tile_delay_secs: Option<f64>,
}

/// `[dns]` (used by the CAA detector).
#[derive(Debug, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct RawDns {
    #[serde(default)]
    pub nameservers: Vec<String>,
}

/// `[metrics]`.
#[derive(Debug, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct RawMetrics {
    /// Listen address for /metrics and the API (default 127.0.0.1:9898).
    pub listen: Option<String>,
    /// Bearer token required by the API and /metrics (mandatory when `listen` is not a
    /// loopback address). Prefer `token_file`, which keeps the secret out of the config.
    pub token: Option<String>,
    /// File whose first line is the bearer token.
    pub token_file: Option<PathBuf>,
}

/// A log to follow, as configured.
#[derive(Debug, Clone)]
pub struct LogSource {
    pub name: String,
    pub endpoint: ctwatch_ct::loglist::LogEndpoint,
    pub key_der: Vec<u8>,
    pub mmd: u64,
    pub fetch: FetchSettings,
}

/// Per-log fetch behaviour.
#[derive(Debug, Clone)]
pub struct FetchSettings {
    pub requests_per_second: f64,
    pub batch_size: u64,
    pub concurrency: usize,
}

/// A watched CA before issuer files are read.
#[derive(Debug, Clone)]
pub struct CaSettings {
    pub name: String,
    /// SPKI SHA-256 of its issuers (files already read and hashed).
    pub issuer_spki_sha256: Vec<[u8; 32]>,
    /// Issuer certificates given as files (needed to verify their CRLs).
    pub issuer_certs: Vec<Vec<u8>>,
    pub caa_identifiers: Vec<String>,
}

/// Validated configuration.
#[derive(Debug, Clone)]
pub struct Settings {
    pub config_path: PathBuf,
    /// Where the store lives (SQLite file or PostgreSQL URL).
    pub store: StoreLocation,
    /// Set when this process is one of several instances sharing the store.
    pub shard: Option<ShardSettings>,
    /// Certificate records are pruned this long after their notAfter (`None`: kept forever).
    pub certificate_retention: Option<Duration>,
    pub log_list: Option<String>,
    pub follow_all_list_states: bool,
    pub logs: Vec<LogSource>,
    pub cas: Vec<CaSettings>,
    pub all_issuers: bool,
    pub poll_interval: Duration,
    pub commit_entries: u64,
    pub timeout: Duration,
    pub partial_tile_delay: Duration,
    pub default_fetch: FetchSettings,
    pub nameservers: Vec<std::net::SocketAddr>,
    pub metrics_listen: std::net::SocketAddr,
    /// Bearer token of the API (never logged).
    pub metrics_token: Option<String>,
    pub lints: bool,
    /// Surge detection settings, when enabled.
    pub surge: Option<ctwatch_surge::SurgeConfig>,
    pub caa_enabled: bool,
    pub caa_retry: Duration,
    pub caa_max_attempts: u32,
    pub dns_timeout: Duration,
    /// CAA queries per second at most (`None`: no limit).
    pub caa_queries_per_second: Option<u32>,
    pub key_imports: Vec<PathBuf>,
    pub crl_urls: Vec<String>,
    pub crl_from_certificates: bool,
    pub crl_interval: Duration,
    pub crl_max_bytes: usize,
    pub clock_start: ClockStart,
    /// Alert sinks (validated: secret files read, names unique).
    pub sinks: ctwatch_sinks::config::SinksConfig,
    /// The `[ccadb] map` file, when configured.
    pub ccadb_map: Option<PathBuf>,
}

impl Settings {
    /// Read, parse and validate a config file. Issuer certificate files are read here.
    pub fn load(path: &Path) -> Result<Settings, ConfigError> {
        let text = std::fs::read_to_string(path)
            .map_err(|source| ConfigError::Read { path: path.display().to_string(), source })?;
        Self::from_toml(&text, path)
    }

    /// Parse and validate TOML text; relative paths resolve against `path`'s directory.
    pub fn from_toml(text: &str, path: &Path) -> Result<Settings, ConfigError> {
        let raw: RawConfig = toml::from_str(text)
            .map_err(|e| ConfigError::Toml { path: path.display().to_string(), source: Box::new(e) })?;
        validate(raw, path)
    }
}

fn invalid(path: &Path, key: impl Into<String>, detail: impl Into<String>) -> ConfigError {
    ConfigError::Invalid { path: path.display().to_string(), key: key.into(), detail: detail.into() }
}

fn positive(path: &Path, key: &str, v: Option<f64>, default: f64) -> Result<f64, ConfigError> {
    let v = v.unwrap_or(default);
    if !(v.is_finite() && v > 0.0) {
        return Err(invalid(path, key, format!("must be a positive number, got {v}")));
    }
    Ok(v)
}

fn validate(raw: RawConfig, path: &Path) -> Result<Settings, ConfigError> {
    let base_dir = path.parent().map(Path::to_path_buf).unwrap_or_default();
    let resolve = |p: &Path| if p.is_absolute() { p.to_path_buf() } else { base_dir.join(p) };

    let store = match (&raw.store.path, &raw.store.url) {
        (Some(_), Some(_)) => {
            return Err(invalid(path, "store", "set `path` (SQLite) or `url` (PostgreSQL), not both"));
        }
        (None, Some(url)) => {
            if !ctwatch_store::postgres::is_postgres_url(url) {
                return Err(invalid(
                    path,
                    "store.url",
                    // Not echoed: whatever it is, it may hold a password.
                    "must be a postgres:// or postgresql:// URL (a SQLite file goes in `path`)",
                ));
            }
            ctwatch_store::check_location(url).map_err(|e| invalid(path, "store.url", e.to_string()))?;
            StoreLocation::Postgres(url.clone())
        }
        (path_value, None) => {
            StoreLocation::Sqlite(resolve(path_value.as_deref().unwrap_or(Path::new("ctwatch.sqlite"))))
        }
    };
    let shard = match &raw.shard.instance {
        None => {
            if raw.shard.lease_secs.is_some() {
                return Err(invalid(path, "shard.lease_secs", "needs `instance` (this instance's unique name)"));
            }
            None
        }
        Some(instance) => {
            let instance = instance.trim();
            if instance.is_empty()
                || instance.len() > 64
                || !instance.chars().all(|c| c.is_ascii_alphanumeric() || "-_.:@".contains(c))
            {
                return Err(invalid(
                    path,
                    "shard.instance",
                    format!("{instance:?} must be 1 to 64 ASCII letters, digits or - _ . : @"),
                ));
            }
            let lease_secs = raw.shard.lease_secs.unwrap_or(30);
            if !(2..=3600).contains(&lease_secs) {
                return Err(invalid(path, "shard.lease_secs", "must be between 2 and 3600"));
            }
            Some(ShardSettings { instance: instance.to_string(), lease: Duration::from_secs(lease_secs) })
        }
    };
    let certificate_retention = match raw.retention.certificates_days {
        None => None,
        Some(0) => return Err(invalid(path, "retention.certificates_days", "must be at least 1 (or unset)")),
        Some(days) => Some(Duration::from_secs(u64::from(days) * 86_400)),
    };
    let f = &raw.fetch;
    let default_fetch = FetchSettings {
        requests_per_second: positive(path, "fetch.requests_per_second", f.requests_per_second, 5.0)?,
        batch_size: f.batch_size.unwrap_or(256),
        concurrency: f.concurrency.unwrap_or(4),
    };
    check_fetch(path, "fetch", &default_fetch)?;
    let poll_interval =
        Duration::from_secs_f64(positive(path, "fetch.poll_interval_secs", f.poll_interval_secs, 30.0)?);
    let timeout = Duration::from_secs_f64(positive(path, "fetch.timeout_secs", f.timeout_secs, 30.0)?);
    let partial_tile_delay =
        Duration::from_secs_f64(f.partial_tile_delay_secs.filter(|v| v.is_finite() && *v >= 0.0).unwrap_or(60.0));
    let commit_entries = f.commit_entries.unwrap_or(4096);
    if !(1..=1_000_000).contains(&commit_entries) {
        return Err(invalid(path, "fetch.commit_entries", "must be between 1 and 1000000"));
    }

    let mut logs = Vec::new();
    let mut names = std::collections::HashSet::new();
    for (i, l) in raw.logs.iter().enumerate() {
        let key = format!("log[{i}] ({})", l.name);
        if l.name.trim().is_empty() {
            return Err(invalid(path, format!("log[{i}].name"), "must not be empty"));
        }
        if !names.insert(l.name.clone()) {
            return Err(invalid(path, key, "duplicate log name"));
        }
        let endpoint = match (&l.url, &l.monitoring_url) {
            (Some(url), None) => ctwatch_ct::loglist::LogEndpoint::Rfc6962 { url: check_url(path, &key, url)? },
            (None, Some(mon)) => ctwatch_ct::loglist::LogEndpoint::Static {
                submission_url: check_url(path, &key, l.submission_url.as_deref().unwrap_or(mon))?,
                monitoring_url: check_url(path, &key, mon)?,
            },
            _ => {
                return Err(invalid(
                    path,
                    key,
                    "set exactly one of `url` (RFC 6962) or `monitoring_url` (static-ct-api)",
                ));
            }
        };
        use base64::Engine as _;
        let key_der = base64::engine::general_purpose::STANDARD
            .decode(l.key.trim())
            .map_err(|e| invalid(path, format!("{key}.key"), format!("not base64: {e}")))?;
        ctwatch_ct::sth::LogKey::from_spki_der(&key_der)
            .map_err(|e| invalid(path, format!("{key}.key"), e.to_string()))?;
        let fetch = FetchSettings {
            requests_per_second: l.requests_per_second.unwrap_or(default_fetch.requests_per_second),
            batch_size: l.batch_size.unwrap_or(default_fetch.batch_size),
            concurrency: l.concurrency.unwrap_or(default_fetch.concurrency),
        };
        check_fetch(path, &key, &fetch)?;
        logs.push(LogSource { name: l.name.clone(), endpoint, key_der, mmd: l.mmd.unwrap_or(86_400), fetch });
    }
    if raw.log_list.is_none() && logs.is_empty() {
        return Err(invalid(path, "log_list / [[log]]", "no logs configured: set `log_list` or add [[log]] entries"));
    }

    let ccadb_map = raw.ccadb.map.as_deref().map(&resolve);
    let owner_map = match &ccadb_map {
        Some(file) => {
            let f = std::fs::File::open(file)
                .map_err(|e| invalid(path, "ccadb.map", format!("{}: {e}", file.display())))?;
            Some(
                ctwatch_ccadb::OwnerMap::from_json(std::io::BufReader::new(f))
                    .map_err(|e| invalid(path, "ccadb.map", format!("{}: {e}", file.display())))?,
            )
        }
        None if raw.ccadb.watch_all_tls => {
            return Err(invalid(path, "ccadb.watch_all_tls", "needs `map` (written by `ctwatch ccadb import`)"));
        }
        None => None,
    };
    let mut ccadb_crl_urls = Vec::new();
    let mut cas = Vec::new();
    for (i, c) in raw.cas.iter().enumerate() {
        let name = if c.name.trim().is_empty() { c.owner.clone().unwrap_or_default() } else { c.name.clone() };
        if name.trim().is_empty() {
            return Err(invalid(path, format!("ca[{i}].name"), "set `name` or `owner`"));
        }
        let key = format!("ca[{i}] ({name})");
        let mut spkis = Vec::new();
        let mut issuer_certs = Vec::new();
        for issuer in &c.issuers {
            let (spki, der) = issuer_spki(path, &key, issuer, &resolve)?;
            spkis.push(spki);
            issuer_certs.extend(der);
        }
        let mut owner_caa = Vec::new();
        if let Some(owner) = &c.owner {
            let map = owner_map.as_ref().ok_or_else(|| {
                invalid(path, format!("{key}.owner"), "needs `[ccadb] map` (written by `ctwatch ccadb import`)")
            })?;
            let selection = crate::watch::select_owner(map, owner)
                .map_err(|e| invalid(path, format!("{key}.owner"), e.to_string()))?;
            spkis.extend(
                selection.issuer_spki_sha256.iter().filter(|s| !spkis.contains(s)).copied().collect::<Vec<_>>(),
            );
            owner_caa = selection.caa_identifiers;
            ccadb_crl_urls.extend(selection.crl_urls);
        }
        if spkis.is_empty() {
            return Err(invalid(
                path,
                key,
                "`issuers` must list at least one issuer certificate file or SPKI SHA-256 (or set `owner`)",
            ));
        }
        let mut caa = Vec::new();
        for id in c.caa_identifiers.iter().chain(&owner_caa) {
            let id = id.trim().trim_end_matches('.').to_ascii_lowercase();
            if id.is_empty() || id.contains(char::is_whitespace) {
                return Err(invalid(path, format!("{key}.caa_identifiers"), format!("{id:?} is not a domain name")));
            }
            if !caa.contains(&id) {
                caa.push(id);
            }
        }
        cas.push(CaSettings { name, issuer_spki_sha256: spkis, issuer_certs, caa_identifiers: caa });
    }
    if let (Some(map), true) = (&owner_map, raw.ccadb.watch_all_tls) {
        let claimed = cas.iter().flat_map(|c| c.issuer_spki_sha256.iter().copied()).collect();
        let (more, crls) = crate::watch::tls_capable_cas(map, &claimed);
        cas.extend(more);
        ccadb_crl_urls.extend(crls);
    }

    let mut nameservers = Vec::new();
    for ns in &raw.dns.nameservers {
        let addr = ns
            .parse::<std::net::SocketAddr>()
            .or_else(|_| ns.parse::<std::net::IpAddr>().map(|ip| std::net::SocketAddr::new(ip, 53)))
            .map_err(|_| invalid(path, "dns.nameservers", format!("{ns:?} is not an IP address or IP:port")))?;
        nameservers.push(addr);
    }
    let listen = raw.metrics.listen.as_deref().unwrap_or("127.0.0.1:9898");
    let metrics_listen: std::net::SocketAddr =
        listen.parse().map_err(|_| invalid(path, "metrics.listen", format!("{listen:?} is not an IP:port address")))?;

    let metrics_token = match (&raw.metrics.token, &raw.metrics.token_file) {
        (Some(_), Some(_)) => return Err(invalid(path, "metrics.token", "set `token` or `token_file`, not both")),
        (Some(t), None) => Some(t.trim().to_string()),
        (None, Some(f)) => {
            let f = resolve(f);
            let text = std::fs::read_to_string(&f)
                .map_err(|e| invalid(path, "metrics.token_file", format!("{}: {e}", f.display())))?;
            Some(text.lines().next().unwrap_or("").trim().to_string())
        }
        (None, None) => None,
    };
    if metrics_token.as_deref().is_some_and(|t| t.len() < 16) {
        return Err(invalid(path, "metrics.token", "must be at least 16 characters"));
    }
    if !metrics_listen.ip().is_loopback() && metrics_token.is_none() {
        return Err(invalid(
            path,
            "metrics.listen",
            format!("{metrics_listen} is not a loopback address: set metrics.token or metrics.token_file"),
        ));
    }
    let d = &raw.detectors;
    let surge = if d.surge.unwrap_or(true) {
        let mut c = ctwatch_surge::SurgeConfig::default();
        if let Some(r) = d.surge_ratio {
            c.ratio_threshold = positive(path, "detectors.surge_ratio", Some(r), 5.0)?;
        }
        if let Some(e) = d.surge_min_excess {
            c.min_excess = e;
        }
        if let Some(h) = d.surge_min_history_hours {
            c.min_history_hours = h;
        }
        ctwatch_surge::SurgeDetector::new(c.clone()).map_err(|e| invalid(path, "detectors", e.to_string()))?;
        Some(c)
    } else {
        None
    };
    let any_caa_ids = cas.iter().any(|c| !c.caa_identifiers.is_empty());
    let caa_enabled = raw.caa.enabled.unwrap_or(!nameservers.is_empty() && any_caa_ids);
    if caa_enabled && nameservers.is_empty() {
        return Err(invalid(path, "caa.enabled", "CAA checks need [dns] nameservers"));
    }
    let mut crl_urls = Vec::new();
    for u in &raw.crl.urls {
        crl_urls.push(check_url(path, "crl.urls", u)?);
    }
    if raw.ccadb.poll_crls {
        // Disclosed URLs are the CA's data, not the user's: ones that are not http(s) are left out.
        for u in ccadb_crl_urls {
            if !crl_urls.contains(&u) && check_url(path, "ccadb", &u).is_ok() {
                crl_urls.push(u);
            }
        }
    }
    let clock_start = match raw.revocation.clock_start.as_deref() {
        None | Some("finding") => ClockStart::Finding,
        Some("issuance") => ClockStart::Issuance,
        Some(other) => {
            return Err(invalid(
                path,
                "revocation.clock_start",
                format!("{other:?}: expected \"finding\" or \"issuance\""),
            ));
        }
    };

    let sinks = ctwatch_sinks::config::SinksConfig { sinks: raw.sinks };
    let api_base = format!("http://{metrics_listen}");
    sinks.validate(&base_dir, Some(&api_base)).map_err(|e| invalid(path, "sink", e.to_string()))?;

    Ok(Settings {
        config_path: path.to_path_buf(),
        store,
        shard,
        certificate_retention,
        log_list: raw.log_list,
        follow_all_list_states: raw.follow_all_list_states,
        logs,
        cas,
        all_issuers: raw.watch.all_issuers,
        poll_interval,
        commit_entries,
        timeout,
        partial_tile_delay,
        default_fetch,
        nameservers,
        metrics_listen,
        metrics_token,
        lints: d.lints.unwrap_or(true),
        surge,
        caa_enabled,
        caa_retry: Duration::from_secs_f64(positive(path, "caa.retry_secs", raw.caa.retry_secs, 600.0)?),
        caa_max_attempts: raw.caa.max_attempts.unwrap_or(5).max(1),
        dns_timeout: Duration::from_secs_f64(positive(path, "caa.timeout_secs", raw.caa.timeout_secs, 5.0)?),
        caa_queries_per_second: match raw.caa.queries_per_second {
            Some(0) => None,
            Some(q) => Some(q),
            None => ctwatch_caa::CaaCheckerSettings::default().queries_per_second,
        },
        key_imports: raw.keys.import.iter().map(|p| resolve(p)).collect(),
        crl_urls,
        crl_from_certificates: raw.crl.from_certificates.unwrap_or(true),
        crl_interval: Duration::from_secs_f64(positive(path, "crl.interval_secs", raw.crl.interval_secs, 10_800.0)?),
        crl_max_bytes: raw.crl.max_bytes.unwrap_or(64 << 20),
        clock_start,
        sinks,
        ccadb_map,
    })
}

fn check_fetch(path: &Path, key: &str, f: &FetchSettings) -> Result<(), ConfigError> {
    if !(f.requests_per_second.is_finite() && f.requests_per_second > 0.0) {
        return Err(invalid(path, format!("{key}.requests_per_second"), "must be a positive number"));
    }
    if !(1..=10_000).contains(&f.batch_size) {
        return Err(invalid(path, format!("{key}.batch_size"), "must be between 1 and 10000"));
    }
    if !(1..=256).contains(&f.concurrency) {
        return Err(invalid(path, format!("{key}.concurrency"), "must be between 1 and 256"));
    }
    Ok(())
}

fn check_url(path: &Path, key: &str, url: &str) -> Result<String, ConfigError> {
    let lower = url.to_ascii_lowercase();
    if !(lower.starts_with("http://") || lower.starts_with("https://")) {
        return Err(invalid(path, format!("{key}.url"), format!("{url:?} must be an http or https URL")));
    }
    Ok(url.to_string())
}

/// An issuer given as 64 hex digits (SPKI SHA-256) or as a certificate file (PEM or DER).
fn issuer_spki(
    path: &Path,
    key: &str,
    issuer: &str,
    resolve: &dyn Fn(&Path) -> PathBuf,
) -> Result<([u8; 32], Option<Vec<u8>>), ConfigError> {
    let trimmed = issuer.trim();
    if trimmed.len() == 64 && trimmed.bytes().all(|b| b.is_ascii_hexdigit()) {
        let mut out = [0u8; 32];
        hex::decode_to_slice(trimmed, &mut out).map_err(|e| invalid(path, key, e.to_string()))?;
        return Ok((out, None));
    }
    let file = resolve(Path::new(trimmed));
    let bytes = std::fs::read(&file).map_err(|e| {
        invalid(path, format!("{key}.issuers"), format!("{issuer:?} is neither 64 hex digits nor a readable file: {e}"))
    })?;
    let ders = crate::pem::certificates_in(&bytes);
    let der = ders.first().ok_or_else(|| {
        invalid(path, format!("{key}.issuers"), format!("{} contains no certificate", file.display()))
    })?;
    let spki = ctwatch_cert::facts::spki_sha256_of_cert(der)
        .map_err(|e| invalid(path, format!("{key}.issuers"), format!("{}: {e}", file.display())))?;
    Ok((spki, Some(der.clone())))
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEY: &str = "MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAEfahLEimAoz2t01p3uMziiLOl/fHTDM0YDOhBRuiBARsV4UvxG2LdNgoIGLrtCzWE0J5APC2em4JlvR8EEEFMoA==";

    fn parse(text: &str) -> Result<Settings, ConfigError> {
        Settings::from_toml(text, Path::new("/etc/ctwatch/ctwatch.toml"))
    }

    #[test]
    fn minimal_log_config_is_valid_with_safe_defaults() {
        let s = parse(&format!("[[log]]\nname = \"a\"\nurl = \"https://ct.example/a/\"\nkey = \"{KEY}\"\n")).unwrap();
        assert_eq!(s.store, StoreLocation::Sqlite(PathBuf::from("/etc/ctwatch/ctwatch.sqlite")));
        assert_eq!(s.shard, None);
        assert_eq!(s.certificate_retention, None);
        assert_eq!(s.metrics_listen.ip().to_string(), "127.0.0.1");
        assert!(s.default_fetch.requests_per_second <= 10.0);
        assert_eq!(s.logs.len(), 1);
    }

    #[test]
    fn caa_query_rate_defaults_to_the_checker_limit_and_zero_lifts_it() {
        let log = format!("[[log]]\nname = \"a\"\nurl = \"https://ct.example/a/\"\nkey = \"{KEY}\"\n");
        assert_eq!(parse(&log).unwrap().caa_queries_per_second, Some(1000));
        assert_eq!(parse(&format!("{log}[caa]\nqueries_per_second = 50\n")).unwrap().caa_queries_per_second, Some(50));
        assert_eq!(parse(&format!("{log}[caa]\nqueries_per_second = 0\n")).unwrap().caa_queries_per_second, None);
        let err = parse(&format!("{log}[caa]\nqueries_per_second = -1\n")).unwrap_err().to_string();
        assert!(err.contains("queries_per_second"), "{err}");
    }

    #[test]
    fn unknown_keys_and_bad_values_are_rejected_with_the_key_named() {
        let err = parse("bogus = 1\nlog_list = \"x\"").unwrap_err().to_string();
        assert!(err.contains("bogus"), "{err}");
        let err = parse("log_list = \"x\"\n[fetch]\nbatch_size = 0").unwrap_err().to_string();
        assert!(err.contains("fetch.batch_size"), "{err}");
        let err = parse("log_list = \"x\"\n[metrics]\nlisten = \"everywhere\"").unwrap_err().to_string();
        assert!(err.contains("metrics.listen"), "{err}");
        let err = parse("").unwrap_err().to_string();
        assert!(err.contains("no logs configured"), "{err}");
        let err =
            parse(&format!("[[log]]\nname = \"a\"\nurl = \"ftp://x/\"\nkey = \"{KEY}\"\n")).unwrap_err().to_string();
        assert!(err.contains("http"), "{err}");
        let err = parse("[[log]]\nname = \"a\"\nurl = \"https://x/\"\nkey = \"AAAA\"\n").unwrap_err().to_string();
        assert!(err.contains("key"), "{err}");
    }

    #[test]
    fn ca_issuers_accept_hex_and_reject_junk() {
        let hex = "ab".repeat(32);
        let s = parse(&format!(
            "log_list = \"x\"\n[[ca]]\nname = \"X\"\nissuers = [\"{hex}\"]\ncaa_identifiers = [\"PKI.Example.\"]"
        ))
        .unwrap();
        assert_eq!(s.cas[0].issuer_spki_sha256[0], [0xab; 32]);
        assert_eq!(s.cas[0].caa_identifiers, vec!["pki.example"]);
        let err = parse("log_list = \"x\"\n[[ca]]\nname = \"X\"\nissuers = [\"/nonexistent/file.pem\"]")
            .unwrap_err()
            .to_string();
        assert!(err.contains("ca[0]"), "{err}");
    }

    #[test]
    fn a_public_listen_address_needs_a_token() {
        let err = parse("log_list = \"x\"\n[metrics]\nlisten = \"0.0.0.0:9898\"").unwrap_err().to_string();
        assert!(err.contains("token"), "{err}");
        let s =
            parse("log_list = \"x\"\n[metrics]\nlisten = \"0.0.0.0:9898\"\ntoken = \"0123456789abcdef0123\"").unwrap();
        assert_eq!(s.metrics_token.as_deref(), Some("0123456789abcdef0123"));
        let err = parse("log_list = \"x\"\n[metrics]\ntoken = \"short\"").unwrap_err().to_string();
        assert!(err.contains("16"), "{err}");
    }

    /// A CA-owner map file with two owners, written where the config can name it.
    fn owner_map_file(test: &str) -> PathBuf {
        let v5 = "CA Owner,Certificate Name,SHA-256 Fingerprint,Subject Key Identifier,TLS Capable,\
JSON Array of All Full CRL URLs\n\
Chunghwa Telecom,HiPKI Root,0101010101010101010101010101010101010101010101010101010101010101,AQ==,True,\"[\"\"http://crl.example/a.crl\"\"]\"\n\
Chunghwa Telecom,Mail,0202020202020202020202020202020202020202020202020202020202020202,Ag==,False,\n\
Other CA,Web,0303030303030303030303030303030303030303030303030303030303030303,Aw==,True,\"[\"\"ldap://x\"\"]\"\n";
        let ski = format!(
            "Subject Key Identifier,SHA-256(Subject Public Key Info)\nAQ==,{}\nAg==,{}\nAw==,{}\n",
            "ERERERERERERERERERERERERERERERERERERERERERE=",
            "IiIiIiIiIiIiIiIiIiIiIiIiIiIiIiIiIiIiIiIiIiI=",
            "MzMzMzMzMzMzMzMzMzMzMzMzMzMzMzMzMzMzMzMzMzM="
        );
        let caa = "Subject,Recognized CAA Domains\nChunghwa Telecom,\"pki.hinet.net tls.hinet.net\"\n";
        let mut b = ctwatch_ccadb::MapBuilder::default();
        for text in [v5, &ski, caa] {
            b.add(ctwatch_ccadb::read_report(text.as_bytes()).unwrap());
        }
        let dir = std::env::temp_dir().join(format!("ctwatch-config-{}-{test}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let file = dir.join("map.json");
        std::fs::write(&file, b.build().0.to_json()).unwrap();
        file
    }

    #[test]
    fn a_ca_named_by_ccadb_owner_gets_its_issuers_and_caa_identifiers() {
        let map = owner_map_file("owner");
        let s = parse(&format!(
            "log_list = \"x\"\n[ccadb]\nmap = \"{}\"\npoll_crls = true\n[[ca]]\nowner = \"chunghwa telecom\"\ncaa_identifiers = [\"extra.example\", \"pki.hinet.net\"]\n",
            map.display()
        ))
        .unwrap();
        assert_eq!(s.cas.len(), 1);
        assert_eq!(s.cas[0].name, "chunghwa telecom");
        assert_eq!(s.cas[0].issuer_spki_sha256, vec![[0x11; 32], [0x22; 32]]);
        assert_eq!(s.cas[0].caa_identifiers, vec!["extra.example", "pki.hinet.net", "tls.hinet.net"]);
        assert_eq!(s.crl_urls, vec!["http://crl.example/a.crl"]);
        assert_eq!(s.ccadb_map.as_deref(), Some(map.as_path()));

        let err =
            parse(&format!("log_list = \"x\"\n[ccadb]\nmap = \"{}\"\n[[ca]]\nowner = \"Chunghwa\"\n", map.display()))
                .unwrap_err()
                .to_string();
        assert!(err.contains("ca[0] (Chunghwa).owner") && err.contains("did you mean \"Chunghwa Telecom\""), "{err}");
        let err = parse("log_list = \"x\"\n[[ca]]\nowner = \"Chunghwa Telecom\"\n").unwrap_err().to_string();
        assert!(err.contains("[ccadb] map"), "{err}");
        let err = parse("log_list = \"x\"\n[[ca]]\nissuers = []\n").unwrap_err().to_string();
        assert!(err.contains("ca[0].name"), "{err}");
        let err = parse("log_list = \"x\"\n[ccadb]\nmap = \"/nonexistent/map.json\"\n").unwrap_err().to_string();
        assert!(err.contains("ccadb.map"), "{err}");
    }

    #[test]
    fn watch_all_tls_adds_every_tls_capable_issuer_not_listed_explicitly() {
        let map = owner_map_file("all-tls");
        let hex = "33".repeat(32);
        let s = parse(&format!(
            "log_list = \"x\"\n[ccadb]\nmap = \"{}\"\nwatch_all_tls = true\n[[ca]]\nname = \"Mine\"\nissuers = [\"{hex}\"]\n",
            map.display()
        ))
        .unwrap();
        let names: Vec<&str> = s.cas.iter().map(|c| c.name.as_str()).collect();
        assert_eq!(names, vec!["Mine", "Chunghwa Telecom"]);
        assert_eq!(s.cas[1].issuer_spki_sha256, vec![[0x11; 32]]);
        assert_eq!(s.cas[1].caa_identifiers, vec!["pki.hinet.net", "tls.hinet.net"]);
        // CRLs are polled only when asked for.
        assert!(s.crl_urls.is_empty());
        let err = parse("log_list = \"x\"\n[ccadb]\nwatch_all_tls = true\n").unwrap_err().to_string();
        assert!(err.contains("ccadb.watch_all_tls"), "{err}");
    }

    #[test]
    fn store_url_shard_and_retention_are_validated_and_passwords_never_shown() {
        let url = "postgres://ctwatch:hunter2secret@db.example:5432/ctwatch?schema=prod";
        let s = parse(&format!(
            "log_list = \"x\"\n[store]\nurl = \"{url}\"\n[shard]\ninstance = \"node-1\"\nlease_secs = 9\n[retention]\ncertificates_days = 400\n"
        ))
        .unwrap();
        assert_eq!(s.store.location(), url);
        assert_eq!(s.store.sqlite_path(), None);
        for shown in [s.store.to_string(), format!("{:?}", s.store), format!("{s:?}")] {
            assert!(!shown.contains("hunter2secret"), "{shown}");
        }
        assert!(s.store.to_string().contains("db.example:5432"), "{}", s.store);
        assert_eq!(s.shard, Some(ShardSettings { instance: "node-1".into(), lease: Duration::from_secs(9) }));
        assert_eq!(s.certificate_retention, Some(Duration::from_secs(400 * 86_400)));
        let default_lease = parse("log_list = \"x\"\n[shard]\ninstance = \"a\"\n").unwrap();
        assert_eq!(default_lease.shard.unwrap().lease, Duration::from_secs(30));

        let both = format!("log_list = \"x\"\n[store]\npath = \"a.sqlite\"\nurl = \"{url}\"\n");
        let err = parse(&both).unwrap_err().to_string();
        assert!(err.contains("not both") && !err.contains("hunter2secret"), "{err}");
        let err = parse("log_list = \"x\"\n[store]\nurl = \"mysql://u:hunter2secret@h/db\"\n").unwrap_err().to_string();
        assert!(err.contains("store.url") && !err.contains("hunter2secret"), "{err}");
        let err = parse("log_list = \"x\"\n[store]\nurl = \"postgres://u:hunter2secret@h/db?schema=no-dash\"\n")
            .unwrap_err()
            .to_string();
        assert!(err.contains("store.url") && err.contains("schema") && !err.contains("hunter2secret"), "{err}");
        let err = parse("log_list = \"x\"\n[shard]\ninstance = \"has space\"\n").unwrap_err().to_string();
        assert!(err.contains("shard.instance"), "{err}");
        let err = parse("log_list = \"x\"\n[shard]\ninstance = \"a\"\nlease_secs = 1\n").unwrap_err().to_string();
        assert!(err.contains("shard.lease_secs"), "{err}");
        let err = parse("log_list = \"x\"\n[shard]\nlease_secs = 10\n").unwrap_err().to_string();
        assert!(err.contains("needs `instance`"), "{err}");
        let err = parse("log_list = \"x\"\n[retention]\ncertificates_days = 0\n").unwrap_err().to_string();
        assert!(err.contains("retention.certificates_days"), "{err}");
    }

    #[test]
    fn nameservers_default_port_53() {
        let s = parse("log_list = \"x\"\n[dns]\nnameservers = [\"127.0.0.1:5353\", \"::1\"]").unwrap();
        assert_eq!(s.nameservers[0].port(), 5353);
        assert_eq!(s.nameservers[1].port(), 53);
    }
}
