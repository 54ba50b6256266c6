//! What the detector reports.

use std::fmt;

use serde::{Serialize, Serializer};

/// The finding kind under which surges are stored.
pub const SURGE_KIND: &str = "issuance_surge";

/// The slice of an issuer's issuance a surge was measured on.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(tag = "kind", content = "value", rename_all = "snake_case")]
pub enum Dimension {
    /// All certificates of the issuer.
    Issuer,
    /// Certificates of one validation type (`dv`, `ov`, `iv`, `ev`, `unknown`; policy OIDs
    /// 2.23.140.1.2.1/.2/.3 and EV).
    ValidationType(String),
    /// Certificates naming at least one host under a public suffix (`gov.tw`).
    Suffix(String),
    /// Certificates naming at least one host under a registered domain (`kcc.gov.tw`).
    RegisteredDomain(String),
}

impl fmt::Display for Dimension {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Dimension::Issuer => f.write_str("issuer"),
            Dimension::ValidationType(v) => write!(f, "type:{v}"),
            Dimension::Suffix(s) => write!(f, "suffix:{s}"),
            Dimension::RegisteredDomain(d) => write!(f, "domain:{d}"),
        }
    }
}

/// Where a surge is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum SurgeStatus {
    /// First report of this surge.
    Opened,
    /// A later report while the rate is still elevated (at most one per completed hour).
    Ongoing,
    /// Final report: `quiet_hours` hours passed without an elevated hour (or the surge reached
    /// `max_surge_hours`). The window ends after the last elevated hour.
    Closed,
}

/// Why a surge was raised.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum SurgeReason {
    /// The rate is well above the issuer's own seasonal baseline.
    AboveBaseline,
    /// An issuer with too little history for a baseline issued more than
    /// `new_issuer_min_certificates` in the longest window (only when that setting is on).
    NewIssuer,
}

/// An issuance surge: one issuer issuing far more than its own history predicts.
///
/// While a surge is open the detector reports it again as it grows, always with the same `key`,
/// so storing the reports under that key keeps one finding per surge.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Surge {
    /// Stable identity: `issuance_surge:<issuer hex>:<dimension>:<start hour>`.
    pub key: String,
    /// Where the surge is in its life.
    pub status: SurgeStatus,
    /// Why it was raised.
    pub reason: SurgeReason,
    /// SHA-256 of the issuer's SubjectPublicKeyInfo.
    #[serde(serialize_with = "serialize_hex")]
    pub issuer: [u8; 32],
    /// The slice of issuance the surge was measured on.
    pub dimension: Dimension,
    /// First hour of the surge (hours since the Unix epoch): the first elevated hour.
    pub window_start_hour: i64,
    /// Hour after the surge's last counted hour; while the surge is open that hour may still be
    /// in progress (see `last_hour_fraction`).
    pub window_end_hour: i64,
    /// Fraction of the window's last hour that had elapsed when measured (1 when complete).
    pub last_hour_fraction: f64,
    /// Length of the sliding window that first crossed the thresholds, in hours.
    pub trigger_window_hours: u32,
    /// Distinct certificates in the dimension during the window.
    pub observed: u64,
    /// Certificates the baseline expected during the window (0 for a new issuer).
    pub baseline_expected: f64,
    /// `observed / baseline_expected` (the expectation floored at `expected_floor_per_hour`).
    pub ratio: f64,
    /// `observed − baseline_expected`.
    pub excess: f64,
    /// The spread the excess was compared with.
    pub spread: f64,
    /// `excess / spread`.
    pub score: f64,
    /// The recent-level factor the baseline was scaled by.
    pub level_factor: f64,
    /// Most frequent registered domains among the listed certificates, with their counts.
    pub top_registered_domains: Vec<(String, u64)>,
    /// Most frequent public suffixes among the listed certificates, with their counts.
    pub top_suffixes: Vec<(String, u64)>,
    /// Validation types among the listed certificates, with their counts.
    pub validation_types: Vec<(String, u64)>,
    /// Number of certificates listed (the length of `certificates`).
    pub certificates_listed: u64,
    /// Identities of the surge's certificates (the first `max_certificates_per_surge`); fewer than
    /// `observed` when the window began before the detector saw individual certificates (history
    /// loaded as hourly counts) or the list reached its bound.
    #[serde(skip)]
    pub certificates: Vec<[u8; 32]>,
}

impl Surge {
    /// The evidence to store with the finding: every field except the certificate list, which
    /// belongs in the finding's certificate table.
    pub fn evidence(&self) -> serde_json::Value {
        serde_json::to_value(self).unwrap_or(serde_json::Value::Null)
    }
}

/// Builds the stable key of a surge.
pub(crate) fn surge_key(issuer: &[u8; 32], dimension: &Dimension, start_hour: i64) -> String {
    format!("{SURGE_KIND}:{}:{dimension}:{start_hour}", hex(issuer))
}

/// Lowercase hexadecimal of bytes.
pub(crate) fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut out = String::with_capacity(bytes.len() * 2);
    for &b in bytes {
        out.push(char::from(DIGITS[usize::from(b >> 4)]));
        out.push(char::from(DIGITS[usize::from(b & 0x0f)]));
    }
    out
}

fn serialize_hex<S: Serializer>(bytes: &[u8; 32], serializer: S) -> Result<S::Ok, S::Error> {
    serializer.serialize_str(&hex(bytes))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_and_evidence() {
        let mut issuer = [0u8; 32];
        issuer[0] = 0xab;
        issuer[31] = 0x01;
        let dimension = Dimension::Suffix("gov.tw".into());
        let key = surge_key(&issuer, &dimension, 482_000);
        assert_eq!(key, format!("issuance_surge:ab{}01:suffix:gov.tw:482000", "00".repeat(30)));
        let surge = Surge {
            key,
            status: SurgeStatus::Opened,
            reason: SurgeReason::AboveBaseline,
            issuer,
            dimension,
            window_start_hour: 482_000,
            window_end_hour: 482_002,
            last_hour_fraction: 0.5,
            trigger_window_hours: 2,
            observed: 250,
            baseline_expected: 20.0,
            ratio: 12.5,
            excess: 230.0,
            spread: 4.5,
            score: 51.1,
            level_factor: 1.0,
            top_registered_domains: vec![("kcc.gov.tw".into(), 3)],
            top_suffixes: vec![("gov.tw".into(), 240)],
            validation_types: vec![("ov".into(), 250)],
            certificates_listed: 250,
            certificates: vec![[7; 32]],
        };
        let evidence = surge.evidence();
        assert_eq!(evidence["issuer"], serde_json::json!(hex(&issuer)));
        assert_eq!(evidence["dimension"], serde_json::json!({"kind": "suffix", "value": "gov.tw"}));
        assert_eq!(evidence["top_suffixes"], serde_json::json!([["gov.tw", 240]]));
        assert_eq!(evidence["status"], serde_json::json!("opened"));
        assert!(evidence.get("certificates").is_none());
        assert_eq!(Dimension::Issuer.to_string(), "issuer");
        assert_eq!(Dimension::ValidationType("ov".into()).to_string(), "type:ov");
        assert_eq!(Dimension::RegisteredDomain("a.b".into()).to_string(), "domain:a.b");
    }
}
