//! Finding a name's relevant CAA RRset in the DNS (RFC 8659 §3).
//!
//! [`CaaLookup`] is the small interface between the pure evaluation and the network: one CAA
//! query at exactly one name. [`relevant_rrset`] climbs the tree over any `CaaLookup`, and
//! [`HickoryLookup`] implements the interface with hickory-resolver against configured
//! upstream nameservers, falling back to a plain CAA query over UDP/TCP (see [`crate::wire`])
//! when hickory's own CAA parser rejects a response.
//!
//! Failures are [`LookupError`]s and always mean "indeterminate, try again later", never
//! "conflict".

use std::fmt;
use std::future::Future;
use std::hash::{BuildHasher, Hasher};
use std::net::SocketAddr;
use std::pin::Pin;
use std::time::Duration;

use hickory_resolver::Resolver;
use hickory_resolver::config::{ConnectionConfig, NameServerConfig, ResolverConfig, ResolverOpts};
use hickory_resolver::net::runtime::TokioRuntimeProvider;
use hickory_resolver::net::{DnsError, NetError};
use hickory_resolver::proto::ProtoError;
use hickory_resolver::proto::op::ResponseCode;
use hickory_resolver::proto::rr::{Name, RData, RecordType};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpStream, UdpSocket};

use crate::rdata::CaaRecord;
use crate::wire::{self, AnswerRecord};

/// The most CNAMEs followed for one query before the chain counts as a loop.
pub const MAX_ALIASES: usize = 8;

/// The negative TTL assumed when an empty answer carries no SOA.
pub const DEFAULT_NEGATIVE_TTL: u32 = 300;

/// Why a CAA query gave no usable answer. Every variant means the verdict is indeterminate.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LookupError {
    /// The dNSName cannot be turned into a DNS query name.
    #[error("{name:?} is not a valid DNS name: {reason}")]
    InvalidName {
        /// The name as given.
        name: String,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// The resolver answered SERVFAIL (which is also how validating resolvers report DNSSEC
    /// bogus answers).
    #[error("CAA query for {name} failed: SERVFAIL")]
    ServFail {
        /// The name queried.
        name: String,
    },
    /// No answer arrived in time from any nameserver.
    #[error("CAA query for {name} timed out")]
    Timeout {
        /// The name queried.
        name: String,
    },
    /// The resolver answered with another failure code (REFUSED, FORMERR, NOTIMP, …).
    #[error("CAA query for {name} failed: {code}")]
    ResponseCode {
        /// The name queried.
        name: String,
        /// The response code.
        code: String,
    },
    /// DNSSEC validation failed.
    #[error("CAA query for {name} failed DNSSEC validation (bogus)")]
    Bogus {
        /// The name queried.
        name: String,
    },
    /// The CNAME chain loops or is longer than [`MAX_ALIASES`].
    #[error("CAA query for {name}: CNAME chain loops or exceeds {MAX_ALIASES} aliases")]
    AliasLoop {
        /// The name queried.
        name: String,
    },
    /// The response could not be read.
    #[error("CAA query for {name}: malformed response: {message}")]
    Malformed {
        /// The name queried.
        name: String,
        /// What was wrong.
        message: String,
    },
    /// A transport or resolver failure not covered above.
    #[error("CAA query for {name} failed: {message}")]
    Transport {
        /// The name queried.
        name: String,
        /// The underlying error.
        message: String,
    },
}

/// What the DNS said about the CAA RRset at one name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum AnswerStatus {
    /// One or more CAA records.
    Records,
    /// The name exists (or is an alias) but has no CAA records.
    NoData,
    /// The name does not exist.
    NxDomain,
}

/// Which code path produced an answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum AnswerSource {
    /// hickory-resolver.
    Resolver,
    /// The raw CAA query used when hickory rejected the response (for example a CAA tag
    /// longer than 15 octets).
    RawQuery,
}

