//! CAA checks of certificate names (RFC 8659, RFC 8657, BR 3.2.2.8).
//!
//! For each dNSName of a certificate from a watched CA, ctwatch finds the name's relevant CAA
//! RRset and decides whether the CA's CAA identifiers were allowed to issue:
//!
//! - [`rdata`] parses CAA RDATA and `issue` values itself (pure), tolerating tags a DNS
//!   library would reject;
//! - [`eval`] turns a relevant RRset into a [`CaaVerdict`] (pure, no I/O);
//! - [`lookup`] finds the relevant RRset by climbing the DNS tree over a [`CaaLookup`], with
//!   [`HickoryLookup`] querying configured upstream resolvers;
//! - [`wire`] is the minimal DNS codec behind the raw-query fallback;
//! - [`checker`] adds a TTL cache shared by all names, bounded concurrency, a query rate limit
//!   and the evidence a finding carries ([`CaaChecker`], [`CaaCheck`]).
//!
//! Invariants: a lookup failure (SERVFAIL, timeout, DNSSEC bogus, malformed answer) is
//! `indeterminate` and never a conflict; this crate knows nothing about CT logs, certificates
//! or storage — callers pass names, identifiers and times.
//!
//! ```
//! use ctwatch_caa::{CaaRecord, CaaVerdict, evaluate};
//!
//! let rrset = [CaaRecord::new(0, "issue", "letsencrypt.org"), CaaRecord::new(0, "issue", "GTLSCA-G1")];
//! let ids = ["pki.hinet.net".to_string(), "tls.hinet.net".to_string()];
//! let d = evaluate("www.example.gov.tw", &rrset, &ids);
//! assert_eq!(d.verdict, CaaVerdict::Conflict);
//! ```

#![forbid(unsafe_code)]

pub mod checker;
pub mod eval;
pub mod lookup;
pub mod rdata;
pub mod wire;

pub use checker::{CaaCheck, CaaChecker, CaaCheckerSettings, CheckerStats, build_check, is_confirmed};
pub use eval::{CaaDecision, CaaVerdict, evaluate};
pub use lookup::{
    AnswerSource, AnswerStatus, CaaLookup, HickoryLookup, LookupError, LookupFuture, NameAnswer, RelevantRrset,
    ResolverSettings, ResolverSetupError, relevant_rrset,
};
pub use rdata::{CaaRecord, IssueValue, IssueValueError, RdataError, parse_issue_value};
