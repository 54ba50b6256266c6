//! The baseline: what an hour's count is expected to be, and how much it usually varies.
//!
//! **Seasonal value** of hour `t`: the median of the same hour-of-week over the previous
//! `seasonal_weeks` weeks, each sample smoothed over `t−1, t, t+1` so a job that runs a little
//! earlier or later than last week still lines up. With fewer than two such weeks known, the larger
//! of last week's value and the median of the same hour-of-day on the previous six days (a
//! deliberately high guess while the weekly shape is still being learned, so a busy Monday is
//! not a surge in week two).
//!
//! **Level factor**: the median, over the last seven 24-hour blocks, of (actual count ÷ seasonal
//! count), clamped to `[level_min, level_max]`. It follows steady growth or decline between the
//! weeks the seasonal value is taken from and now; the median and the clamp keep a surge from
//! lifting it.
//!
//! **Expected** = level × seasonal. **Spread** of a window sum: the largest of the Poisson noise
//! `√expected`, the scaled median absolute deviation (1.4826 × MAD) of the same window's sums in the
//! previous weeks, and `min_spread`.
//!
//! Hours inside known surges are never samples (see [`Counts::sample`]).

use std::cell::Cell;

use crate::config::SurgeConfig;
use crate::series::{Counts, DAY, WEEK};

/// The last two level factors of a series, each with the sampling rules it was computed under
/// (two, because an open surge measures against a baseline frozen at its start while the gauge
/// uses the current one).
pub(crate) type LevelCache = Cell<[Option<(SampleKey, f64)>; 2]>;

/// What a level factor depends on besides the counts: the anchor, the first and last sample
/// hours and the excluded spans (hashed).
pub(crate) type SampleKey = (i64, i64, i64, u64);

/// Scale that makes the median absolute deviation estimate a normal standard deviation.
const MAD_SCALE: f64 = 1.4826;

/// Most seasonal weeks a configuration may ask for.
const MAX_WEEKS: usize = 8;

/// Daily samples used while the weekly shape is being learned.
const DAILY_SAMPLES: i64 = 6;

/// Day blocks used for the level factor, and the fewest that must be usable.
const LEVEL_BLOCKS: i64 = 7;
const MIN_LEVEL_BLOCKS: usize = 3;

/// A block whose seasonal total is below this many certificates says nothing about the level.
const MIN_LEVEL_BLOCK_EXPECTED: f64 = 1.0;

/// Median of a small set (sorted in place); `None` when empty.
pub(crate) fn median(values: &mut [f64]) -> Option<f64> {
    if values.is_empty() {
        return None;
    }
    values.sort_unstable_by(f64::total_cmp);
    let mid = values.len() / 2;
    let upper = *values.get(mid)?;
    if values.len() % 2 == 1 { Some(upper) } else { Some((*values.get(mid - 1)? + upper) / 2.0) }
}

/// Scaled median absolute deviation; `None` with fewer than two values.
fn scaled_mad(values: &mut [f64]) -> Option<f64> {
    if values.len() < 2 {
        return None;
    }
    let centre = median(values)?;
    let mut deviations: Vec<f64> = values.iter().map(|v| (v - centre).abs()).collect();
    Some(MAD_SCALE * median(&mut deviations)?)
}

/// The baseline of one dimension at one evaluation.
#[derive(Debug)]
pub(crate) struct Baseline<'a> {
    counts: &'a Counts,
    weeks: i64,
    level: f64,
}

/// Observed and expected counts over a window, and the tests applied to them.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct WindowStats {
    /// First hour of the window.
    pub start: i64,
    /// Hour after the window (the window includes `end − 1`, which may be partial).
    pub end: i64,
    pub observed: u64,
    pub expected: f64,
    pub spread: f64,
    pub ratio: f64,
    pub excess: f64,
    pub score: f64,
}

impl WindowStats {
    /// Whether the window passes the ratio, absolute excess and spread tests.
    pub(crate) fn qualifies(&self, config: &SurgeConfig) -> bool {
        // `min_excess` is a u64 count; as f64 it is exact for any sensible setting.
        self.ratio >= config.ratio_threshold
            && self.excess >= config.min_excess as f64
            && self.score >= config.z_threshold
    }
}

impl<'a> Baseline<'a> {
    /// Builds the baseline for evaluations whose complete hours end at `level_anchor` (the level
    /// factor is measured on the seven days before it).
    pub(crate) fn new(counts: &'a Counts, config: &SurgeConfig, level_anchor: i64) -> Baseline<'a> {
        let mut baseline = Baseline { counts, weeks: i64::from(config.seasonal_weeks), level: 1.0 };
        baseline.level = baseline.level_factor(level_anchor).clamp(config.level_min, config.level_max);
        baseline
    }

    /// Like [`Baseline::new`], reusing the level factor cached in `cache` when it was computed
    /// from the same complete hours (it only depends on them, so evaluations within the same hour
    /// share it).
    pub(crate) fn cached(
        counts: &'a Counts,
        config: &SurgeConfig,
        level_anchor: i64,
        cache: &LevelCache,
    ) -> Baseline<'a> {
        let key = counts.sample_key(level_anchor);
        let entries = cache.get();
        if let Some((_, level)) = entries.iter().flatten().find(|(k, _)| *k == key) {
            return Baseline { counts, weeks: i64::from(config.seasonal_weeks), level: *level };
        }
        let baseline = Baseline::new(counts, config, level_anchor);
        cache.set([Some((key, baseline.level)), entries[0]]);
        baseline
    }