/// The answer to one CAA query at one name (no climbing).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NameAnswer {
    /// The name queried: lower-case, no trailing dot.
    pub name: String,
    /// Records, no data, or no such name.
    pub status: AnswerStatus,
    /// The CAA records (empty unless `status` is `Records`).
    pub records: Vec<CaaRecord>,
    /// The owner of the records: `name`, or the end of the CNAME chain.
    pub owner: String,
    /// CNAME targets followed from `name`, in order.
    pub aliases: Vec<String>,
    /// The RRset's TTL (lowest record TTL), or the negative-caching TTL for an empty answer.
    pub ttl: u32,
    /// The AD bit of the response.
    pub authentic_data: bool,
    /// The code path that produced the answer.
    pub source: AnswerSource,
}

/// The relevant RRset of a name, with how it was found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RelevantRrset {
    /// The FQDN the search started from (the dNSName with any `*.` removed), lower-case, no
    /// trailing dot.
    pub query_name: String,
    /// The name in the climb whose RRset was non-empty; `None` when no name had CAA records.
    pub found_at: Option<String>,
    /// The owner of the records (differs from `found_at` when reached through a CNAME).
    pub owner: Option<String>,
    /// CNAME targets followed from `found_at`.
    pub aliases: Vec<String>,
    /// The relevant RRset; empty when CAA does not apply anywhere up the tree.
    pub records: Vec<CaaRecord>,
    /// The RRset's TTL, or, when empty, the lowest negative TTL seen during the climb.
    pub ttl: u32,
    /// Whether every answer consulted had the AD bit set.
    pub authentic_data: bool,
    /// The names queried, in order.
    pub tried: Vec<String>,
    /// The code path that produced the deciding answer.
    pub source: AnswerSource,
}

/// A boxed future returned by [`CaaLookup::query`].
pub type LookupFuture<'a> = Pin<Box<dyn Future<Output = Result<NameAnswer, LookupError>> + Send + 'a>>;

/// One CAA query at exactly one name; CNAMEs are followed, parents are not.
pub trait CaaLookup: Send + Sync + fmt::Debug {
    /// Queries CAA at `name` (lower-case, no trailing dot, already validated).
    fn query<'a>(&'a self, name: &'a str) -> LookupFuture<'a>;

    /// The upstream servers answering, for evidence (e.g. `["127.0.0.1:5353"]`).
    fn upstreams(&self) -> Vec<String>;
}

/// Turns a dNSName into the FQDN whose relevant RRset decides it: removes a leading `*.`
/// and one trailing dot, lower-cases, and checks label and name lengths.
pub fn query_name(dns_name: &str) -> Result<String, LookupError> {
    let invalid = |reason| LookupError::InvalidName { name: dns_name.to_string(), reason };
    let n = dns_name.trim();
    let n = n.strip_prefix("*.").unwrap_or(n);
    let n = n.strip_suffix('.').unwrap_or(n);
    if n.is_empty() {
        return Err(invalid("empty name"));
    }
    if n.len() > 253 {
        return Err(invalid("longer than 253 characters"));
    }
    if !n.bytes().all(|b| b.is_ascii_graphic() && b != b'\\') {
        return Err(invalid("contains characters that are not printable ASCII"));
    }
    for label in n.split('.') {
        if label.is_empty() {
            return Err(invalid("empty label"));
        }
        if label.len() > 63 {
            return Err(invalid("label longer than 63 characters"));
        }
        if label == "*" {
            return Err(invalid("wildcard label other than the leftmost"));
        }
    }
    Ok(n.to_ascii_lowercase())
}

/// The names to query for `fqdn`, in order: itself, then each parent up to but not including
/// the root (RFC 8659 §3), so the last one is the TLD.
pub fn climb(fqdn: &str) -> Vec<&str> {
    let mut out = vec![fqdn];
    let mut rest = fqdn;
    while let Some((_, parent)) = rest.split_once('.') {
        if parent.is_empty() {
            break;
        }
        out.push(parent);
        rest = parent;
    }
    out
}

