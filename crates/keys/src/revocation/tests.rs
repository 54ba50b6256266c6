use super::*;

const T0: i64 = 1_800_000_000; // 2027-01-15, after both short-lived dates
const YEAR: i64 = 365 * DAY;

fn sighting(revoked_at: i64, reason: Option<u8>) -> RevocationSighting {
    RevocationSighting { first_seen_at: revoked_at + HOUR, revoked_at, reason, last_unlisted_this_update: None }
}

#[test]
fn deadlines_per_reason() {
    assert_eq!(deadline(RevocationReason::KeyCompromise, T0), T0 + 86_400);
    assert_eq!(deadline(RevocationReason::WeakKey, T0), T0 + 86_400);
    assert_eq!(deadline(RevocationReason::CaaOrValidation, T0), T0 + 86_400);
    assert_eq!(deadline(RevocationReason::Misissuance, T0), T0 + 432_000);
    assert_eq!(deadline(RevocationReason::Misissuance, i64::MAX), i64::MAX);
    assert_eq!(RevocationReason::KeyCompromise.crl_reason(), 1);
    assert_eq!(RevocationReason::WeakKey.crl_reason(), 1);
    assert_eq!(RevocationReason::CaaOrValidation.crl_reason(), 4);
    assert_eq!(RevocationReason::Misissuance.crl_reason(), 4);
}

#[test]
fn short_lived_dates_match_br_1_6_1() {
    // The constants are the midnights UTC named in the BR.
    assert_eq!(SHORT_LIVED_10_DAYS_FROM % DAY, 0);
    assert_eq!((SHORT_LIVED_7_DAYS_FROM - SHORT_LIVED_10_DAYS_FROM) / DAY, 730); // 2024-03-15 → 2026-03-15
    assert_eq!(SHORT_LIVED_10_DAYS_FROM, 19_797 * DAY); // days from 1970-01-01 to 2024-03-15
}

#[test]
fn short_lived_boundaries() {
    let seven = SHORT_LIVED_7_DAYS_FROM;
    let ten = SHORT_LIVED_10_DAYS_FROM;
    // Validity Period = notAfter − notBefore + 1 (inclusive).
    assert!(is_short_lived(seven, seven + 7 * DAY - 1));
    assert!(!is_short_lived(seven, seven + 7 * DAY));
    assert!(is_short_lived(seven, seven)); // one second
    // Issued one second before the 7-day rule: the 10-day rule applies.
    assert!(is_short_lived(seven - 1, seven - 1 + 10 * DAY - 1));
    assert!(!is_short_lived(seven - 1, seven - 1 + 10 * DAY));
    assert!(!is_short_lived(seven, seven + 10 * DAY - 1));
    assert!(is_short_lived(ten, ten + 10 * DAY - 1));
    // Before 2024-03-15 there were no short-lived certificates.
    assert!(!is_short_lived(ten - 1, ten + HOUR));
    // Inverted validity is not short-lived, and extremes do not overflow.
    assert!(!is_short_lived(seven + DAY, seven));
    assert!(!is_short_lived(i64::MIN, i64::MAX));
    assert!(!is_short_lived(i64::MAX, i64::MIN));
    assert_eq!(certificate_deadline(RevocationReason::KeyCompromise, T0, seven, seven + DAY), None);
    assert_eq!(certificate_deadline(RevocationReason::KeyCompromise, T0, seven, seven + YEAR / 2), Some(T0 + DAY));
}

#[test]
fn on_time_late_and_wrong_reason() {
    let d = deadline(RevocationReason::KeyCompromise, T0);
    let na = T0 + YEAR;
    let v = |at: i64, reason| verdict(d, na, Some(&sighting(at, reason)), d + 10 * DAY, 1);
    assert_eq!(v(d, Some(1)), RevocationVerdict::OnTime);
    assert_eq!(v(T0 - DAY, Some(1)), RevocationVerdict::OnTime);
    assert_eq!(v(d + 1, Some(1)), RevocationVerdict::Late { by_secs: 1 });
    assert_eq!(v(d + DAY, None), RevocationVerdict::Late { by_secs: DAY });
    assert_eq!(v(d, Some(4)), RevocationVerdict::WrongReason { found: Some(4), expected: 1 });
    assert_eq!(v(d, None), RevocationVerdict::WrongReason { found: None, expected: 1 });
    // Misissuance wants superseded; an absent reason is unspecified (0).
    let d5 = deadline(RevocationReason::Misissuance, T0);
    assert_eq!(verdict(d5, na, Some(&sighting(d5, Some(4))), d5, 4), RevocationVerdict::OnTime);
    assert!(reason_matches(None, 0));
    assert!(!reason_matches(None, 4));
    assert!(RevocationVerdict::Late { by_secs: 1 }.is_violation());
    assert!(RevocationVerdict::WrongReason { found: None, expected: 1 }.is_violation());
    assert!(RevocationVerdict::Unrevoked { overdue_by_secs: 1 }.is_violation());
    assert!(!RevocationVerdict::OnTime.is_violation());
    assert!(!RevocationVerdict::Moot.is_violation());
    assert!(!RevocationVerdict::Pending.is_violation());
}

