//! The PostgreSQL backend: one database (or one schema of it) shared by any number of ctwatch
//! instances, each log leased to one instance at a time.
//!
//! # Location
//!
//! A `postgres://` or `postgresql://` URL as libpq and `tokio-postgres` take it, e.g.
//! `postgres://ctwatch:secret@db.example:5432/ctwatch?sslmode=disable`, plus one parameter of
//! ctwatch's own: `schema=NAME` keeps ctwatch's tables in schema `NAME` (letters, digits and
//! `_`, at most 63 characters, created on first read-write open) instead of the user's default
//! (`public`), so several deployments or test runs can share one database. It works by adding
//! `-c search_path=NAME` to the connection's `options`, which a URL may also set directly.
//! Only unencrypted connections are supported (`NoTls`): use a local socket, a private network
//! or a TLS tunnel. Without `connect_timeout`, connecting gives up after 10 s.
//!
//! # Threads
//!
//! The synchronous `postgres` client runs its own Tokio runtime and panics when called from a
//! thread that is inside another runtime's context — which the CLI's async `main` is. So a
//! [`PgStore`] owns a dedicated OS thread that holds the connection; every call sends a closure
//! to it over a channel and blocks on the reply. A `PgStore` can therefore be used from any
//! thread, inside or outside a runtime. A closed connection (server restart) is re-opened on
//! the next call.
//!
//! # Concurrency
//!
//! Every write runs in one transaction. `commit` locks the log's row (`SELECT … FOR UPDATE`), so
//! two writers of the same log are serialized and the second one fails its cursor check; the
//! lease row is read `FOR SHARE` in the same transaction, so a takeover cannot slip between the
//! lease check and the commit. Certificates, issuance counts, findings and revocations are
//! written with `INSERT … ON CONFLICT`, which is race-free between instances: a certificate is
//! inserted (and its issuance counted) by exactly one transaction, a finding key exists once. A
//! transaction that PostgreSQL aborts as a deadlock victim or serialization failure is retried.
//!
//! Layout: `schema` holds the versioned schema and migrations, `write` the transactional
//! writes, `read` the queries.

mod read;
pub(crate) mod schema;
mod write;

use crate::model::*;
use crate::{Store, StoreError};
use postgres::config::Host;
use postgres::{Client, Config, NoTls};
use std::fmt;
use std::str::FromStr;
use std::sync::mpsc;
use std::thread::JoinHandle;
use std::time::Duration;

/// How long connecting may take when the URL does not say (`connect_timeout`).
const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// Whether `location` names a PostgreSQL database rather than a SQLite file.
pub fn is_postgres_url(location: &str) -> bool {
    let lower = location.get(..13).unwrap_or(location).to_ascii_lowercase();
    lower.starts_with("postgres://") || lower.starts_with("postgresql://")
}

/// A parsed store location: the client configuration, the schema to use (if any) and how to
/// name the server in messages.
#[derive(Clone)]
pub(crate) struct Location {
    pub(crate) config: Config,
    pub(crate) schema: Option<String>,
    /// Hosts, ports, database and user: never the password.
    pub(crate) target: String,
}

impl fmt::Debug for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Location").field("target", &self.target).finish_non_exhaustive()
    }
}

impl Location {
    /// Parse a `postgres://` URL with ctwatch's `schema` parameter (see the module docs).
    pub(crate) fn parse(url: &str) -> Result<Self, StoreError> {
        let invalid = |reason: String| StoreError::InvalidLocation { location: redact_url(url), reason };
        let (base, query) = match url.split_once('?') {
            Some((base, query)) => (base, Some(query)),
            None => (url, None),
        };
        let mut schema = None;
        let mut kept = Vec::new();
        for pair in query.into_iter().flat_map(|q| q.split('&')).filter(|p| !p.is_empty()) {
            match pair.split_once('=') {
                Some(("schema", name)) => {
                    if !valid_schema_name(name) {
                        return Err(invalid(format!(
                            "schema name {name:?} must be 1 to 63 ASCII letters, digits or '_', not starting with a digit"
                        )));
                    }
                    schema = Some(name.to_string());
                }
                _ => kept.push(pair),
            }
        }
        let rebuilt = if kept.is_empty() { base.to_string() } else { format!("{base}?{}", kept.join("&")) };
        let mut config = Config::from_str(&rebuilt).map_err(|e| invalid(describe(&e)))?;
        if config.get_connect_timeout().is_none() {
            config.connect_timeout(DEFAULT_CONNECT_TIMEOUT);
        }
        if config.get_application_name().is_none() {
            config.application_name("ctwatch");
        }
        if let Some(schema) = &schema {
            let options = match config.get_options() {
                Some(existing) if !existing.is_empty() => format!("{existing} -c search_path={schema}"),
                _ => format!("-c search_path={schema}"),
            };
            config.options(&options);
        }
        let target = describe_target(&config, schema.as_deref());
        Ok(Self { config, schema, target })
    }
}