/// Finds the relevant RRset for `dns_name` (RFC 8659 §3): queries the name (for `*.X`, `X`),
/// then each parent up to the TLD; the first non-empty RRset wins and nothing is merged.
/// NXDOMAIN and empty answers move on to the parent; any failure stops the climb with an error.
pub async fn relevant_rrset<L: CaaLookup + ?Sized>(lookup: &L, dns_name: &str) -> Result<RelevantRrset, LookupError> {
    let fqdn = query_name(dns_name)?;
    let mut tried = Vec::new();
    let mut authentic = true;
    let mut negative_ttl: Option<u32> = None;
    let mut last_source = AnswerSource::Resolver;
    for name in climb(&fqdn) {
        let answer = lookup.query(name).await?;
        tried.push(name.to_string());
        authentic &= answer.authentic_data;
        last_source = answer.source;
        if !answer.records.is_empty() {
            return Ok(RelevantRrset {
                query_name: fqdn.clone(),
                found_at: Some(answer.name),
                owner: Some(answer.owner),
                aliases: answer.aliases,
                records: answer.records,
                ttl: answer.ttl,
                authentic_data: authentic,
                tried,
                source: answer.source,
            });
        }
        negative_ttl = Some(negative_ttl.map_or(answer.ttl, |t| t.min(answer.ttl)));
    }
    Ok(RelevantRrset {
        query_name: fqdn,
        found_at: None,
        owner: None,
        aliases: Vec::new(),
        records: Vec::new(),
        ttl: negative_ttl.unwrap_or(DEFAULT_NEGATIVE_TTL),
        authentic_data: authentic,
        tried,
        source: last_source,
    })
}

/// How to reach the upstream resolvers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResolverSettings {
    /// Upstream nameservers (normally recursive resolvers), tried in order.
    pub nameservers: Vec<SocketAddr>,
    /// Time allowed for one query to one server.
    pub timeout: Duration,
    /// How many rounds over the servers before giving up.
    pub attempts: usize,
    /// The most queries hickory keeps in flight per connection.
    pub max_active_requests: usize,
}

impl Default for ResolverSettings {
    fn default() -> Self {
        Self {
            nameservers: vec![SocketAddr::from(([127, 0, 0, 1], 53))],
            timeout: Duration::from_secs(5),
            attempts: 2,
            max_active_requests: 64,
        }
    }
}

/// Why a [`HickoryLookup`] could not be built.
#[derive(Debug, thiserror::Error)]
pub enum ResolverSetupError {
    /// No nameserver is configured.
    #[error("no DNS nameservers configured")]
    NoNameservers,
    /// `attempts` is zero.
    #[error("DNS attempts must be at least 1")]
    NoAttempts,
    /// hickory refused the configuration.
    #[error("building the DNS resolver failed: {0}")]
    Build(String),
}

/// A [`CaaLookup`] over hickory-resolver, with a raw-query fallback for responses hickory
/// cannot parse.
#[derive(Clone)]
pub struct HickoryLookup {
    resolver: Resolver<TokioRuntimeProvider>,
    settings: ResolverSettings,
}

impl fmt::Debug for HickoryLookup {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("HickoryLookup").field("settings", &self.settings).finish_non_exhaustive()
    }
}

impl HickoryLookup {
    /// Builds a resolver that sends CAA queries to `settings.nameservers` over UDP, with TCP
    /// for truncated answers. hickory's own cache is disabled: caching is the checker's job.
    pub fn new(settings: ResolverSettings) -> Result<Self, ResolverSetupError> {
        if settings.nameservers.is_empty() {
            return Err(ResolverSetupError::NoNameservers);
        }
        if settings.attempts == 0 {
            return Err(ResolverSetupError::NoAttempts);
        }
        let servers = settings
            .nameservers
            .iter()
            .map(|addr| {
                let mut udp = ConnectionConfig::udp();
                udp.port = addr.port();
                let mut tcp = ConnectionConfig::tcp();
                tcp.port = addr.port();
                NameServerConfig::new(addr.ip(), true, vec![udp, tcp])
            })
            .collect();
        let mut opts = ResolverOpts::default();
        opts.timeout = settings.timeout;
        opts.attempts = settings.attempts;
        opts.cache_size = 0;
        opts.ndots = 0;
        opts.num_concurrent_reqs = 1;
        opts.max_active_requests = settings.max_active_requests.max(1);
        opts.edns_payload_len = wire::EDNS_PAYLOAD;
        let resolver =
            Resolver::builder_with_config(ResolverConfig::from_name_servers(servers), TokioRuntimeProvider::default())
                .with_options(opts)
                .build()
                .map_err(|e| ResolverSetupError::Build(e.to_string()))?;
        Ok(Self { resolver, settings })
    }

