//! Revocation deadlines of BR 4.9.1.1 and the verdict on how a CA met them.
//!
//! **Deadlines.** The clock starts when the problem became known (for a ctwatch finding: when
//! it was first raised, or when a report was sent to the CA; the caller chooses). BR 4.9.1.1
//! (TLS BR as of 2026) gives 24 hours for key compromise (item 3), a demonstrated method to
//! compute the private key such as a weak key (item 4), and domain validation or CAA that
//! cannot be relied upon (item 5); and 5 days for a certificate not issued per the BR or the
//! CA's CP/CPS (item 12), which is what lint-class problems are. The deadline is inclusive:
//! a revocation at exactly `known_at + 24 h` is on time.
//!
//! **Expected CRLReason.** Items 3, 4 and 16 say keyCompromise (1); items 5 and 12 say
//! superseded (4).
//!
//! **Short-lived certificates** are exempt from 4.9.1.1 altogether ("With the exception of
//! Short-lived Subscriber Certificates"). BR 1.6.1 defines them by issuance date: on or after
//! 2024-03-15 and before 2026-03-15, a Validity Period of at most 10 days (864,000 s); on or
//! after 2026-03-15, at most 7 days (604,800 s). The Validity Period runs from notBefore
//! through notAfter *inclusive*, so it is `notAfter − notBefore + 1` seconds. The issuance date
//! is not in the certificate; notBefore stands in for it. Before 2024-03-15 the category did
//! not exist and nothing is exempt.
//!
//! **Which time counts as "revoked".** BR 4.9.1.1 is met by the revocation itself, whose time
//! the CRL entry's revocationDate states. A monitor also knows when it first fetched a CRL
//! listing the certificate, and the thisUpdate of the newest CRL it fetched that did *not*
//! list it. The effective revocation time is the revocationDate, except:
//! - if a CRL issued after the claimed revocationDate still did not list the certificate, the
//!   revocation cannot have been published before that CRL's thisUpdate (BR 7.2.2 allows
//!   keyCompromise entries to be backdated, and a backdated entry must not hide a late
//!   revocation): the effective time is raised to that thisUpdate — a lower bound, so lateness
//!   is never overstated;
//! - a revocationDate later than the moment ctwatch first saw the entry is implausible (clock
//!   error or a future-dated entry): the first-seen time is used instead.

/// Seconds in an hour.
pub const HOUR: i64 = 3_600;
/// Seconds in a day.
pub const DAY: i64 = 24 * HOUR;

/// 2024-03-15T00:00:00Z: Short-lived Subscriber Certificates begin (10 days).
pub const SHORT_LIVED_10_DAYS_FROM: i64 = 1_710_460_800;
/// 2026-03-15T00:00:00Z: the short-lived limit becomes 7 days.
pub const SHORT_LIVED_7_DAYS_FROM: i64 = 1_773_532_800;

/// Why a certificate must be revoked, grouped by BR 4.9.1.1 deadline and CRLReason.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RevocationReason {
    /// The private key is compromised (item 3): 24 hours, keyCompromise.
    KeyCompromise,
    /// The private key is computable from the public key, e.g. a weak key (items 4 and 16):
    /// 24 hours, keyCompromise.
    WeakKey,
    /// Domain validation or CAA checking cannot be relied upon (item 5): 24 hours, superseded.
    CaaOrValidation,
    /// Not issued per the BR or CP/CPS: lint-class misissuance (item 12): 5 days, superseded.
    Misissuance,
}

impl RevocationReason {
    /// The time allowed, in seconds.
    pub fn allowed_secs(self) -> i64 {
        match self {
            RevocationReason::KeyCompromise | RevocationReason::WeakKey | RevocationReason::CaaOrValidation => DAY,
            RevocationReason::Misissuance => 5 * DAY,
        }
    }

    /// The RFC 5280 reasonCode BR 4.9.1.1 requires: 1 (keyCompromise) or 4 (superseded).
    pub fn crl_reason(self) -> u8 {
        match self {
            RevocationReason::KeyCompromise | RevocationReason::WeakKey => 1,
            RevocationReason::CaaOrValidation | RevocationReason::Misissuance => 4,
        }
    }
}

/// The latest on-time revocation for a problem known at `problem_known_at` (Unix seconds).
pub fn deadline(reason: RevocationReason, problem_known_at: i64) -> i64 {
    problem_known_at.saturating_add(reason.allowed_secs())
}

