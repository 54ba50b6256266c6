//! CA/Browser Forum Baseline Requirements and RFC 5280 lints for subscriber TLS certificates and
//! precertificates, as seen in Certificate Transparency logs. Pure: no IO, no clock.
//!
//! - [`registry`] lists every lint ([`LintInfo`]): its name (zlint's where zlint has the same
//!   check), the zlint and pkilint names it corresponds to, the citation, what a failure means
//!   ([`LintSeverity`]) and the notBefore range in which it is in force.
//! - [`lint`] runs every lint over one certificate and returns one [`LintResult`] per lint;
//!   [`failures`] returns only the warnings and errors and is the monitor's hot path.
//!
//! The certificate is parsed once with `x509-parser`; every lint reads that one parse and the
//! [`CertFacts`] the caller already has. A certificate `x509-parser` rejects is still linted by
//! the lints that only need the facts (validity, serial, names, URLs); the others report
//! [`LintStatus::NotApplicable`] and `e_cert_unparseable` reports the parse error. Nothing here
//! panics on malformed input.
//!
//! Lints apply to subscriber certificates: a certificate that is a CA by its own extensions
//! (basicConstraints cA=TRUE and keyUsage keyCertSign) gets `NotApplicable` from every lint.
//!
//! ```no_run
//! use ctwatch_lint::{failures, LintInput};
//! let der: &[u8] = &[];
//! let facts = ctwatch_cert::facts::cert_facts(der).unwrap();
//! let input = LintInput { der, facts: &facts, is_precert: facts.is_precert, sct_timestamp_ms: None };
//! for r in failures(&input) {
//!     println!("{} ({:?}): {}", r.lint.name, r.status, r.detail.unwrap_or_default());
//! }
//! ```
//!
//! Invariant: the lints know nothing about CT logs, issuers or the store; whether a finding is
//! raised, and when, is the caller's decision.

mod cert;
mod dns;
mod lints;

pub use ctwatch_cert::facts::CertFacts;

use cert::Cert;

/// The result of one lint on one certificate.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LintStatus {
    /// The certificate meets the requirement.
    Pass,
    /// The requirement does not concern this certificate (e.g. an RSA lint on an ECDSA key, or
    /// a field that could not be decoded).
    NotApplicable,
    /// The certificate's notBefore is outside the period in which the requirement is in force.
    NotEffective,
    /// The certificate fails a SHOULD-level requirement.
    Warn,
    /// The certificate fails a MUST-level requirement.
    Error,
}

impl LintStatus {
    /// The snake_case name used in JSON and metric labels.
    pub fn as_str(self) -> &'static str {
        match self {
            LintStatus::Pass => "pass",
            LintStatus::NotApplicable => "not_applicable",
            LintStatus::NotEffective => "not_effective",
            LintStatus::Warn => "warn",
            LintStatus::Error => "error",
        }
    }

    /// True for [`LintStatus::Warn`] and [`LintStatus::Error`].
    pub fn is_failure(self) -> bool {
        matches!(self, LintStatus::Warn | LintStatus::Error)
    }
}

/// What a failed lint means: a SHOULD (warning) or a MUST (error) of the cited requirement.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LintSeverity {
    /// A SHOULD / SHOULD NOT requirement.
    Warn,
    /// A MUST / MUST NOT requirement.
    Error,
}

impl LintSeverity {
    /// The snake_case name.
    pub fn as_str(self) -> &'static str {
        match self {
            LintSeverity::Warn => "warn",
            LintSeverity::Error => "error",
        }
    }

    /// The status a failure of a lint with this severity gets.
    pub fn failure_status(self) -> LintStatus {
        match self {
            LintSeverity::Warn => LintStatus::Warn,
            LintSeverity::Error => LintStatus::Error,
        }
    }
}

