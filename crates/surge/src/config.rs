//! Detector configuration.

use serde::{Deserialize, Serialize};

/// Settings of a [`SurgeDetector`](crate::SurgeDetector).
///
/// A window is flagged when **all three** tests hold: `observed ≥ ratio_threshold × expected`,
/// `observed − expected ≥ min_excess`, and `(observed − expected) / spread ≥ z_threshold`. The ratio
/// catches relative jumps, the absolute excess keeps small issuers from paging over a few dozen
/// certificates, and the spread test keeps noisy issuers from paging over their ordinary swings.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SurgeConfig {
    /// Hours an issuer must have been watched before its rate is compared with a baseline
    /// (default 168, one week). Younger issuers only raise surges through
    /// `new_issuer_min_certificates`.
    pub min_history_hours: u32,
    /// Minimum `observed / expected` over a window (default 5).
    pub ratio_threshold: f64,
    /// Minimum `observed − expected`, in certificates, over a window (default 100).
    pub min_excess: u64,
    /// Minimum `(observed − expected) / spread` over a window (default 5).
    pub z_threshold: f64,
    /// Lengths in hours of the sliding windows ending at the evaluation time (default 1, 2, 4, 8
    /// and 24). Short windows catch a sharp onset within the hour; long ones a slower, steadier
    /// rise. Each must be between 1 and 168.
    pub windows_hours: Vec<u32>,
    /// Weeks of history whose same hour-of-week forms the baseline (default 4, at most 8). Memory
    /// per series grows with it: the retention is `seasonal_weeks + 1` weeks plus the longest
    /// window.
    pub seasonal_weeks: u32,
    /// Consecutive complete hours that are not elevated after which an open surge closes
    /// (default 6).
    pub quiet_hours: u32,
    /// Longest a surge stays open, in hours (default 336, two weeks); a longer one is closed and
    /// may open again as a new surge against the baseline of that time.
    pub max_surge_hours: u32,
    /// An hour is *elevated* (extends an open surge, marks its onset) when its count is at least
    /// `hot_ratio × expected` (default 2) ...
    pub hot_ratio: f64,
    /// ... and at least `hot_z` Poisson standard deviations above expected (default 3).
    pub hot_z: f64,
    /// Smallest spread used in the z test, in certificates (default 1).
    pub min_spread: f64,
    /// Smallest expected rate used as the ratio's denominator, in certificates per hour
    /// (default 0.1), so a dimension with no history gets a large but finite ratio.
    pub expected_floor_per_hour: f64,
    /// Bounds of the recent-level factor that scales the seasonal baseline (defaults 0.5 and 2):
    /// steady growth moves the level, while a surge cannot raise it past `level_max`.
    pub level_min: f64,
    /// See `level_min`.
    pub level_max: f64,
    /// Issuers tracked at once (default 4096); beyond that the least recently active is forgotten.
    pub max_issuers: usize,
    /// Registered domains tracked per issuer (default 512). The map holds at most 1.5 times this
    /// many before the least recently seen are dropped.
    pub max_domains_per_issuer: usize,
    /// Public suffixes tracked per issuer (default 128), with the same 1.5 slack.
    pub max_suffixes_per_issuer: usize,
    /// Recent certificates (identity, hour, validation type, registered domains) kept per issuer
    /// for the longest window, so a surge's certificate list also covers the hours before it was
    /// detected (default 20,000).
    pub max_recent_certificates_per_issuer: usize,
    /// Certificates listed in one surge (default 100,000); `observed` stays exact, and the top
    /// lists are counted over the listed certificates.
    pub max_certificates_per_surge: usize,
    /// Entries in a surge's top lists (default 10).
    pub top_entries: usize,
    /// If set, an issuer younger than `min_history_hours` that issues at least this many
    /// certificates within the longest window raises a `new_issuer` surge. Off by default: a new
    /// intermediate routinely takes over an old one's whole volume overnight (Let's Encrypt
    /// rotates its issuers), so an absolute rule would page on every rotation.
    pub new_issuer_min_certificates: Option<u64>,
    /// Track validation types (`dv`, `ov`, `iv`, `ev`, `unknown`) as dimensions (default true).
    pub track_validation_types: bool,
    /// Track public suffixes as dimensions (default true).
    pub track_suffixes: bool,
    /// Track registered domains as dimensions (default true).
    pub track_domains: bool,
    /// Events more than this many hours after the latest evaluation time are ignored as bogus
    /// timestamps (default 48).
    pub max_future_hours: u32,
}