    /// The settings this lookup was built with.
    pub fn settings(&self) -> &ResolverSettings {
        &self.settings
    }

    async fn query_inner(&self, name: &str) -> Result<NameAnswer, LookupError> {
        let fqdn = Name::from_ascii(format!("{name}."))
            .map_err(|_| LookupError::InvalidName { name: name.to_string(), reason: "rejected by the DNS library" })?;
        match self.resolver.lookup(fqdn, RecordType::CAA).await {
            Ok(lookup) => {
                let mut cnames = Vec::new();
                let mut caa = Vec::new();
                for r in lookup.answers() {
                    match &r.data {
                        RData::CAA(c) => caa.push((
                            plain_name(&r.name),
                            r.ttl,
                            CaaRecord::new(c.flags(), c.tag.as_bytes(), c.value.clone()),
                        )),
                        RData::CNAME(target) => cnames.push((plain_name(&r.name), plain_name(&target.0))),
                        _ => {}
                    }
                }
                // Walk the CNAME chain from the query name; a cycle or an overlong chain is a
                // failure, not an empty answer.
                let aliases = follow_chain(name, &cnames)?;
                let owner = aliases.last().cloned().unwrap_or_else(|| name.to_string());
                let mut ttl: Option<u32> = None;
                let mut records = Vec::new();
                for (o, t, rec) in caa {
                    // Records at a name the chain does not reach are not the answer; a
                    // resolver that dropped the CNAMEs (no chain) is trusted as is.
                    if o == owner || cnames.is_empty() {
                        ttl = Some(ttl.map_or(t, |x| x.min(t)));
                        records.push(rec);
                    }
                }
                let authentic_data = lookup.message().metadata.authentic_data;
                let status = if records.is_empty() { AnswerStatus::NoData } else { AnswerStatus::Records };
                Ok(NameAnswer {
                    name: name.to_string(),
                    status,
                    records,
                    owner,
                    aliases,
                    ttl: ttl.unwrap_or(DEFAULT_NEGATIVE_TTL),
                    authentic_data,
                    source: AnswerSource::Resolver,
                })
            }
            Err(NetError::Dns(DnsError::NoRecordsFound(no)))
                if no.response_code == ResponseCode::NoError && no.soa.is_none() =>
            {
                // An empty NOERROR answer without the SOA that RFC 2308 requires is what
                // hickory reports when it gives up on a CNAME chain (a loop, or one deeper
                // than its limit), having dropped the chain itself. Ask again and read the
                // chain ourselves rather than mistake it for "no CAA records".
                self.raw_query(name, 0).await
            }
            Err(NetError::Dns(DnsError::NoRecordsFound(no))) => Ok(NameAnswer {
                name: name.to_string(),
                status: if no.response_code == ResponseCode::NXDomain {
                    AnswerStatus::NxDomain
                } else {
                    AnswerStatus::NoData
                },
                records: Vec::new(),
                owner: name.to_string(),
                aliases: Vec::new(),
                ttl: no.negative_ttl.unwrap_or(DEFAULT_NEGATIVE_TTL),
                authentic_data: false,
                source: AnswerSource::Resolver,
            }),
            Err(NetError::Dns(DnsError::ResponseCode(ResponseCode::ServFail))) => {
                Err(LookupError::ServFail { name: name.to_string() })
            }
            Err(NetError::Dns(DnsError::ResponseCode(code))) => {
                Err(LookupError::ResponseCode { name: name.to_string(), code: code.to_string() })
            }
            Err(NetError::Dns(DnsError::DnssecBogus)) => Err(LookupError::Bogus { name: name.to_string() }),
            Err(NetError::Timeout) => Err(LookupError::Timeout { name: name.to_string() }),
            Err(NetError::Proto(ProtoError::Decode(_) | ProtoError::FormError { .. })) => {
                // hickory's CAA parser rejects some legal tags and fails the whole message;
                // read the answer ourselves.
                self.raw_query(name, 0).await
            }
            Err(e) => Err(LookupError::Transport { name: name.to_string(), message: e.to_string() }),
        }
    }

