//! Backfill: re-read entries `[from, to)` of a log below its cursor — after a CA was added to
//! the watch list, or to re-run the detectors over a period — with the same verification as
//! following, without moving the cursor.
//!
//! Verification needs the compact range of `[0, from)`, which the follower does not keep for
//! an arbitrary position. It comes from the log and is checked against a signed tree head:
//! for RFC 6962 logs from the inclusion proof of entry `from` (its left siblings are exactly
//! that compact range, and the proof is verified against the signed root first); for tiled
//! logs from the hash tiles, checked when the first batch's root `[0, m)` is proven a prefix
//! of the signed tree. Every batch then commits only after `[0, m)` is proven a prefix of the
//! freshly verified head, as in [`LogFollower::round`].

use super::{Access, LogFollower, RoundError, TileCache, tiled_extend, unix_now};
use crate::config::LogSource;
use crate::misbehaviour::Misbehaviour;
use ctwatch_ct::merkle::{CompactRange, compact_range_before, leaf_hash};
use tokio_util::sync::CancellationToken;

/// Why a backfill could not run.
#[derive(Debug, thiserror::Error)]
pub enum BackfillError {
    /// The range is empty or not below the log's cursor.
    #[error("{0}")]
    Range(String),
    /// Following failed (fetch, store, misbehaviour, cancellation).
    #[error(transparent)]
    Round(#[from] RoundError),
}

/// What a backfill did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct BackfillOutcome {
    /// The end of the verified and written range (`to` when complete).
    pub reached: u64,
    /// The log's tree size the range was verified against.
    pub tree_size: u64,
}

/// Backfill `[from, to)` of `source`. `count_issuance` adds newly stored certificates to the
/// hourly issuance counts (false when the range was already counted, as in all-issuers mode).
/// The surge detector is not run (it needs the live, ordered stream); lints, compromised keys
/// and precertificate checks are; the daemon's workers pick up CAA checks and CRLs of the new
/// certificates.
pub async fn backfill(
    source: &LogSource,
    shared: super::Shared,
    from: u64,
    to: u64,
    count_issuance: bool,
    cancel: &CancellationToken,
) -> Result<BackfillOutcome, BackfillError> {
    if from >= to {
        return Err(BackfillError::Range(format!("empty range: --from {from} must be below --to {to}")));
    }
    let mut shared = shared;
    shared.detectors.surge = None;
    let mut follower = LogFollower::open(source, shared).await?;
    let cursor = follower.committed.cursor;
    if to > cursor {
        return Err(BackfillError::Range(format!(
            "log {} is verified up to entry {cursor}: backfill ranges must end at or below it \
             (entries from {cursor} on are ingested by `ctwatch run`)",
            follower.name
        )));
    }
    // A fresh head, checked against the stored one like every round does.
    let sth = follower.fetch_head().await?;
    follower.check_head(&sth, unix_now()).await?;
    let n = sth.head.tree_size;
    let start = match follower.access.clone() {
        _ if from == 0 => CompactRange::new(),
        Access::Rfc6962(client) => {
            let first = client.get_entries(from, from).await.map_err(RoundError::from)?;
            let Some(entry) = first.first() else {
                return Err(RoundError::Internal(format!("get-entries returned nothing for entry {from}")).into());
            };
            let leaf = leaf_hash(&entry.leaf_input);
            let (index, proof) = client.get_proof_by_hash(&leaf, n).await.map_err(RoundError::from)?;
            if index != from {
                return Err(BackfillError::Range(format!(
                    "the log gives index {index} for the leaf hash of entry {from} (the same leaf is logged twice); \
                     start the backfill at {} instead",
                    from + 1
                )));
            }
            match compact_range_before(from, n, &leaf, &sth.head.root_hash, &proof) {
                Ok(range) => range,
                Err(e) => {
                    let detail = format!("inclusion proof of entry {from} in the tree of {n}: {e}");
                    return Err(follower.misbehaved(Misbehaviour::BadResponse { detail }).await.into());
                }
            }
        }
        Access::Tiled { client, .. } => {
            let mut tiles = TileCache::default();
            tiled_extend(&client, &mut tiles, CompactRange::new(), from, n).await?
        }
    };
    follower.committed = ctwatch_store::LogCheckpoint {
        log_id: follower.log_id,
        cursor: from,
        peaks: start.peaks().to_vec(),
        verified_head: Some(super::to_verified_head(&sth)),
        position_ms: follower.committed.position_ms,
    };
    follower.committed_range = start;
    follower.backfill = Some(count_issuance);
    match follower.access.clone() {
        Access::Rfc6962(client) => follower.download_rfc6962(&client, &sth, to, cancel).await?,
        Access::Tiled { client, .. } => {
            // Everything up to `to` now, partial last tile included.
            follower.partial_since = None;
            follower.shared.partial_tile_delay = std::time::Duration::ZERO;
            follower.download_tiled(&client, &sth, to, cancel).await?
        }
    }
    Ok(BackfillOutcome { reached: follower.committed.cursor, tree_size: n })
}