/// A schema name ctwatch accepts: an unquoted PostgreSQL identifier that needs no escaping.
fn valid_schema_name(name: &str) -> bool {
    let mut chars = name.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
        && name.len() <= 63
}

/// `host:port[,host:port…]/database as user[, schema s]` for messages.
fn describe_target(config: &Config, schema: Option<&str>) -> String {
    let ports = config.get_ports();
    let hosts: Vec<String> = config
        .get_hosts()
        .iter()
        .enumerate()
        .map(|(i, host)| {
            let port = ports.get(i).or(ports.first()).copied().unwrap_or(5432);
            match host {
                Host::Tcp(name) => format!("{name}:{port}"),
                Host::Unix(path) => format!("{}:{port}", path.display()),
            }
        })
        .collect();
    let hosts = if hosts.is_empty() { "localhost:5432".to_string() } else { hosts.join(",") };
    let mut out = format!("{hosts} (database {}", config.get_dbname().unwrap_or("(default)"));
    if let Some(user) = config.get_user() {
        out.push_str(&format!(", user {user}"));
    }
    if let Some(schema) = schema {
        out.push_str(&format!(", schema {schema}"));
    }
    out.push(')');
    out
}

/// The URL with its password (in the authority or a `password=` parameter) replaced by `***`,
/// for messages.
pub(crate) fn redact_url(url: &str) -> String {
    let (base, query) = match url.split_once('?') {
        Some((base, query)) => (base, Some(query)),
        None => (url, None),
    };
    let mut out = match base.split_once("://") {
        Some((scheme, rest)) => {
            let authority_end = rest.find('/').unwrap_or(rest.len());
            let (authority, path) = rest.split_at(authority_end);
            match authority.rsplit_once('@') {
                Some((userinfo, hosts)) => match userinfo.split_once(':') {
                    Some((user, _password)) => format!("{scheme}://{user}:***@{hosts}{path}"),
                    None => base.to_string(),
                },
                None => base.to_string(),
            }
        }
        None => base.to_string(),
    };
    if let Some(query) = query {
        let pairs: Vec<String> = query
            .split('&')
            .map(|pair| match pair.split_once('=') {
                Some(("password", _)) => "password=***".to_string(),
                _ => pair.to_string(),
            })
            .collect();
        out.push('?');
        out.push_str(&pairs.join("&"));
    }
    out
}

/// The whole message of a client error: its kind and every cause (the server's message,
/// the I/O error), which `postgres::Error`'s own `Display` leaves out.
pub(crate) fn describe(error: &postgres::Error) -> String {
    let mut message = error.to_string();
    let mut source = std::error::Error::source(error);
    while let Some(cause) = source {
        message.push_str(": ");
        message.push_str(&cause.to_string());
        source = cause.source();
    }
    message
}

impl From<postgres::Error> for StoreError {
    fn from(error: postgres::Error) -> Self {
        StoreError::Postgres { message: describe(&error), sqlstate: error.code().map(|c| c.code().to_string()) }
    }
}

/// Connect with `location`'s settings; on failure the error names the server, never the
/// password.
pub(crate) fn connect(location: &Location) -> Result<Client, StoreError> {
    location
        .config
        .connect(NoTls)
        .map_err(|e| StoreError::PostgresConnect { target: location.target.clone(), message: describe(&e) })
}

/// The connection thread's state: the connection (re-opened when it was closed) and how to
/// open it.
struct Session {
    location: Location,
    client: Option<Client>,
}

impl Session {
    /// The open connection, re-connecting when there is none or it was closed.
    fn client(&mut self) -> Result<&mut Client, StoreError> {
        let client = match self.client.take() {
            Some(client) if !client.is_closed() => client,
            _ => connect(&self.location)?,
        };
        Ok(self.client.insert(client))
    }
}

