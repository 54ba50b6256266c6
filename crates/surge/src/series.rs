//! Hourly count series: sparse storage, and a dense view for one evaluation.

use std::collections::VecDeque;

use crate::baseline::LevelCache;

/// Milliseconds in an hour.
pub(crate) const MS_PER_HOUR: u64 = 3_600_000;

/// Hours in a day and in a week.
pub(crate) const DAY: i64 = 24;
pub(crate) const WEEK: i64 = 168;

/// One hour's count.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Point {
    hour: i64,
    count: u32,
}

/// Counts per hour (hours since the Unix epoch), storing only hours with a non-zero count.
///
/// Points are kept sorted by hour. Appending to the newest hour is O(1); a late event for an older
/// hour costs a binary search (and, rarely, an insertion). Memory is one 16-byte point per
/// non-empty hour, and [`HourlySeries::prune`] drops hours older than the retention horizon, so a
/// series never holds more points than the retention has hours.
#[derive(Debug, Clone, Default)]
pub(crate) struct HourlySeries {
    points: VecDeque<Point>,
    /// The level factor of the latest evaluation; dropped when a complete hour it was computed
    /// from changes.
    level: LevelCache,
}

impl HourlySeries {
    /// Adds `count` to `hour`, saturating at `u32::MAX`.
    pub(crate) fn add(&mut self, hour: i64, count: u32) {
        if self.level.get().iter().flatten().any(|((_, _, complete_end, _), _)| hour < *complete_end) {
            self.level.set([None, None]);
        }
        match self.points.back_mut() {
            Some(last) if last.hour == hour => {
                last.count = last.count.saturating_add(count);
                return;
            }
            Some(last) if last.hour > hour => {}
            _ => {
                self.points.push_back(Point { hour, count });
                return;
            }
        }
        match self.points.binary_search_by_key(&hour, |p| p.hour) {
            Ok(i) => {
                if let Some(p) = self.points.get_mut(i) {
                    p.count = p.count.saturating_add(count);
                }
            }
            Err(i) => self.points.insert(i, Point { hour, count }),
        }
    }

    /// The cached level factor of this series.
    pub(crate) fn level_cache(&self) -> &LevelCache {
        &self.level
    }

    /// Drops hours before `horizon`.
    pub(crate) fn prune(&mut self, horizon: i64) {
        while self.points.front().is_some_and(|p| p.hour < horizon) {
            self.points.pop_front();
        }
    }

    /// Whether no hour has a count.
    pub(crate) fn is_empty(&self) -> bool {
        self.points.is_empty()
    }

    /// Number of stored (non-empty) hours.
    pub(crate) fn len(&self) -> usize {
        self.points.len()
    }

    /// Sum of counts in `[from, to)`.
    pub(crate) fn sum(&self, from: i64, to: i64) -> u64 {
        let start = self.points.partition_point(|p| p.hour < from);
        self.points.range(start..).take_while(|p| p.hour < to).map(|p| u64::from(p.count)).sum()
    }

    /// Sum of counts from `from` onwards (cheap for recent hours: walks from the newest point).
    pub(crate) fn sum_since(&self, from: i64) -> u64 {
        self.points.iter().rev().take_while(|p| p.hour >= from).map(|p| u64::from(p.count)).sum()
    }

    /// Copies the counts of `[from, to)` into a dense vector (one slot per hour).
    pub(crate) fn dense(&self, from: i64, to: i64) -> Vec<u32> {
        let len = usize::try_from(to.saturating_sub(from)).unwrap_or(0);
        let mut out = vec![0u32; len];
        let start = self.points.partition_point(|p| p.hour < from);
        for p in self.points.range(start..).take_while(|p| p.hour < to) {
            if let Some(slot) = usize::try_from(p.hour - from).ok().and_then(|i| out.get_mut(i)) {
                *slot = p.count;
            }
        }
        out
    }
}

