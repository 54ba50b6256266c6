//! Log misbehaviour: what a log can do wrong, and the `log_misbehaviour` finding it becomes.

use ctwatch_ct::sth::TreeHead;
use ctwatch_store::{NewFinding, Severity};

/// Something a log did that breaks its promises.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Misbehaviour {
    /// The tree head signature does not verify with the log's key.
    BadSignature { head: TreeHead, detail: String },
    /// A tree head smaller than one already verified.
    Rollback { verified: TreeHead, seen: TreeHead },
    /// Two tree heads that cannot both be honest (same size, different roots; or a failed
    /// consistency proof): a split view.
    Inconsistent { verified: TreeHead, seen: TreeHead, detail: String },
    /// Downloaded entries do not hash to the signed root.
    EntriesDoNotMatch { head: TreeHead, covered: u64, detail: String },
    /// The log answered with something that is not what the protocol allows (a short or
    /// malformed response that cannot be retried away, a data tile that does not decode).
    BadResponse { detail: String },
    /// The newest tree head is older than the maximum merge delay.
    StaleHead { head: TreeHead, age_secs: i64, mmd: u64 },
}

impl Misbehaviour {
    /// Short machine name (evidence `type`, metric label).
    pub fn name(&self) -> &'static str {
        match self {
            Misbehaviour::BadSignature { .. } => "bad_signature",
            Misbehaviour::Rollback { .. } => "rollback",
            Misbehaviour::Inconsistent { .. } => "inconsistent_tree_heads",
            Misbehaviour::EntriesDoNotMatch { .. } => "entries_do_not_match_root",
            Misbehaviour::BadResponse { .. } => "bad_response",
            Misbehaviour::StaleHead { .. } => "stale_tree_head",
        }
    }

    /// Whether the cursor must stop (everything except a stale head).
    pub fn stops_log(&self) -> bool {
        !matches!(self, Misbehaviour::StaleHead { .. })
    }

    /// The finding. Its key names the log and the offending head, so the same problem seen on
    /// every poll is one finding.
    pub fn to_finding(&self, log_name: &str, log_id: &[u8; 32], now: i64) -> NewFinding {
        let head_json = |h: &TreeHead| {
            serde_json::json!({
                "tree_size": h.tree_size,
                "timestamp_ms": h.timestamp,
                "root_hash": hex::encode(h.root_hash),
            })
        };
        let (detail_key, evidence) = match self {
            Misbehaviour::BadSignature { head, detail } => {
                (hex::encode(head.root_hash), serde_json::json!({ "head": head_json(head), "detail": detail }))
            }
            Misbehaviour::Rollback { verified, seen } => (
                format!("{}-{}", verified.tree_size, seen.tree_size),
                serde_json::json!({ "verified": head_json(verified), "seen": head_json(seen) }),
            ),
            Misbehaviour::Inconsistent { verified, seen, detail } => (
                format!("{}-{}", hex::encode(verified.root_hash), hex::encode(seen.root_hash)),
                serde_json::json!({ "verified": head_json(verified), "seen": head_json(seen), "detail": detail }),
            ),
            Misbehaviour::EntriesDoNotMatch { head, covered, detail } => (
                format!("{}-{covered}", hex::encode(head.root_hash)),
                serde_json::json!({ "head": head_json(head), "entries_covered": covered, "detail": detail }),
            ),
            Misbehaviour::BadResponse { detail } => (detail.clone(), serde_json::json!({ "detail": detail })),
            Misbehaviour::StaleHead { head, age_secs, mmd } => (
                hex::encode(head.root_hash),
                serde_json::json!({ "head": head_json(head), "age_secs": age_secs, "mmd_secs": mmd }),
            ),
        };
        let mut evidence = evidence;
        if let Some(obj) = evidence.as_object_mut() {
            obj.insert("type".into(), self.name().into());
            obj.insert("log".into(), log_name.into());
            obj.insert("log_id".into(), hex::encode(log_id).into());
        }
        let severity = match self {
            Misbehaviour::StaleHead { .. } | Misbehaviour::BadResponse { .. } => Severity::Warning,
            _ => Severity::Critical,
        };
        NewFinding {
            key: format!("log_misbehaviour:{}:{}:{}", hex::encode(log_id), self.name(), short(&detail_key)),
            kind: "log_misbehaviour".into(),
            severity,
            ca: None,
            issuer: None,
            evidence,
            certificates: Vec::new(),
            seen_at: now,
        }
    }
}

/// Keys stay short even when a detail is long.
fn short(s: &str) -> String {
    if s.len() <= 96 { s.to_string() } else { hex::encode(ctwatch_ct::sha256(s.as_bytes())) }
}

/// How a newly fetched (signature-checked) head relates to the verified one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HeadRelation {
    /// No head verified before: trust on first use (the entries are still verified against it).
    First,
    /// Same size and root as the verified head.
    Unchanged,
    /// Larger: a consistency check from `from` is needed.
    Grown {
        from: u64,
    },
    Rollback,
    SameSizeDifferentRoot,
}

/// Compare a new head with the verified one.
pub fn relate(verified: Option<&TreeHead>, seen: &TreeHead) -> HeadRelation {
    match verified {
        None => HeadRelation::First,
        Some(v) if seen.tree_size < v.tree_size => HeadRelation::Rollback,
        Some(v) if seen.tree_size == v.tree_size => {
            if seen.root_hash == v.root_hash {
                HeadRelation::Unchanged
            } else {
                HeadRelation::SameSizeDifferentRoot
            }
        }
        Some(v) => HeadRelation::Grown { from: v.tree_size },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn head(size: u64, root: u8) -> TreeHead {
        TreeHead { tree_size: size, timestamp: 1, root_hash: [root; 32] }
    }

    #[test]
    fn relations() {
        assert_eq!(relate(None, &head(5, 1)), HeadRelation::First);
        assert_eq!(relate(Some(&head(5, 1)), &head(5, 1)), HeadRelation::Unchanged);
        assert_eq!(relate(Some(&head(5, 1)), &head(5, 2)), HeadRelation::SameSizeDifferentRoot);
        assert_eq!(relate(Some(&head(5, 1)), &head(4, 1)), HeadRelation::Rollback);
        assert_eq!(relate(Some(&head(5, 1)), &head(9, 3)), HeadRelation::Grown { from: 5 });
    }

    #[test]
    fn finding_keys_are_stable_and_distinct() {
        let id = [7u8; 32];
        let a = Misbehaviour::Rollback { verified: head(5, 1), seen: head(4, 1) }.to_finding("l", &id, 10);
        let b = Misbehaviour::Rollback { verified: head(5, 1), seen: head(4, 1) }.to_finding("l", &id, 20);
        let c = Misbehaviour::Rollback { verified: head(5, 1), seen: head(3, 1) }.to_finding("l", &id, 20);
        assert_eq!(a.key, b.key);
        assert_ne!(a.key, c.key);
        assert_eq!(a.kind, "log_misbehaviour");
        assert_eq!(a.evidence["type"], "rollback");
        let long = Misbehaviour::BadResponse { detail: "x".repeat(500) }.to_finding("l", &id, 1);
        assert!(long.key.len() < 200);
    }
}
