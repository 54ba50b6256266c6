//! get-entries batch sizes: learning a log's cap from its short responses.
//!
//! RFC 6962 logs return fewer entries than asked when the range exceeds their own cap (Google
//! 32, Let's Encrypt and DigiCert 256, Trillian up to 1000). Asking for more than the cap is
//! harmless but wasteful: every request past the first comes back short and leaves a gap to
//! fetch again, and ranges that straddle the log's pages may be cut shorter still. A
//! [`BatchSizer`] watches the responses, learns the cap and plans requests of exactly that size,
//! aligned to multiples of it.
//!
//! The rules:
//!
//! * A response shorter than asked reveals a cap of at least its length; the longest such
//!   response is the cap (shorter ones are page-boundary cuts, not the cap).
//! * A full response longer than the learned cap means the log raised it: the cap is relearned
//!   from the next short response. Every [`PROBE_EVERY`]-th request asks for the configured size
//!   to notice that.
//! * [`SHRINK_AFTER`] consecutive aligned requests of the cap's size that all come back with the
//!   same shorter length mean the log lowered its cap.
//!
//! ```
//! use ctwatch_client::BatchSizer;
//! let mut sizer = BatchSizer::new(1000);
//! assert_eq!(sizer.plan(0, 10_000), (0, 1000));
//! sizer.observe(0, 1000, 100);
//! assert_eq!(sizer.cap(), Some(100));
//! assert_eq!(sizer.plan(150, 10_000), (150, 200)); // aligned to the cap
//! ```

/// Every this many planned requests, one asks for the configured size (to notice a raised cap).
pub const PROBE_EVERY: u64 = 64;
/// Consecutive identical shorter responses that lower a learned cap.
pub const SHRINK_AFTER: u32 = 4;

/// Plans get-entries ranges and learns the log's batch cap from the responses.
#[derive(Debug, Clone)]
pub struct BatchSizer {
    configured: u64,
    cap: Option<u64>,
    planned: u64,
    /// A shorter length seen on aligned full-size requests, and how many times in a row.
    shrink: Option<(u64, u32)>,
}

impl BatchSizer {
    /// Ask for `configured` entries per request until a cap is learned.
    pub fn new(configured: u64) -> Self {
        BatchSizer { configured: configured.max(1), cap: None, planned: 0, shrink: None }
    }

    /// The learned cap, if a response revealed one below the configured size.
    pub fn cap(&self) -> Option<u64> {
        self.cap
    }

    /// Entries per request now: the learned cap, else the configured size.
    pub fn size(&self) -> u64 {
        self.cap.unwrap_or(self.configured)
    }

    /// The next range `[start, end)` to ask for, starting at `next`, ending at most at
    /// `target`. With a learned cap the range ends on the next multiple of it.
    pub fn plan(&mut self, next: u64, target: u64) -> (u64, u64) {
        self.planned += 1;
        let end = match self.cap {
            Some(_) if self.planned.is_multiple_of(PROBE_EVERY) => next.saturating_add(self.configured),
            Some(cap) => (next / cap).saturating_add(1).saturating_mul(cap),
            None => next.saturating_add(self.configured),
        };
        (next, end.min(target).max(next))
    }

    /// Split `[start, end)` (a gap left by a short response) into planned ranges.
    pub fn split(&self, start: u64, end: u64) -> Vec<(u64, u64)> {
        let mut out = Vec::new();
        let mut s = start;
        while s < end {
            let e = match self.cap {
                Some(cap) => (s / cap).saturating_add(1).saturating_mul(cap),
                None => s.saturating_add(self.configured),
            }
            .min(end);
            out.push((s, e));
            s = e;
        }
        out
    }