    /// Queries CAA at `name` with the crate's own codec, following CNAMEs (at most
    /// [`MAX_ALIASES`], counting `depth` already followed).
    fn raw_query<'a>(&'a self, name: &'a str, depth: usize) -> LookupFuture<'a> {
        Box::pin(async move {
            let response = self.raw_exchange(name).await?;
            match response.rcode {
                wire::rcode::NOERROR | wire::rcode::NXDOMAIN => {}
                wire::rcode::SERVFAIL => return Err(LookupError::ServFail { name: name.to_string() }),
                code => {
                    return Err(LookupError::ResponseCode { name: name.to_string(), code: format!("RCODE {code}") });
                }
            }
            // Follow the CNAME chain inside the answer section.
            let cnames: Vec<(String, String)> = response
                .answers
                .iter()
                .filter_map(|a| match a {
                    AnswerRecord::Cname { owner, target, .. } => Some((owner.clone(), target.clone())),
                    AnswerRecord::Caa { .. } => None,
                })
                .collect();
            let mut aliases = follow_chain(name, &cnames)?;
            if depth + aliases.len() > MAX_ALIASES {
                return Err(LookupError::AliasLoop { name: name.to_string() });
            }
            let current = aliases.last().cloned().unwrap_or_else(|| name.to_string());
            let mut records = Vec::new();
            let mut ttl: Option<u32> = None;
            for a in &response.answers {
                if let AnswerRecord::Caa { owner, ttl: t, record } = a
                    && *owner == current
                {
                    ttl = Some(ttl.map_or(*t, |x| x.min(*t)));
                    records.push(record.clone());
                }
            }
            if records.is_empty() && !aliases.is_empty() && response.rcode == wire::rcode::NOERROR {
                // The chain may end at a name outside the server's data: ask for it directly.
                let target = current.clone();
                let mut next = self.raw_query(&target, depth + aliases.len()).await.map_err(|e| match e {
                    LookupError::AliasLoop { .. } => LookupError::AliasLoop { name: name.to_string() },
                    other => other,
                })?;
                aliases.append(&mut next.aliases);
                next.aliases = aliases;
                next.name = name.to_string();
                return Ok(next);
            }
            let status = if !records.is_empty() {
                AnswerStatus::Records
            } else if response.rcode == wire::rcode::NXDOMAIN {
                AnswerStatus::NxDomain
            } else {
                AnswerStatus::NoData
            };
            Ok(NameAnswer {
                name: name.to_string(),
                status,
                records,
                owner: current,
                aliases,
                ttl: ttl.or(response.negative_ttl).unwrap_or(DEFAULT_NEGATIVE_TTL),
                authentic_data: response.authentic_data,
                source: AnswerSource::RawQuery,
            })
        })
    }

    /// Sends one CAA query to the configured servers in turn (UDP, then TCP when truncated),
    /// for `attempts` rounds.
    async fn raw_exchange(&self, name: &str) -> Result<wire::Response, LookupError> {
        let mut last = LookupError::Timeout { name: name.to_string() };
        for _ in 0..self.settings.attempts {
            for &server in &self.settings.nameservers {
                let id = random_id();
                let query = wire::build_query(id, name)
                    .map_err(|e| LookupError::InvalidName { name: name.to_string(), reason: bad_name_reason(&e) })?;
                let attempt = async {
                    let udp = udp_exchange(server, &query).await?;
                    let resp = wire::parse_response(&udp, id, name).map_err(|e| e.to_string())?;
                    if !resp.truncated {
                        return Ok(resp);
                    }
                    let tcp = tcp_exchange(server, &query).await?;
                    wire::parse_response(&tcp, id, name).map_err(|e| e.to_string())
                };
                match tokio::time::timeout(self.settings.timeout, attempt).await {
                    Ok(Ok(resp)) if resp.rcode == wire::rcode::SERVFAIL => {
                        last = LookupError::ServFail { name: name.to_string() };
                    }
                    Ok(Ok(resp)) => return Ok(resp),
                    Ok(Err(message)) => last = LookupError::Malformed { name: name.to_string(), message },
                    Err(_) => last = LookupError::Timeout { name: name.to_string() },
                }
            }
        }
        Err(last)
    }
}

