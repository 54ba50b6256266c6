//! Retention of full certificate records (`[retention] certificates_days`): certificates whose
//! notAfter lies further back than the retention are deleted with their log entries, in
//! batches, while hourly issuance counts and findings (with their certificate counts) stay. So
//! years of issuance history stay queryable at the cost of aggregate rows only.
//!
//! Run by the daemon's workers (by the singleton instance when sharded), once an hour.

use crate::StoreHandle;
use ctwatch_store::{PruneStats, StoreError};
use std::time::Duration;

/// How often the daemon prunes.
pub const PRUNE_INTERVAL: Duration = Duration::from_secs(3600);

/// Certificates deleted per transaction: small enough that a prune never holds the store for
/// long, so commits interleave with it.
pub const PRUNE_BATCH: usize = 1000;

/// Delete every certificate record whose notAfter is more than `keep` before `now` (Unix
/// seconds), [`PRUNE_BATCH`] at a time until none is left; logs and returns what was deleted.
pub async fn prune_expired(store: &StoreHandle, keep: Duration, now: i64) -> Result<PruneStats, StoreError> {
    let keep_secs = i64::try_from(keep.as_secs()).unwrap_or(i64::MAX);
    let cutoff = now.saturating_sub(keep_secs);
    let mut total = PruneStats::default();
    loop {
        let stats = store.call(move |s| s.prune_certificates(cutoff, PRUNE_BATCH)).await?;
        total.certificates += stats.certificates;
        total.entries += stats.entries;
        total.finding_links += stats.finding_links;
        if stats.certificates < PRUNE_BATCH as u64 {
            break;
        }
    }
    if total.certificates > 0 {
        tracing::info!(
            certificates = total.certificates,
            entries = total.entries,
            finding_links = total.finding_links,
            not_after_before = cutoff,
            "retention: pruned certificate records"
        );
    }
    Ok(total)
}