/// The check a lint runs; see [`lints`] for the outcome convention.
pub(crate) type Check = fn(&Cert<'_>) -> lints::Outcome;

/// Static description of one lint.
#[derive(Debug, serde::Serialize)]
pub struct LintInfo {
    /// Our name; zlint's name when zlint has the same check.
    pub name: &'static str,
    /// The zlint lint this corresponds to, if any.
    pub zlint: Option<&'static str>,
    /// The pkilint finding code(s) this corresponds to, `,`-separated when several.
    pub pkilint: Option<&'static str>,
    /// Where the requirement is written (BR section, RFC section, policy).
    pub citation: &'static str,
    /// What a failure means.
    pub severity: LintSeverity,
    /// Unix seconds: certificates with an earlier notBefore get [`LintStatus::NotEffective`].
    pub effective: i64,
    /// Unix seconds: certificates with this notBefore or later get
    /// [`LintStatus::NotEffective`] (a later rule replaced this one), if set.
    pub ineffective: Option<i64>,
    /// One sentence saying what is checked.
    pub description: &'static str,
    #[serde(skip)]
    pub(crate) check: Check,
}

impl LintInfo {
    /// Whether the requirement is in force for a certificate with this notBefore.
    pub fn is_effective(&self, not_before: i64) -> bool {
        not_before >= self.effective && self.ineffective.is_none_or(|end| not_before < end)
    }

    /// Each `,`-separated pkilint code this lint maps to.
    pub fn pkilint_codes(&self) -> impl Iterator<Item = &'static str> {
        self.pkilint.into_iter().flat_map(|s| s.split(',')).map(str::trim)
    }
}

/// The outcome of one lint on one certificate.
#[derive(Debug, Clone, serde::Serialize)]
pub struct LintResult {
    /// The lint that ran.
    pub lint: &'static LintInfo,
    /// Its result.
    pub status: LintStatus,
    /// What was found, for failures and for not-applicable results caused by undecodable fields.
    pub detail: Option<String>,
}

/// One certificate to lint.
#[derive(Debug, Clone, Copy)]
pub struct LintInput<'a> {
    /// The certificate or precertificate DER.
    pub der: &'a [u8],
    /// Its facts, as extracted by `ctwatch_cert::facts::cert_facts`.
    pub facts: &'a CertFacts,
    /// Whether the log entry is a precertificate.
    pub is_precert: bool,
    /// The CT entry's timestamp (milliseconds since the Unix epoch), compared with notBefore.
    /// When absent, the earliest embedded SCT's timestamp is used, if any.
    pub sct_timestamp_ms: Option<u64>,
}

/// Every lint, in a fixed order.
pub fn registry() -> &'static [LintInfo] {
    lints::REGISTRY
}

/// The lint with this name, if registered.
pub fn lint_info(name: &str) -> Option<&'static LintInfo> {
    lints::REGISTRY.iter().find(|l| l.name == name)
}

/// How [`lint_with`] runs the lints.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct LintOptions {
    /// Judge every certificate by every lint, whatever its notBefore: no result is
    /// [`LintStatus::NotEffective`]. For comparing with linters that apply today's rules to old
    /// certificates, and for "would this be allowed now?" questions.
    pub ignore_effective_dates: bool,
}

/// Run every lint; one result per registered lint, in registry order.
pub fn lint(input: &LintInput<'_>) -> Vec<LintResult> {
    lint_with(input, &LintOptions::default())
}

/// [`lint`] with options.
pub fn lint_with(input: &LintInput<'_>, options: &LintOptions) -> Vec<LintResult> {
    let cert = Cert::new(input);
    let not_before = input.facts.not_before;
    let in_force = |info: &LintInfo| options.ignore_effective_dates || info.is_effective(not_before);
    lints::REGISTRY
        .iter()
        .map(|info| {
            let (status, detail) = match cert.run(info) {
                lints::Outcome::NotApplicable(detail) => (LintStatus::NotApplicable, detail.map(str::to_owned)),
                _ if !in_force(info) => (LintStatus::NotEffective, None),
                lints::Outcome::Pass => (LintStatus::Pass, None),
                lints::Outcome::Fail(detail) => (info.severity.failure_status(), Some(detail)),
            };
            LintResult { lint: info, status, detail }
        })
        .collect()
}

/// Run the lints in force for this certificate and return only the failures (warnings and
/// errors), in registry order. Lints not in force by notBefore are not run at all.
pub fn failures(input: &LintInput<'_>) -> Vec<LintResult> {
    let cert = Cert::new(input);
    let not_before = input.facts.not_before;
    let mut out = Vec::new();
    for info in lints::REGISTRY.iter().filter(|info| info.is_effective(not_before)) {
        if let lints::Outcome::Fail(detail) = cert.run(info) {
            out.push(LintResult { lint: info, status: info.severity.failure_status(), detail: Some(detail) });
        }
    }
    out
}