    /// The level factor in use.
    pub(crate) fn level(&self) -> f64 {
        self.level
    }

    /// Mean of the available samples among `t − 1`, `t`, `t + 1`.
    fn smoothed(&self, t: i64) -> Option<f64> {
        let mut sum = 0.0;
        let mut n = 0u32;
        for h in [t - 1, t, t + 1] {
            if let Some(v) = self.counts.sample(h) {
                sum += v;
                n += 1;
            }
        }
        (n > 0).then(|| sum / f64::from(n))
    }

    /// The seasonal value of hour `t` (before the level factor); `None` without enough history.
    pub(crate) fn seasonal(&self, t: i64) -> Option<f64> {
        // Called for every hour of every window: small stack buffers, no allocation.
        let mut weekly = [0.0; MAX_WEEKS];
        let mut n = 0;
        for k in 1..=self.weeks {
            if let (Some(v), Some(slot)) = (self.smoothed(t - k * WEEK), weekly.get_mut(n)) {
                *slot = v;
                n += 1;
            }
        }
        let weekly = weekly.get_mut(..n)?;
        if weekly.len() >= 2 {
            return median(weekly);
        }
        let mut daily = [0.0; DAILY_SAMPLES as usize];
        let mut m = 0;
        for j in 1..=DAILY_SAMPLES {
            if let (Some(v), Some(slot)) = (self.smoothed(t - j * DAY), daily.get_mut(m)) {
                *slot = v;
                m += 1;
            }
        }
        let daily = median(daily.get_mut(..m)?);
        match (weekly.first().copied(), daily) {
            (Some(w), Some(d)) => Some(w.max(d)),
            (w, d) => w.or(d),
        }
    }

    /// Expected count of hour `t`.
    pub(crate) fn expected(&self, t: i64) -> Option<f64> {
        self.seasonal(t).map(|s| s * self.level)
    }

    /// Median over the last seven day blocks before `anchor` of actual ÷ seasonal.
    fn level_factor(&self, anchor: i64) -> f64 {
        let mut ratios = Vec::new();
        for j in 0..LEVEL_BLOCKS {
            let (from, to) = (anchor - (j + 1) * DAY, anchor - j * DAY);
            let mut actual = 0.0;
            let mut seasonal = 0.0;
            let usable = (from..to).all(|t| match (self.counts.sample(t), self.seasonal(t)) {
                (Some(a), Some(s)) => {
                    actual += a;
                    seasonal += s;
                    true
                }
                _ => false,
            });
            if usable && seasonal >= MIN_LEVEL_BLOCK_EXPECTED {
                ratios.push(actual / seasonal);
            }
        }
        if ratios.len() < MIN_LEVEL_BLOCKS { 1.0 } else { median(&mut ratios).unwrap_or(1.0) }
    }

    /// Whether hour `t`, with `fraction` of it elapsed, is elevated above its expected count.
    pub(crate) fn is_hot(&self, t: i64, fraction: f64, config: &SurgeConfig) -> bool {
        let Some(expected) = self.expected(t) else { return false };
        let expected = expected * fraction;
        let observed = f64::from(self.counts.observed(t));
        observed >= config.hot_ratio * expected && observed - expected >= config.hot_z * expected.sqrt().max(1.0)
    }