#[test]
fn unrevoked_pending_and_moot() {
    let d = deadline(RevocationReason::Misissuance, T0);
    let na = T0 + YEAR;
    assert_eq!(verdict(d, na, None, T0, 4), RevocationVerdict::Pending);
    assert_eq!(verdict(d, na, None, d, 4), RevocationVerdict::Pending);
    assert_eq!(verdict(d, na, None, d + 1, 4), RevocationVerdict::Unrevoked { overdue_by_secs: 1 });
    // Overdue time stops growing at expiry.
    assert_eq!(verdict(d, d + 100, None, d + 1_000, 4), RevocationVerdict::Unrevoked { overdue_by_secs: 100 });
    // Expiring exactly at the deadline: nothing could be overdue.
    assert_eq!(verdict(d, d, None, d + 1, 4), RevocationVerdict::Moot);
    assert_eq!(verdict(d, d - 1, None, d - 2, 4), RevocationVerdict::Pending);
    assert_eq!(verdict(d, d - 1, None, d - 1, 4), RevocationVerdict::Pending);
    assert_eq!(verdict(d, d - 1, None, d, 4), RevocationVerdict::Moot);
    // Expired one second after the deadline without revocation: overdue by one second.
    assert_eq!(verdict(d, d + 1, None, d + YEAR, 4), RevocationVerdict::Unrevoked { overdue_by_secs: 1 });
    // Revoked late but after expiry (expiry before the deadline): moot.
    assert_eq!(verdict(d, d - 10, Some(&sighting(d + 10, Some(4))), d + 20, 4), RevocationVerdict::Moot);
    // Revoked on time before an early expiry still counts as on time.
    assert_eq!(verdict(d, d - 10, Some(&sighting(d - 20, Some(4))), d + 20, 4), RevocationVerdict::OnTime);
}

#[test]
fn backdated_and_implausible_revocation_dates() {
    let d = deadline(RevocationReason::KeyCompromise, T0);
    let na = T0 + YEAR;
    // Backdated to before the deadline, but a CRL issued after the deadline did not list it.
    let backdated = RevocationSighting {
        first_seen_at: d + 3 * DAY,
        revoked_at: T0 - 30 * DAY,
        reason: Some(1),
        last_unlisted_this_update: Some(d + 2 * DAY),
    };
    assert_eq!(backdated.effective_revocation_time(), d + 2 * DAY);
    assert_eq!(verdict(d, na, Some(&backdated), d + 4 * DAY, 1), RevocationVerdict::Late { by_secs: 2 * DAY });
    // An unlisted CRL from before the revocationDate changes nothing.
    let normal = RevocationSighting { last_unlisted_this_update: Some(d - 3 * HOUR), ..sighting(d - HOUR, Some(1)) };
    assert_eq!(normal.effective_revocation_time(), d - HOUR);
    assert_eq!(verdict(d, na, Some(&normal), d + DAY, 1), RevocationVerdict::OnTime);
    // A revocationDate after the CRL was first seen is implausible: first sighting counts.
    let future = RevocationSighting {
        first_seen_at: d - HOUR,
        revoked_at: d + 5 * DAY,
        reason: Some(1),
        last_unlisted_this_update: None,
    };
    assert_eq!(future.effective_revocation_time(), d - HOUR);
    assert_eq!(verdict(d, na, Some(&future), d + DAY, 1), RevocationVerdict::OnTime);
}

#[test]
fn exhaustive_small_grid_is_consistent() {
    // Over a grid of times around the deadline, the verdict obeys its definition.
    let d = 1_000;
    let times: Vec<i64> = (990..=1_010).collect();
    for &na in &times {
        for &now in &times {
            let v = verdict(d, na, None, now, 1);
            let expected = if na <= d {
                if now > na { RevocationVerdict::Moot } else { RevocationVerdict::Pending }
            } else if now > d {
                RevocationVerdict::Unrevoked { overdue_by_secs: now.min(na) - d }
            } else {
                RevocationVerdict::Pending
            };
            assert_eq!(v, expected, "na={na} now={now}");
            for &at in &times {
                let s = RevocationSighting {
                    first_seen_at: at,
                    revoked_at: at,
                    reason: Some(1),
                    last_unlisted_this_update: None,
                };
                let v = verdict(d, na, Some(&s), now, 1);
                let expected = if at <= d {
                    RevocationVerdict::OnTime
                } else if na <= d {
                    RevocationVerdict::Moot
                } else {
                    RevocationVerdict::Late { by_secs: at - d }
                };
                assert_eq!(v, expected, "na={na} at={at}");
            }
        }
    }
}

#[test]
fn verdicts_serialize_with_a_tag() {
    let json = serde_json::to_value(RevocationVerdict::Late { by_secs: 5 }).unwrap();
    assert_eq!(json, serde_json::json!({ "verdict": "late", "by_secs": 5 }));
    let json = serde_json::to_value(RevocationVerdict::WrongReason { found: None, expected: 1 }).unwrap();
    assert_eq!(json, serde_json::json!({ "verdict": "wrong_reason", "found": null, "expected": 1 }));
}