impl Default for SurgeConfig {
    fn default() -> Self {
        SurgeConfig {
            min_history_hours: 168,
            ratio_threshold: 5.0,
            min_excess: 100,
            z_threshold: 5.0,
            windows_hours: vec![1, 2, 4, 8, 24],
            seasonal_weeks: 4,
            quiet_hours: 6,
            max_surge_hours: 336,
            hot_ratio: 2.0,
            hot_z: 3.0,
            min_spread: 1.0,
            expected_floor_per_hour: 0.1,
            level_min: 0.5,
            level_max: 2.0,
            max_issuers: 4096,
            max_domains_per_issuer: 512,
            max_suffixes_per_issuer: 128,
            max_recent_certificates_per_issuer: 20_000,
            max_certificates_per_surge: 100_000,
            top_entries: 10,
            new_issuer_min_certificates: None,
            track_validation_types: true,
            track_suffixes: true,
            track_domains: true,
            max_future_hours: 48,
        }
    }
}

/// A [`SurgeConfig`] value that cannot work.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum SurgeConfigError {
    /// A number is outside the range the detector can use.
    #[error("surge setting `{field}` is {found}, expected {expected}")]
    OutOfRange {
        /// The setting's name.
        field: &'static str,
        /// The value found, as text.
        found: String,
        /// What the setting accepts.
        expected: &'static str,
    },
}

impl SurgeConfig {
    /// Checks every setting, naming the first one that is out of range.
    pub fn validate(&self) -> Result<(), SurgeConfigError> {
        fn check(ok: bool, field: &'static str, found: String, expected: &'static str) -> Result<(), SurgeConfigError> {
            if ok { Ok(()) } else { Err(SurgeConfigError::OutOfRange { field, found, expected }) }
        }
        let finite_at_least = |v: f64, min: f64| v.is_finite() && v >= min;
        check(self.min_history_hours >= 24, "min_history_hours", self.min_history_hours.to_string(), "at least 24")?;
        check(
            finite_at_least(self.ratio_threshold, 1.0),
            "ratio_threshold",
            self.ratio_threshold.to_string(),
            "a number ≥ 1",
        )?;
        check(finite_at_least(self.z_threshold, 0.0), "z_threshold", self.z_threshold.to_string(), "a number ≥ 0")?;
        check(
            !self.windows_hours.is_empty() && self.windows_hours.iter().all(|w| (1..=168).contains(w)),
            "windows_hours",
            format!("{:?}", self.windows_hours),
            "a non-empty list of hours between 1 and 168",
        )?;
        check((1..=8).contains(&self.seasonal_weeks), "seasonal_weeks", self.seasonal_weeks.to_string(), "1 to 8")?;
        check(self.quiet_hours >= 1, "quiet_hours", self.quiet_hours.to_string(), "at least 1")?;
        check(
            self.max_surge_hours >= 24 && i64::from(self.max_surge_hours) < i64::from(self.seasonal_weeks) * 168 + 168,
            "max_surge_hours",
            self.max_surge_hours.to_string(),
            "at least 24 and less than (seasonal_weeks + 1) weeks",
        )?;
        check(finite_at_least(self.hot_ratio, 1.0), "hot_ratio", self.hot_ratio.to_string(), "a number ≥ 1")?;
        check(finite_at_least(self.hot_z, 0.0), "hot_z", self.hot_z.to_string(), "a number ≥ 0")?;
        check(
            finite_at_least(self.min_spread, 0.0) && self.min_spread > 0.0,
            "min_spread",
            self.min_spread.to_string(),
            "a number > 0",
        )?;
        check(
            finite_at_least(self.expected_floor_per_hour, 0.0) && self.expected_floor_per_hour > 0.0,
            "expected_floor_per_hour",
            self.expected_floor_per_hour.to_string(),
            "a number > 0",
        )?;
        check(
            self.level_min > 0.0 && self.level_min <= 1.0,
            "level_min",
            self.level_min.to_string(),
            "a number in (0, 1]",
        )?;
        check(finite_at_least(self.level_max, 1.0), "level_max", self.level_max.to_string(), "a number ≥ 1")?;
        for (field, value) in [
            ("max_issuers", self.max_issuers),
            ("max_domains_per_issuer", self.max_domains_per_issuer),
            ("max_suffixes_per_issuer", self.max_suffixes_per_issuer),
            ("max_recent_certificates_per_issuer", self.max_recent_certificates_per_issuer),
            ("max_certificates_per_surge", self.max_certificates_per_surge),
            ("top_entries", self.top_entries),
        ] {
            check(value >= 1, field, value.to_string(), "at least 1")?;
        }
        check(
            self.new_issuer_min_certificates.is_none_or(|n| n >= 1),
            "new_issuer_min_certificates",
            format!("{:?}", self.new_issuer_min_certificates),
            "absent or at least 1",
        )?;
        Ok(())
    }