/// Work sent to the connection thread.
type Job = Box<dyn FnOnce(&mut Session) + Send>;

/// A [`Store`] on a PostgreSQL database (see the module documentation).
pub struct PgStore {
    /// Sends work to the connection thread; dropping it ends the thread.
    jobs: Option<mpsc::Sender<Job>>,
    worker: Option<JoinHandle<()>>,
    /// The server, database, user and schema, for messages.
    target: String,
}

impl fmt::Debug for PgStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PgStore").field("target", &self.target).finish_non_exhaustive()
    }
}

impl PgStore {
    /// Connect to the database at `url` for reading and writing, create the URL's `schema` if
    /// it does not exist, and migrate the schema to the newest version.
    ///
    /// Fails with [`StoreError::InvalidLocation`] for a URL that does not parse,
    /// [`StoreError::PostgresConnect`] when the server cannot be reached or refuses the login,
    /// and [`StoreError::SchemaTooNew`] when a newer ctwatch wrote the database.
    pub fn open(url: &str) -> Result<Self, StoreError> {
        let location = Location::parse(url)?;
        let store = Self::start(location.clone())?;
        let schema = location.schema.clone();
        let target = location.target.clone();
        store.call(move |client| {
            if let Some(schema) = &schema {
                schema::create_schema(client, schema)?;
            }
            schema::migrate(client, &target, schema::MIGRATIONS)
        })?;
        Ok(store)
    }

    /// Connect for reading only, e.g. for `ctwatch status` while daemons run: every transaction
    /// of the session is read-only (`default_transaction_read_only`), so writing methods fail,
    /// and the schema is never migrated (it must be at this build's version).
    pub fn open_read_only(url: &str) -> Result<Self, StoreError> {
        let mut location = Location::parse(url)?;
        let options = match location.config.get_options() {
            Some(existing) if !existing.is_empty() => format!("{existing} -c default_transaction_read_only=on"),
            _ => "-c default_transaction_read_only=on".to_string(),
        };
        location.config.options(&options);
        let target = location.target.clone();
        let store = Self::start(location)?;
        store.call(move |client| {
            let version = schema::read_version(client)?;
            let supported = schema::current_version();
            if version > supported {
                return Err(StoreError::SchemaTooNew { path: target, found: version, supported });
            }
            if version < supported {
                return Err(StoreError::Other(format!(
                    "database {target} has schema version {version}, older than this ctwatch ({supported}); open \
                     it once read-write (start the daemon) to migrate it"
                )));
            }
            Ok(())
        })?;
        Ok(store)
    }

    /// The schema version of the database.
    pub fn schema_version(&self) -> Result<i64, StoreError> {
        self.call(schema::read_version)
    }

    /// The server, database, user and schema this store uses (no password), for messages.
    pub fn target(&self) -> &str {
        &self.target
    }

    /// Start the connection thread. The connection itself is made by the first call.
    fn start(location: Location) -> Result<Self, StoreError> {
        let target = location.target.clone();
        let (jobs, queue) = mpsc::channel::<Job>();
        let worker = std::thread::Builder::new()
            .name("ctwatch-postgres".to_string())
            .spawn(move || {
                let mut session = Session { location, client: None };
                while let Ok(job) = queue.recv() {
                    job(&mut session);
                }
            })
            .map_err(|e| StoreError::Other(format!("cannot start the PostgreSQL connection thread: {e}")))?;
        Ok(Self { jobs: Some(jobs), worker: Some(worker), target })
    }

    /// Run `work` on the connection thread and wait for its result.
    pub(crate) fn call<T: Send + 'static>(
        &self,
        work: impl FnOnce(&mut Client) -> Result<T, StoreError> + Send + 'static,
    ) -> Result<T, StoreError> {
        let stopped =
            || StoreError::Other(format!("the connection thread of PostgreSQL store {} has stopped", self.target));
        let (reply, result) = mpsc::sync_channel(1);
        let job: Job = Box::new(move |session: &mut Session| {
            let outcome = session.client().and_then(work);
            // The caller waits for this reply; it can only be gone if the caller panicked.
            let _ = reply.send(outcome);
        });
        self.jobs.as_ref().ok_or_else(stopped)?.send(job).map_err(|_| stopped())?;
        result.recv().map_err(|_| stopped())?
    }
}