/// Whether a certificate is a Short-lived Subscriber Certificate (BR 1.6.1), using notBefore as
/// the issuance date. See the module documentation.
pub fn is_short_lived(not_before: i64, not_after: i64) -> bool {
    let validity_period = not_after.saturating_sub(not_before).saturating_add(1);
    let limit = if not_before >= SHORT_LIVED_7_DAYS_FROM {
        7 * DAY
    } else if not_before >= SHORT_LIVED_10_DAYS_FROM {
        10 * DAY
    } else {
        return false;
    };
    (1..=limit).contains(&validity_period)
}

/// The deadline for a certificate, or `None` when it is short-lived and so exempt.
pub fn certificate_deadline(
    reason: RevocationReason,
    problem_known_at: i64,
    not_before: i64,
    not_after: i64,
) -> Option<i64> {
    (!is_short_lived(not_before, not_after)).then(|| deadline(reason, problem_known_at))
}

/// What ctwatch saw of a certificate's revocation on its issuer's CRLs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct RevocationSighting {
    /// When ctwatch first fetched a CRL listing the certificate (Unix seconds).
    pub first_seen_at: i64,
    /// The entry's revocationDate (Unix seconds).
    pub revoked_at: i64,
    /// The entry's reasonCode; `None` when absent (unspecified).
    pub reason: Option<u8>,
    /// thisUpdate of the newest CRL of the same scope that ctwatch fetched and that did not
    /// list the certificate, if any.
    pub last_unlisted_this_update: Option<i64>,
}

impl RevocationSighting {
    /// The time the verdict treats as the revocation (see the module documentation).
    pub fn effective_revocation_time(&self) -> i64 {
        let mut t = self.revoked_at;
        if let Some(unlisted) = self.last_unlisted_this_update {
            t = t.max(unlisted);
        }
        t.min(self.first_seen_at)
    }
}

/// How a CA met a revocation deadline.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(tag = "verdict", rename_all = "snake_case")]
pub enum RevocationVerdict {
    /// Revoked by the deadline with the expected reason.
    OnTime,
    /// Revoked after the deadline while still valid at the deadline.
    Late {
        /// Seconds past the deadline.
        by_secs: i64,
    },
    /// Not revoked, still valid after the deadline.
    Unrevoked {
        /// Seconds the certificate has been valid and unrevoked past the deadline (up to `now`
        /// or to its expiry, whichever is first).
        overdue_by_secs: i64,
    },
    /// Not revoked, the deadline has not passed, and the certificate is still valid.
    Pending,
    /// The certificate expired no later than the deadline without being revoked late: no
    /// obligation was broken.
    Moot,
    /// Revoked on time but with a reasonCode other than the expected one (`None` = absent).
    WrongReason {
        /// The reasonCode on the CRL.
        found: Option<u8>,
        /// The reasonCode BR 4.9.1.1 requires.
        expected: u8,
    },
}

impl RevocationVerdict {
    /// Whether the verdict is a BR violation worth a `revocation_overdue` finding (late,
    /// unrevoked past the deadline, or the wrong reason).
    pub fn is_violation(&self) -> bool {
        matches!(
            self,
            RevocationVerdict::Late { .. }
                | RevocationVerdict::Unrevoked { .. }
                | RevocationVerdict::WrongReason { .. }
        )
    }
}

/// Whether a CRL reasonCode is the expected one. An absent reasonCode means unspecified (0).
pub fn reason_matches(found: Option<u8>, expected: u8) -> bool {
    found.unwrap_or(0) == expected
}

/// Judge a revocation against `deadline` at time `now`.
///
/// The certificate is valid through `not_after` inclusive. Lateness outranks a wrong reason
/// (check [`reason_matches`] separately for late revocations); the verdict is `Moot` when the
/// certificate expired at or before the deadline and was not revoked by the deadline.
pub fn verdict(
    deadline: i64,
    not_after: i64,
    revoked: Option<&RevocationSighting>,
    now: i64,
    expected_reason: u8,
) -> RevocationVerdict {
    let expired_by_deadline = not_after <= deadline;
    match revoked {
        Some(sighting) => {
            let at = sighting.effective_revocation_time();
            if at <= deadline {
                if reason_matches(sighting.reason, expected_reason) {
                    RevocationVerdict::OnTime
                } else {
                    RevocationVerdict::WrongReason { found: sighting.reason, expected: expected_reason }
                }
            } else if expired_by_deadline {
                RevocationVerdict::Moot
            } else {
                RevocationVerdict::Late { by_secs: at - deadline }
            }
        }
        None if expired_by_deadline => {
            if now > not_after {
                RevocationVerdict::Moot
            } else {
                RevocationVerdict::Pending
            }
        }
        None if now > deadline => RevocationVerdict::Unrevoked { overdue_by_secs: now.min(not_after) - deadline },
        None => RevocationVerdict::Pending,
    }
}

#[cfg(test)]
mod tests;