/// The counts of one dimension around an evaluation, with the rules saying which hours may serve
/// as baseline samples.
///
/// Observed counts are read for any hour; *samples* (past hours a baseline is built from) are only
/// hours the detector has watched (at or after the issuer's first hour), that are complete (before
/// the evaluation's current partial hour) and that are not inside a known surge (excluded spans),
/// so a surge never becomes its own baseline.
#[derive(Debug)]
pub(crate) struct Counts {
    base: i64,
    values: Vec<u32>,
    first_hour: i64,
    complete_end: i64,
    excluded: Vec<(i64, i64)>,
}

impl Counts {
    /// Materialises `series` over `[from, to)`; samples are allowed in `[first_hour, complete_end)`
    /// outside the `excluded` half-open spans.
    pub(crate) fn new(
        series: &HourlySeries,
        from: i64,
        to: i64,
        first_hour: i64,
        complete_end: i64,
        excluded: Vec<(i64, i64)>,
    ) -> Counts {
        Counts { base: from, values: series.dense(from, to), first_hour, complete_end, excluded }
    }

    /// The observed count of an hour (0 outside the materialised range).
    pub(crate) fn observed(&self, hour: i64) -> u32 {
        usize::try_from(hour - self.base).ok().and_then(|i| self.values.get(i)).copied().unwrap_or(0)
    }

    /// The count of an hour if it may serve as a baseline sample.
    pub(crate) fn sample(&self, hour: i64) -> Option<f64> {
        if hour < self.first_hour || hour >= self.complete_end || hour < self.base {
            return None;
        }
        if self.excluded.iter().any(|&(from, to)| hour >= from && hour < to) {
            return None;
        }
        Some(f64::from(self.observed(hour)))
    }

    /// What decides which hours are samples, for a level factor anchored at `anchor`.
    pub(crate) fn sample_key(&self, anchor: i64) -> crate::baseline::SampleKey {
        let spans = self.excluded.iter().fold(0xcbf2_9ce4_8422_2325u64, |h, &(from, to)| {
            (h ^ from as u64).wrapping_mul(0x0100_0000_01b3).rotate_left(7)
                ^ (to as u64).wrapping_mul(0x9e37_79b9_7f4a_7c15)
        });
        (anchor, self.first_hour, self.complete_end, spans)
    }

    /// The same counts with different excluded spans.
    pub(crate) fn with_excluded(mut self, excluded: Vec<(i64, i64)>) -> Counts {
        self.excluded = excluded;
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn add_in_and_out_of_order() {
        let mut s = HourlySeries::default();
        s.add(10, 1);
        s.add(10, 2);
        s.add(12, 1);
        s.add(11, 5);
        s.add(8, 1);
        s.add(11, 1);
        assert_eq!(s.len(), 4);
        assert_eq!(s.sum(0, 100), 11);
        assert_eq!(s.sum(10, 12), 9);
        assert_eq!(s.sum_since(11), 7);
        assert_eq!(s.dense(9, 14), vec![0, 3, 6, 1, 0]);
        s.prune(11);
        assert_eq!(s.dense(8, 13), vec![0, 0, 0, 6, 1]);
        s.add(20, u32::MAX);
        s.add(20, 1);
        assert_eq!(s.sum_since(20), u64::from(u32::MAX));
    }

    #[test]
    fn samples_respect_history_completeness_and_exclusions() {
        let mut s = HourlySeries::default();
        for h in 0..50 {
            s.add(h, 2);
        }
        let c = Counts::new(&s, 0, 50, 5, 40, vec![(20, 30)]);
        assert_eq!(c.observed(45), 2);
        assert_eq!(c.observed(60), 0);
        assert_eq!(c.sample(4), None);
        assert_eq!(c.sample(5), Some(2.0));
        assert_eq!(c.sample(25), None);
        assert_eq!(c.sample(30), Some(2.0));
        assert_eq!(c.sample(40), None);
        let c = c.with_excluded(Vec::new());
        assert_eq!(c.sample(25), Some(2.0));
    }
}