impl Drop for PgStore {
    /// Close the connection: ending the channel ends the thread, which drops the client.
    fn drop(&mut self) {
        self.jobs = None;
        if let Some(worker) = self.worker.take() {
            let _ = worker.join();
        }
    }
}

impl Store for PgStore {
    fn open_log(&mut self, log: &LogIdentity) -> Result<LogCheckpoint, StoreError> {
        let log = log.clone();
        self.call(move |c| write::open_log(c, &log))
    }

    fn commit(&mut self, batch: &CommitBatch) -> Result<CommitOutcome, StoreError> {
        let batch = batch.clone();
        self.call(move |c| write::commit(c, &batch, None))
    }

    fn commit_leased(&mut self, batch: &CommitBatch, lease: &LogLease) -> Result<CommitOutcome, StoreError> {
        let (batch, lease) = (batch.clone(), lease.clone());
        self.call(move |c| write::commit(c, &batch, Some(&lease)))
    }

    fn commit_backfill(&mut self, batch: &CommitBatch, count_issuance: bool) -> Result<CommitOutcome, StoreError> {
        let batch = batch.clone();
        self.call(move |c| write::commit_backfill(c, &batch, count_issuance))
    }

    fn acquire_log_lease(
        &mut self,
        log_id: &Hash,
        instance: &str,
        ttl: Duration,
        now: i64,
    ) -> Result<Option<LogLease>, StoreError> {
        let (log_id, instance) = (*log_id, instance.to_string());
        self.call(move |c| write::acquire_log_lease(c, &log_id, &instance, ttl, now))
    }

    fn release_log_lease(&mut self, log_id: &Hash, instance: &str) -> Result<bool, StoreError> {
        let (log_id, instance) = (*log_id, instance.to_string());
        self.call(move |c| write::release_log_lease(c, &log_id, &instance))
    }

    fn log_leases(&self) -> Result<Vec<LogLease>, StoreError> {
        self.call(read::log_leases)
    }

    fn prune_certificates(&mut self, not_after_before: i64, limit: usize) -> Result<PruneStats, StoreError> {
        self.call(move |c| write::prune_certificates(c, not_after_before, limit))
    }

    fn record_observation(&mut self, obs: &LogObservation) -> Result<(), StoreError> {
        let obs = obs.clone();
        self.call(move |c| write::record_observation(c, &obs))
    }

    fn log_status(&self) -> Result<Vec<LogStatus>, StoreError> {
        self.call(read::log_status)
    }

    fn certificate_count(&self) -> Result<u64, StoreError> {
        self.call(read::certificate_count)
    }

    fn certificates(&self, after_id: i64, limit: usize) -> Result<Vec<StoredCertificate>, StoreError> {
        self.call(move |c| read::certificates(c, after_id, limit))
    }

    fn entries_for_certificate(&self, cert_id: i64) -> Result<Vec<EntryRef>, StoreError> {
        self.call(move |c| read::entries_for_certificate(c, cert_id))
    }

    fn malformed_entries(&self, log_id: Option<&[u8; 32]>) -> Result<Vec<MalformedEntry>, StoreError> {
        let log_id = log_id.copied();
        self.call(move |c| read::malformed_entries(c, log_id.as_ref()))
    }

    fn issuance_counts(
        &self,
        issuer: Option<&[u8; 32]>,
        from_hour: i64,
        to_hour: i64,
    ) -> Result<Vec<IssuanceCount>, StoreError> {
        let issuer = issuer.copied();
        self.call(move |c| read::issuance_counts(c, issuer.as_ref(), from_hour, to_hour))
    }

    fn findings(&self, filter: &FindingFilter) -> Result<Vec<Finding>, StoreError> {
        let filter = filter.clone();
        self.call(move |c| read::findings(c, &filter))
    }

    fn finding(&self, id: i64) -> Result<Option<(Finding, Vec<i64>)>, StoreError> {
        self.call(move |c| read::finding(c, id))
    }

    fn set_finding_status(&mut self, id: i64, status: FindingStatus) -> Result<(), StoreError> {
        self.call(move |c| write::set_finding_status(c, id, status))
    }

    fn certificate(&self, id: i64) -> Result<Option<StoredCertificate>, StoreError> {
        self.call(move |c| read::certificate(c, id))
    }