    /// The longest window, in hours.
    pub(crate) fn max_window(&self) -> i64 {
        self.windows_hours.iter().copied().max().map_or(1, i64::from)
    }

    /// Hours of counts kept per series: the seasonal weeks, one more week for the recent-level
    /// blocks, the longest window and the ±1 hour smoothing.
    pub(crate) fn retention_hours(&self) -> i64 {
        (i64::from(self.seasonal_weeks) + 1) * 168 + self.max_window() + 2
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_valid() {
        SurgeConfig::default().validate().unwrap();
        assert_eq!(SurgeConfig::default().retention_hours(), 5 * 168 + 26);
    }

    #[test]
    fn rejects_bad_values_naming_the_field() {
        let bad = [
            SurgeConfig { ratio_threshold: f64::NAN, ..SurgeConfig::default() },
            SurgeConfig { windows_hours: vec![], ..SurgeConfig::default() },
            SurgeConfig { windows_hours: vec![0, 4], ..SurgeConfig::default() },
            SurgeConfig { seasonal_weeks: 0, ..SurgeConfig::default() },
            SurgeConfig { max_surge_hours: 5000, ..SurgeConfig::default() },
            SurgeConfig { level_min: 1.5, ..SurgeConfig::default() },
            SurgeConfig { max_issuers: 0, ..SurgeConfig::default() },
            SurgeConfig { new_issuer_min_certificates: Some(0), ..SurgeConfig::default() },
        ];
        let fields = [
            "ratio_threshold",
            "windows_hours",
            "windows_hours",
            "seasonal_weeks",
            "max_surge_hours",
            "level_min",
            "max_issuers",
            "new_issuer_min_certificates",
        ];
        for (config, field) in bad.iter().zip(fields) {
            match config.validate() {
                Err(SurgeConfigError::OutOfRange { field: f, .. }) => assert_eq!(f, field),
                Ok(()) => panic!("{field} accepted"),
            }
        }
    }

    #[test]
    fn deserialises_partial_settings_and_rejects_unknown_keys() {
        let config: SurgeConfig = serde_json::from_str(r#"{"min_excess": 50, "windows_hours": [1, 6]}"#).unwrap();
        assert_eq!(config.min_excess, 50);
        assert_eq!(config.windows_hours, vec![1, 6]);
        assert_eq!(config.ratio_threshold, 5.0);
        assert!(serde_json::from_str::<SurgeConfig>(r#"{"min_exces": 50}"#).is_err());
    }
}