impl CaaLookup for HickoryLookup {
    fn query<'a>(&'a self, name: &'a str) -> LookupFuture<'a> {
        Box::pin(self.query_inner(name))
    }

    fn upstreams(&self) -> Vec<String> {
        self.settings.nameservers.iter().map(|a| a.to_string()).collect()
    }
}

/// Follows CNAMEs (owner, target) from `name`; returns the targets in order, or an error when
/// the chain revisits a name or exceeds [`MAX_ALIASES`].
fn follow_chain(name: &str, cnames: &[(String, String)]) -> Result<Vec<String>, LookupError> {
    let mut aliases: Vec<String> = Vec::new();
    let mut current = name;
    while let Some((_, target)) = cnames.iter().find(|(o, _)| o == current) {
        if target == name || aliases.contains(target) || aliases.len() >= MAX_ALIASES {
            return Err(LookupError::AliasLoop { name: name.to_string() });
        }
        aliases.push(target.clone());
        current = target;
    }
    Ok(aliases)
}

fn bad_name_reason(e: &wire::WireError) -> &'static str {
    match e {
        wire::WireError::BadQueryName { reason, .. } => reason,
        _ => "cannot be encoded",
    }
}

fn plain_name(name: &Name) -> String {
    let s = name.to_ascii().to_ascii_lowercase();
    match s.strip_suffix('.') {
        Some(t) => t.to_string(),
        None => s,
    }
}

fn random_id() -> u16 {
    // RandomState is seeded from the OS once per thread and varied per instance, which is
    // plenty for the ID of a query sent to our own configured resolver.
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u64(std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_nanos() as u64));
    (h.finish() & 0xffff) as u16
}

async fn udp_exchange(server: SocketAddr, query: &[u8]) -> Result<Vec<u8>, String> {
    let bind: SocketAddr = if server.is_ipv4() { ([0, 0, 0, 0], 0).into() } else { ([0u16; 8], 0).into() };
    let sock = UdpSocket::bind(bind).await.map_err(|e| format!("UDP bind: {e}"))?;
    sock.connect(server).await.map_err(|e| format!("UDP connect to {server}: {e}"))?;
    sock.send(query).await.map_err(|e| format!("UDP send to {server}: {e}"))?;
    let mut buf = vec![0u8; 65535];
    // A connected socket only receives datagrams from `server`; a wrong ID is rejected by the
    // parser and counts as a failed attempt.
    let n = sock.recv(&mut buf).await.map_err(|e| format!("UDP receive from {server}: {e}"))?;
    buf.truncate(n);
    Ok(buf)
}