    fn certificates_by_issuer_serial(
        &self,
        issuer: &Hash,
        serial: &[u8],
    ) -> Result<Vec<StoredCertificate>, StoreError> {
        let (issuer, serial) = (*issuer, serial.to_vec());
        self.call(move |c| read::certificates_by_issuer_serial(c, &issuer, &serial))
    }

    fn certificates_by_key(
        &self,
        spki_sha256: &Hash,
        material_sha256: Option<&Hash>,
    ) -> Result<Vec<StoredCertificate>, StoreError> {
        let (spki, material) = (*spki_sha256, material_sha256.copied());
        self.call(move |c| read::certificates_by_key(c, &spki, material.as_ref()))
    }

    fn finding_certificates(&self, finding_id: i64) -> Result<Vec<StoredCertificate>, StoreError> {
        self.call(move |c| read::finding_certificates(c, finding_id))
    }

    fn record_findings(&mut self, findings: &[NewFinding]) -> Result<u64, StoreError> {
        let findings = findings.to_vec();
        self.call(move |c| write::record_findings(c, &findings))
    }

    fn add_compromised_keys(
        &mut self,
        keys: &[CompromisedKeyRecord],
        findings: &[NewFinding],
    ) -> Result<u64, StoreError> {
        let (keys, findings) = (keys.to_vec(), findings.to_vec());
        self.call(move |c| write::add_compromised_keys(c, &keys, &findings))
    }

    fn compromised_keys(&self) -> Result<Vec<CompromisedKeyRecord>, StoreError> {
        self.call(read::compromised_keys)
    }

    fn crl_state(&self, url: &str) -> Result<Option<CrlState>, StoreError> {
        let url = url.to_string();
        self.call(move |c| read::crl_state(c, &url))
    }

    fn record_crl(&mut self, crl: &CrlRecord, findings: &[NewFinding]) -> Result<(), StoreError> {
        let (crl, findings) = (crl.clone(), findings.to_vec());
        self.call(move |c| write::record_crl(c, &crl, &findings))
    }

    fn revocation(&self, issuer: &Hash, serial: &[u8]) -> Result<Option<RevocationRecord>, StoreError> {
        let (issuer, serial) = (*issuer, serial.to_vec());
        self.call(move |c| read::revocation(c, &issuer, &serial))
    }

    fn certificates_pending_caa(&self, limit: usize) -> Result<Vec<StoredCertificate>, StoreError> {
        self.call(move |c| read::certificates_pending_caa(c, limit))
    }

    fn record_caa(
        &mut self,
        cert_ids: &[i64],
        checked_at: Option<i64>,
        findings: &[NewFinding],
    ) -> Result<(), StoreError> {
        let (cert_ids, findings) = (cert_ids.to_vec(), findings.to_vec());
        self.call(move |c| write::record_caa(c, &cert_ids, checked_at, &findings))
    }

    fn pending_deliveries(&self, sink: &str, after_id: i64, limit: usize) -> Result<Vec<Finding>, StoreError> {
        let sink = sink.to_string();
        self.call(move |c| read::pending_deliveries(c, &sink, after_id, limit))
    }

    fn deliveries_to_resend(
        &self,
        sink: &str,
        delivered_before: i64,
        after_id: i64,
        limit: usize,
    ) -> Result<Vec<Finding>, StoreError> {
        let sink = sink.to_string();
        self.call(move |c| read::deliveries_to_resend(c, &sink, delivered_before, after_id, limit))
    }

    fn mark_delivered(
        &mut self,
        sink: &str,
        finding_id: i64,
        last_seen: i64,
        status: FindingStatus,
        at: i64,
    ) -> Result<(), StoreError> {
        let sink = sink.to_string();
        self.call(move |c| write::mark_delivered(c, &sink, finding_id, last_seen, status, at))
    }
}

/// PostgreSQL `TEXT` cannot hold NUL characters (SQLite's can): they are stored as U+FFFD.
/// Applied to text that can come from untrusted input (certificate subjects, decoder errors,
/// finding keys and labels, CRL URLs, sink names).
pub(crate) fn pg_text(text: &str) -> std::borrow::Cow<'_, str> {
    if text.contains('\0') { std::borrow::Cow::Owned(text.replace('\0', "\u{fffd}")) } else { text.into() }
}

#[cfg(test)]
mod tests;