    /// Statistics of the window `[start, end)`, whose last hour has `last_fraction` elapsed.
    /// `None` when some hour of the window has no baseline.
    pub(crate) fn window(&self, start: i64, end: i64, last_fraction: f64, config: &SurgeConfig) -> Option<WindowStats> {
        let weight = |t: i64| if t == end - 1 { last_fraction } else { 1.0 };
        let mut observed = 0u64;
        let mut expected = 0.0;
        for t in start..end {
            observed += u64::from(self.counts.observed(t));
            expected += self.expected(t)? * weight(t);
        }
        let shifted_sum = |offset: i64| -> Option<f64> {
            (start..end).map(|t| self.counts.sample(t - offset).map(|v| v * weight(t))).sum::<Option<f64>>()
        };
        let mut sums: Vec<f64> = (1..=self.weeks).filter_map(|k| shifted_sum(k * WEEK)).collect();
        if sums.len() < 2 {
            sums.extend((1..=DAILY_SAMPLES).filter_map(|j| shifted_sum(j * DAY)));
        }
        let mad = scaled_mad(&mut sums).map_or(0.0, |m| m * self.level);
        let spread = expected.sqrt().max(mad).max(config.min_spread);
        let hours = (end - start - 1) as f64 + last_fraction;
        let floor = config.expected_floor_per_hour * hours.max(last_fraction);
        let observed_f = observed as f64;
        let excess = observed_f - expected;
        Some(WindowStats {
            start,
            end,
            observed,
            expected,
            spread,
            ratio: observed_f / expected.max(floor),
            excess,
            score: excess / spread,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::series::HourlySeries;

    fn counts_from(f: impl Fn(i64) -> u32, hours: i64) -> (HourlySeries, i64) {
        let mut s = HourlySeries::default();
        for h in 0..hours {
            let c = f(h);
            if c > 0 {
                s.add(h, c);
            }
        }
        (s, hours)
    }

    #[test]
    fn medians() {
        assert_eq!(median(&mut []), None);
        assert_eq!(median(&mut [3.0]), Some(3.0));
        assert_eq!(median(&mut [4.0, 1.0, 3.0, 2.0]), Some(2.5));
        assert_eq!(scaled_mad(&mut [1.0, 1.0, 1.0, 9.0]), Some(0.0));
        assert_eq!(scaled_mad(&mut [1.0]), None);
    }

    #[test]
    fn weekly_shape_is_learned() {
        // 10 per hour, except Mondays 09:00 (hour 9 of each week) at 200.
        let (s, end) = counts_from(|h| if h % WEEK == 9 { 200 } else { 10 }, 5 * WEEK);
        let config = SurgeConfig::default();
        let counts = Counts::new(&s, 0, end + 10, 0, end, Vec::new());
        let b = Baseline::new(&counts, &config, end);
        assert!((b.level() - 1.0).abs() < 0.05, "level {}", b.level());
        // Hour 9 of the next week: median of smoothed weekly samples (10 + 200 + 10) / 3.
        let e = b.expected(end + 9).unwrap();
        assert!((e - 220.0 / 3.0).abs() < 5.0, "{e}");
        assert!((b.expected(end + 30).unwrap() - 10.0).abs() < 0.5);
    }

    #[test]
    fn level_follows_growth_but_not_past_the_clamp() {
        let (s, end) = counts_from(|h| if h >= 4 * WEEK { 30 } else { 20 }, 5 * WEEK);
        let config = SurgeConfig::default();
        let counts = Counts::new(&s, 0, end, 0, end, Vec::new());
        let b = Baseline::new(&counts, &config, end);
        assert!((b.level() - 1.5).abs() < 0.01, "level {}", b.level());
        let (s, end) = counts_from(|h| if h >= 4 * WEEK { 200 } else { 20 }, 5 * WEEK);
        let counts = Counts::new(&s, 0, end, 0, end, Vec::new());
        assert_eq!(Baseline::new(&counts, &config, end).level(), 2.0);
    }

    #[test]
    fn learning_phase_uses_the_larger_guess() {
        // Eight days of history: one weekly sample; Mondays (hour 9 of day 0 and day 7) are busy.
        let (s, end) = counts_from(|h| if h == 9 { 90 } else { 3 }, 8 * DAY);
        let config = SurgeConfig::default();
        let counts = Counts::new(&s, 0, end + DAY, 0, end, Vec::new());
        let b = Baseline::new(&counts, &config, end);
        let e = b.seasonal(WEEK + 9).unwrap();
        assert!((e - 32.0).abs() < 0.01, "{e}");
        assert_eq!(b.seasonal(WEEK + 15), Some(3.0));
    }

    #[test]
    fn window_tests() {
        let (mut s, end) = counts_from(|_| 10, 5 * WEEK);
        s.add(end, 150);
        let config = SurgeConfig::default();
        let counts = Counts::new(&s, 0, end + 1, 0, end, Vec::new());
        let b = Baseline::new(&counts, &config, end);
        let w = b.window(end, end + 1, 1.0, &config).unwrap();
        assert_eq!(w.observed, 150);
        assert!((w.expected - 10.0).abs() < 1e-9);
        assert!((w.ratio - 15.0).abs() < 1e-9);
        assert!((w.spread - 10f64.sqrt()).abs() < 1e-9);
        assert!(w.qualifies(&config));
        assert!(b.is_hot(end, 1.0, &config));
        assert!(!b.is_hot(end - 1, 1.0, &config));
        // Halfway through the hour, half the expected count is due.
        let half = b.window(end, end + 1, 0.5, &config).unwrap();
        assert!((half.expected - 5.0).abs() < 1e-9);
        // Not enough excess for the absolute test.
        let strict = SurgeConfig { min_excess: 141, ..SurgeConfig::default() };
        assert!(!w.qualifies(&strict));
        // No history at all: no baseline.
        let none = Counts::new(&s, 0, end + 1, end, end, Vec::new());
        assert!(Baseline::new(&none, &config, end).window(end, end + 1, 1.0, &config).is_none());
    }
}