    /// A request for `asked` entries starting at `start` returned `got`. Returns the new cap
    /// when this response changed it.
    pub fn observe(&mut self, start: u64, asked: u64, got: u64) -> Option<u64> {
        if got == 0 || asked == 0 {
            return None;
        }
        let before = self.cap;
        if got < asked {
            match self.cap {
                None => self.cap = Some(got),
                Some(cap) if got > cap => {
                    self.cap = Some(got);
                    self.shrink = None;
                }
                Some(cap) if got < cap && asked >= cap && start.is_multiple_of(cap) => {
                    let count = match self.shrink {
                        Some((len, n)) if len == got => n + 1,
                        _ => 1,
                    };
                    self.shrink = Some((got, count));
                    if count >= SHRINK_AFTER {
                        self.cap = Some(got);
                        self.shrink = None;
                    }
                }
                Some(_) => {}
            }
        } else if let Some(cap) = self.cap {
            if got > cap {
                // A full answer beyond the cap: the log serves more now.
                self.cap = if got >= self.configured { None } else { Some(got) };
            }
            if got >= cap {
                self.shrink = None;
            }
        }
        if self.cap.is_some_and(|c| c >= self.configured) {
            self.cap = None;
        }
        (self.cap != before).then_some(self.size())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A log that serves at most `cap` entries, cut at multiples of `page` when `page > 0`.
    fn serve(cap: u64, page: u64, start: u64, end: u64) -> u64 {
        let got = (end - start).min(cap);
        match start.checked_div(page) {
            Some(p) => got.min((p + 1) * page - start),
            None => got,
        }
    }

    /// Fetch `[0, total)` the way the follower does; returns the number of requests.
    fn fetch_all(sizer: &mut BatchSizer, cap: u64, page: u64, total: u64) -> u64 {
        let mut requests = 0;
        let mut gaps: std::collections::VecDeque<(u64, u64)> = Default::default();
        let mut next = 0;
        loop {
            let (s, e) = if let Some(g) = gaps.pop_front() {
                g
            } else if next < total {
                let r = sizer.plan(next, total);
                next = r.1;
                r
            } else {
                break;
            };
            requests += 1;
            let got = serve(cap, page, s, e);
            sizer.observe(s, e - s, got);
            for g in sizer.split(s + got, e).into_iter().rev() {
                gaps.push_front(g);
            }
        }
        requests
    }

    #[test]
    fn learns_the_cap_and_aligns_to_it() {
        let mut sizer = BatchSizer::new(1000);
        let requests = fetch_all(&mut sizer, 32, 0, 32_000);
        assert_eq!(sizer.cap(), Some(32));
        // One request per 32 entries (plus the occasional probe's extra), nothing wasted.
        assert!(requests <= 1000 + 1000 / PROBE_EVERY + 1, "{requests}");
        assert_eq!(sizer.plan(40, 100_000), (40, 64));
    }

    #[test]
    fn page_cuts_do_not_shrink_the_cap() {
        // A log paging at 256: an unaligned first request comes back cut at the page end.
        let mut sizer = BatchSizer::new(1000);
        assert_eq!(sizer.observe(100, 1000, 156), Some(156));
        assert_eq!(sizer.observe(256, 1000, 256), Some(256));
        assert_eq!(sizer.observe(700, 256, 68), None);
        assert_eq!(sizer.cap(), Some(256));
        let requests = fetch_all(&mut sizer, 256, 256, 256 * 100);
        assert_eq!(sizer.cap(), Some(256));
        assert!(requests <= 100 + 100 / PROBE_EVERY + 1, "{requests}");
    }

    #[test]
    fn a_raised_cap_is_noticed_by_probes() {
        let mut sizer = BatchSizer::new(1000);
        sizer.observe(0, 1000, 100);
        assert_eq!(sizer.cap(), Some(100));
        fetch_all(&mut sizer, 500, 0, 100 * PROBE_EVERY * 2);
        assert_eq!(sizer.cap(), Some(500));
        fetch_all(&mut sizer, 5000, 0, 1000 * PROBE_EVERY * 2);
        assert_eq!(sizer.cap(), None);
        assert_eq!(sizer.size(), 1000);
    }

    #[test]
    fn a_lowered_cap_is_learned_after_repeated_evidence() {
        let mut sizer = BatchSizer::new(1000);
        sizer.observe(0, 1000, 256);
        for i in 1..SHRINK_AFTER {
            assert_eq!(sizer.observe(256 * u64::from(i), 256, 128), None);
        }
        assert_eq!(sizer.observe(256 * u64::from(SHRINK_AFTER), 256, 128), Some(128));
    }

    #[test]
    fn no_cap_below_the_configured_size_means_none() {
        let mut sizer = BatchSizer::new(256);
        assert_eq!(fetch_all(&mut sizer, 1000, 0, 256 * 10), 10);
        assert_eq!(sizer.cap(), None);
        assert_eq!(sizer.observe(0, 256, 0), None);
        assert_eq!(sizer.split(10, 600), vec![(10, 266), (266, 522), (522, 600)]);
    }
}