async fn tcp_exchange(server: SocketAddr, query: &[u8]) -> Result<Vec<u8>, String> {
    let mut stream = TcpStream::connect(server).await.map_err(|e| format!("TCP connect to {server}: {e}"))?;
    let len = u16::try_from(query.len()).map_err(|_| "query too long".to_string())?;
    let mut framed = Vec::with_capacity(query.len() + 2);
    framed.extend_from_slice(&len.to_be_bytes());
    framed.extend_from_slice(query);
    stream.write_all(&framed).await.map_err(|e| format!("TCP send to {server}: {e}"))?;
    let resp_len = stream.read_u16().await.map_err(|e| format!("TCP receive from {server}: {e}"))?;
    let mut buf = vec![0u8; usize::from(resp_len)];
    stream.read_exact(&mut buf).await.map_err(|e| format!("TCP receive from {server}: {e}"))?;
    Ok(buf)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;
    use std::sync::Mutex;

    #[test]
    fn query_names() {
        assert_eq!(query_name("*.Example.COM.").unwrap(), "example.com");
        assert_eq!(query_name(" www.example.gov.tw ").unwrap(), "www.example.gov.tw");
        assert_eq!(query_name("_acme.example").unwrap(), "_acme.example");
        for bad in ["", "*.", ".", "a..b", "a.*.b", "a b.example", "caf\u{e9}.example", "a\\b"] {
            assert!(query_name(bad).is_err(), "{bad:?}");
        }
        assert!(query_name(&format!("{}.example", "a".repeat(64))).is_err());
        assert!(query_name(&vec!["abcdefghij"; 24].join(".")).is_err());
    }

    #[test]
    fn climbing_stops_before_the_root() {
        assert_eq!(climb("a.b.gov.tw"), vec!["a.b.gov.tw", "b.gov.tw", "gov.tw", "tw"]);
        assert_eq!(climb("tw"), vec!["tw"]);
    }

    /// A lookup answering from a table; names not in it are NXDOMAIN, names mapped to `None`
    /// fail with SERVFAIL.
    #[derive(Debug, Default)]
    struct Table {
        answers: HashMap<String, Option<Vec<CaaRecord>>>,
        asked: Mutex<Vec<String>>,
    }

    impl CaaLookup for Table {
        fn query<'a>(&'a self, name: &'a str) -> LookupFuture<'a> {
            Box::pin(async move {
                self.asked.lock().unwrap().push(name.to_string());
                let (status, records) = match self.answers.get(name) {
                    None => (AnswerStatus::NxDomain, vec![]),
                    Some(None) => return Err(LookupError::ServFail { name: name.to_string() }),
                    Some(Some(r)) if r.is_empty() => (AnswerStatus::NoData, vec![]),
                    Some(Some(r)) => (AnswerStatus::Records, r.clone()),
                };
                Ok(NameAnswer {
                    name: name.to_string(),
                    status,
                    records,
                    owner: name.to_string(),
                    aliases: vec![],
                    ttl: if status == AnswerStatus::Records { 3600 } else { 60 + name.len() as u32 },
                    authentic_data: true,
                    source: AnswerSource::Resolver,
                })
            })
        }

        fn upstreams(&self) -> Vec<String> {
            vec!["table".into()]
        }
    }

    fn block_on<F: Future>(f: F) -> F::Output {
        tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(f)
    }

    #[test]
    fn first_non_empty_rrset_wins_without_merging() {
        let mut t = Table::default();
        t.answers.insert("example.com".into(), Some(vec![CaaRecord::new(0, "issue", "parent.example")]));
        t.answers.insert("b.example.com".into(), Some(vec![]));
        t.answers.insert("com".into(), Some(vec![CaaRecord::new(0, "issue", "tld.example")]));
        let r = block_on(relevant_rrset(&t, "*.A.b.example.com")).unwrap();
        assert_eq!(r.query_name, "a.b.example.com");
        assert_eq!(r.found_at.as_deref(), Some("example.com"));
        assert_eq!(r.records, vec![CaaRecord::new(0, "issue", "parent.example")]);
        assert_eq!(r.tried, vec!["a.b.example.com", "b.example.com", "example.com"]);
        assert_eq!(r.ttl, 3600);
        assert!(r.authentic_data);
    }

    #[test]
    fn nothing_found_reports_lowest_negative_ttl() {
        let t = Table::default();
        let r = block_on(relevant_rrset(&t, "x.y.example")).unwrap();
        assert!(r.records.is_empty());
        assert_eq!(r.found_at, None);
        assert_eq!(r.tried, vec!["x.y.example", "y.example", "example"]);
        assert_eq!(r.ttl, 67);
    }

    #[test]
    fn a_failure_anywhere_stops_the_climb() {
        let mut t = Table::default();
        t.answers.insert("example".into(), None);
        t.answers.insert("com".into(), Some(vec![CaaRecord::new(0, "issue", ";")]));
        let e = block_on(relevant_rrset(&t, "a.example")).unwrap_err();
        assert_eq!(e, LookupError::ServFail { name: "example".into() });
        assert_eq!(*t.asked.lock().unwrap(), vec!["a.example", "example"]);
    }

    #[test]
    fn invalid_names_are_errors_not_queries() {
        let t = Table::default();
        assert!(matches!(block_on(relevant_rrset(&t, "a..b")), Err(LookupError::InvalidName { .. })));
        assert!(t.asked.lock().unwrap().is_empty());
    }

    #[test]
    fn setup_errors() {
        let s = ResolverSettings { nameservers: vec![], ..Default::default() };
        assert!(matches!(HickoryLookup::new(s), Err(ResolverSetupError::NoNameservers)));
        let s = ResolverSettings { attempts: 0, ..Default::default() };
        assert!(matches!(HickoryLookup::new(s), Err(ResolverSetupError::NoAttempts)));
    }
}
