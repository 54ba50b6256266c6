//! Deciding whether a CA may issue for a name, given the name's relevant CAA RRset.
//!
//! This module is pure: it knows nothing about DNS lookups, which happen in
//! [`crate::lookup`]. Lookup failures never reach [`evaluate`]; the caller turns them into
//! [`CaaVerdict::Indeterminate`].

use crate::rdata::{CaaRecord, normalize_identifier, parse_issue_value};

/// Property tags a TLS CA understands, so that a critical flag on them does not forbid
/// issuance: RFC 8659 (`issue`, `issuewild`, `iodef`), the BR contact tags (`contactemail`,
/// `contactphone`), RFC 9495 (`issuemail`) and the registered `issuevmc`. The last two govern
/// other certificate types and so never restrict TLS issuance.
pub const KNOWN_TAGS: &[&str] =
    &["issue", "issuewild", "iodef", "contactemail", "contactphone", "issuemail", "issuevmc"];

/// RFC 8657 parameters that bind issuance to an ACME account or validation method; a monitor
/// reading CT cannot tell whether the CA honoured them.
pub const UNVERIFIABLE_PARAMETERS: &[&str] = &["accounturi", "validationmethods"];

/// The outcome of a CAA check for one name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CaaVerdict {
    /// CAA allows the CA to issue (or there is no CAA restriction at all).
    Permitted,
    /// A record names the CA but carries RFC 8657 parameters (`accounturi`,
    /// `validationmethods`) that cannot be verified from CT.
    PermittedUnverifiable,
    /// CAA restricts issuance and no record authorises the CA.
    Conflict,
    /// A record with the critical flag has a tag the CA does not understand, which forbids
    /// issuance.
    CriticalUnknown,
    /// The lookup failed (SERVFAIL, timeout, DNSSEC bogus, …); check again later. Never a
    /// conflict.
    Indeterminate,
}

impl CaaVerdict {
    /// The verdict's stable snake_case name, as serialised.
    pub fn as_str(self) -> &'static str {
        match self {
            CaaVerdict::Permitted => "permitted",
            CaaVerdict::PermittedUnverifiable => "permitted_unverifiable",
            CaaVerdict::Conflict => "conflict",
            CaaVerdict::CriticalUnknown => "critical_unknown",
            CaaVerdict::Indeterminate => "indeterminate",
        }
    }

    /// Whether the verdict says issuance was not allowed (`conflict` or `critical_unknown`).
    pub fn is_violation(self) -> bool {
        matches!(self, CaaVerdict::Conflict | CaaVerdict::CriticalUnknown)
    }
}

impl std::fmt::Display for CaaVerdict {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A verdict with a human-readable reason and the record that decided it, if one did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CaaDecision {
    /// The verdict.
    pub verdict: CaaVerdict,
    /// One sentence saying why, naming the records involved.
    pub reason: String,
    /// The record that authorised the CA (for the permitted verdicts) or carried the unknown
    /// critical tag (for `critical_unknown`).
    pub matched: Option<CaaRecord>,
}

/// Evaluates a relevant RRset for `name` (a dNSName, possibly `*.`-prefixed) against the CA's
/// CAA identifiers, following RFC 8659 §4 and RFC 8657.
///
/// `rrset` is the relevant RRset found by tree climbing (empty when no name up the tree has
/// CAA records). Identifiers and issuer names compare ASCII case-insensitively, ignoring one
/// trailing dot.
pub fn evaluate(name: &str, rrset: &[CaaRecord], ca_identifiers: &[String]) -> CaaDecision {
    if rrset.is_empty() {
        return decision(CaaVerdict::Permitted, "no CAA records in the relevant RRset".into(), None);
    }
    if let Some(r) = rrset.iter().find(|r| r.is_critical() && !KNOWN_TAGS.iter().any(|t| r.tag_is(t))) {
        return decision(
            CaaVerdict::CriticalUnknown,
            format!(
                "record `{r}` has the critical flag and the unknown tag {:?}, which forbids issuance",
                r.tag_text()
            ),
            Some(r.clone()),
        );
    }

    let wildcard = name.trim_start().starts_with("*.");
    let use_issuewild = wildcard && rrset.iter().any(|r| r.tag_is("issuewild"));
    let tag = if use_issuewild { "issuewild" } else { "issue" };
    let relevant: Vec<&CaaRecord> = rrset.iter().filter(|r| r.tag_is(tag)).collect();
    if relevant.is_empty() {
        let what = if wildcard { "issue or issuewild" } else { "issue" };
        return decision(
            CaaVerdict::Permitted,
            format!("the relevant RRset has no {what} records, so CAA does not restrict issuance"),
            None,
        );
    }

    let ids: Vec<String> = ca_identifiers.iter().map(|i| normalize_identifier(i)).filter(|i| !i.is_empty()).collect();
    // The best match is one without RFC 8657 parameters: it authorises the CA outright.
    let mut conditional: Option<(&CaaRecord, Vec<&str>)> = None;
    let mut seen = Vec::new();
    for &r in &relevant {
        let parsed = match parse_issue_value(&r.value) {
            Ok(v) => v,
            Err(e) => {
                seen.push(format!("`{r}` (malformed: {e})"));
                continue;
            }
        };
        let Some(issuer) = parsed.issuer.as_deref() else {
            seen.push(format!("`{r}` (nobody)"));
            continue;
        };
        seen.push(format!("`{r}`"));
        if !ids.iter().any(|id| id == issuer) {
            continue;
        }
        let params: Vec<&str> =
            UNVERIFIABLE_PARAMETERS.iter().copied().filter(|p| parsed.parameter(p).is_some()).collect();
        if params.is_empty() {
            return decision(
                CaaVerdict::Permitted,
                format!("{tag} record `{r}` authorises {issuer}{}", wildcard_note(wildcard, use_issuewild)),
                Some(r.clone()),
            );
        }
        if conditional.is_none() {
            conditional = Some((r, params));
        }
    }
    if let Some((r, params)) = conditional {
        return decision(
            CaaVerdict::PermittedUnverifiable,
            format!(
                "{tag} record `{r}` authorises the CA subject to {}, which cannot be verified from CT",
                params.join(" and ")
            ),
            Some(r.clone()),
        );
    }
    let ids_text = if ids.is_empty() { "(none configured)".to_string() } else { ids.join(", ") };
    decision(
        CaaVerdict::Conflict,
        format!(
            "no {tag} record authorises the CA's identifiers {ids_text}{}; records: {}",
            wildcard_note(wildcard, use_issuewild),
            seen.join(", ")
        ),
        None,
    )
}

fn wildcard_note(wildcard: bool, use_issuewild: bool) -> &'static str {
    match (wildcard, use_issuewild) {
        (true, true) => " (wildcard name: issuewild records take precedence over issue)",
        (true, false) => " (wildcard name without issuewild records: issue records apply)",
        _ => "",
    }
}

fn decision(verdict: CaaVerdict, reason: String, matched: Option<CaaRecord>) -> CaaDecision {
    CaaDecision { verdict, reason, matched }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rec(flags: u8, tag: &str, value: &str) -> CaaRecord {
        CaaRecord::new(flags, tag, value)
    }

    fn ids(list: &[&str]) -> Vec<String> {
        list.iter().map(|s| s.to_string()).collect()
    }

    fn verdict(name: &str, rrset: &[CaaRecord], ca: &[&str]) -> CaaVerdict {
        evaluate(name, rrset, &ids(ca)).verdict
    }

    const HINET: &[&str] = &["pki.hinet.net", "tls.hinet.net"];

    #[test]
    fn empty_rrset_permits() {
        let d = evaluate("www.example.gov.tw", &[], &ids(HINET));
        assert_eq!(d.verdict, CaaVerdict::Permitted);
        assert_eq!(d.matched, None);
    }

    #[test]
    fn exact_issuer_permits_and_other_conflicts() {
        let set = [rec(0, "issue", "tls.hinet.net")];
        let d = evaluate("a.example", &set, &ids(HINET));
        assert_eq!(d.verdict, CaaVerdict::Permitted);
        assert_eq!(d.matched, Some(set[0].clone()));

        let set = [rec(0, "issue", "letsencrypt.org")];
        let d = evaluate("a.example", &set, &ids(HINET));
        assert_eq!(d.verdict, CaaVerdict::Conflict);
        assert!(d.reason.contains("letsencrypt.org"), "{}", d.reason);
        assert!(d.reason.contains("pki.hinet.net, tls.hinet.net"), "{}", d.reason);
    }

    #[test]
    fn incident_shaped_records_conflict() {
        let set = [rec(0, "issue", "letsencrypt.org"), rec(0, "issue", "globalsign.com"), rec(0, "issue", "GTLSCA-G1")];
        assert_eq!(verdict("www.moe.gov.tw", &set, HINET), CaaVerdict::Conflict);
    }

    #[test]
    fn several_issue_records_add_up() {
        let set =
            [rec(0, "issue", "letsencrypt.org"), rec(0, "issue", "pki.hinet.net"), rec(0, "issue", "digicert.com")];
        assert_eq!(verdict("a.example", &set, HINET), CaaVerdict::Permitted);
    }

    #[test]
    fn case_and_trailing_dots_are_tolerated() {
        assert_eq!(
            verdict("a.example", &[rec(0, "Issue", "LetsEncrypt.ORG")], &["letsencrypt.org"]),
            CaaVerdict::Permitted
        );
        assert_eq!(
            verdict("a.example", &[rec(0, "ISSUE", "letsencrypt.org.")], &["LETSENCRYPT.org"]),
            CaaVerdict::Permitted
        );
        assert_eq!(
            verdict("a.example", &[rec(0, "issue", "letsencrypt.org")], &["letsencrypt.org."]),
            CaaVerdict::Permitted
        );
    }

    #[test]
    fn deny_all_forms_conflict() {
        for v in [";", "", " ; ", "; accounturi=https://x/1"] {
            let d = evaluate("a.example", &[rec(0, "issue", v)], &ids(HINET));
            assert_eq!(d.verdict, CaaVerdict::Conflict, "{v:?}");
            assert!(d.reason.contains("nobody"), "{}", d.reason);
        }
    }

    #[test]
    fn deny_all_plus_an_authorising_record_permits() {
        let set = [rec(0, "issue", ";"), rec(0, "issue", "pki.hinet.net")];
        assert_eq!(verdict("a.example", &set, HINET), CaaVerdict::Permitted);
    }

    #[test]
    fn malformed_value_forbids_but_does_not_poison_others() {
        let d = evaluate("a.example", &[rec(0, "issue", "pki.hinet.net extra")], &ids(HINET));
        assert_eq!(d.verdict, CaaVerdict::Conflict);
        assert!(d.reason.contains("malformed"), "{}", d.reason);
        let set = [rec(0, "issue", "%%%"), rec(0, "issue", "pki.hinet.net")];
        assert_eq!(verdict("a.example", &set, HINET), CaaVerdict::Permitted);
    }

    #[test]
    fn rfc8657_parameters_are_unverifiable() {
        let set = [rec(0, "issue", "letsencrypt.org; accounturi=https://acme-v02.api.letsencrypt.org/acme/acct/1")];
        let d = evaluate("a.example", &set, &ids(&["letsencrypt.org"]));
        assert_eq!(d.verdict, CaaVerdict::PermittedUnverifiable);
        assert!(d.reason.contains("accounturi"), "{}", d.reason);
        assert_eq!(d.matched, Some(set[0].clone()));

        let set = [rec(0, "issue", "letsencrypt.org; ValidationMethods=dns-01")];
        assert_eq!(verdict("a.example", &set, &["letsencrypt.org"]), CaaVerdict::PermittedUnverifiable);

        // Parameters on a record for another CA do not matter.
        let set = [rec(0, "issue", "other.example; accounturi=x"), rec(0, "issue", "letsencrypt.org")];
        assert_eq!(verdict("a.example", &set, &["letsencrypt.org"]), CaaVerdict::Permitted);
    }

    #[test]
    fn unconditional_record_beats_conditional_one() {
        let set = [rec(0, "issue", "ca.example; accounturi=x"), rec(0, "issue", "ca.example")];
        let d = evaluate("a.example", &set, &ids(&["ca.example"]));
        assert_eq!(d.verdict, CaaVerdict::Permitted);
        assert_eq!(d.matched, Some(set[1].clone()));
    }

    #[test]
    fn unknown_parameters_are_ignored() {
        let set = [rec(0, "issue", "ca.example; policy=ev; foo=bar")];
        assert_eq!(verdict("a.example", &set, &["ca.example"]), CaaVerdict::Permitted);
    }

    #[test]
    fn only_iodef_or_unknown_noncritical_tags_do_not_restrict() {
        assert_eq!(verdict("a.example", &[rec(0, "iodef", "mailto:sec@a.example")], HINET), CaaVerdict::Permitted);
        assert_eq!(verdict("a.example", &[rec(0, "somefuturetag", "x")], HINET), CaaVerdict::Permitted);
        assert_eq!(verdict("a.example", &[rec(0, "thisisaverylongtagname", "x")], HINET), CaaVerdict::Permitted);
        assert_eq!(verdict("a.example", &[rec(0, "", "x")], HINET), CaaVerdict::Permitted);
        // A reserved flag bit other than critical means nothing.
        assert_eq!(verdict("a.example", &[rec(1, "weird", "x")], HINET), CaaVerdict::Permitted);
    }

    #[test]
    fn unknown_critical_tag_forbids() {
        let set = [rec(128, "tbs", "Unknown"), rec(0, "issue", "pki.hinet.net")];
        let d = evaluate("a.example", &set, &ids(HINET));
        assert_eq!(d.verdict, CaaVerdict::CriticalUnknown);
        assert_eq!(d.matched, Some(set[0].clone()));
        assert_eq!(verdict("a.example", &[rec(255, "Future-Tag", "x")], HINET), CaaVerdict::CriticalUnknown);
    }

    #[test]
    fn known_critical_tags_are_fine() {
        assert_eq!(verdict("a.example", &[rec(128, "issue", "pki.hinet.net")], HINET), CaaVerdict::Permitted);
        assert_eq!(verdict("a.example", &[rec(128, "IODEF", "mailto:x@y")], HINET), CaaVerdict::Permitted);
        assert_eq!(verdict("a.example", &[rec(128, "issuemail", "other.example")], HINET), CaaVerdict::Permitted);
        assert_eq!(verdict("a.example", &[rec(128, "issuewild", "other.example")], HINET), CaaVerdict::Permitted);
    }

    #[test]
    fn issuewild_ignored_for_plain_names() {
        // Only issuewild present: a plain name is not restricted.
        assert_eq!(verdict("a.example", &[rec(0, "issuewild", "other.example")], HINET), CaaVerdict::Permitted);
        // issue decides for plain names, whatever issuewild says.
        let set = [rec(0, "issue", "other.example"), rec(0, "issuewild", "pki.hinet.net")];
        assert_eq!(verdict("a.example", &set, HINET), CaaVerdict::Conflict);
        let set = [rec(0, "issue", "pki.hinet.net"), rec(0, "issuewild", ";")];
        assert_eq!(verdict("a.example", &set, HINET), CaaVerdict::Permitted);
    }

    #[test]
    fn issuewild_overrides_issue_for_wildcards() {
        let set = [rec(0, "issue", "pki.hinet.net"), rec(0, "issuewild", ";")];
        let d = evaluate("*.a.example", &set, &ids(HINET));
        assert_eq!(d.verdict, CaaVerdict::Conflict);
        assert!(d.reason.contains("issuewild"), "{}", d.reason);

        let set = [rec(0, "issue", "other.example"), rec(0, "IssueWild", "PKI.hinet.net.")];
        assert_eq!(verdict("*.a.example", &set, HINET), CaaVerdict::Permitted);

        let set = [rec(0, "issuewild", "other.example"), rec(0, "issuewild", "tls.hinet.net")];
        assert_eq!(verdict("*.a.example", &set, HINET), CaaVerdict::Permitted);
    }

    #[test]
    fn wildcard_without_issuewild_uses_issue() {
        assert_eq!(verdict("*.a.example", &[rec(0, "issue", "pki.hinet.net")], HINET), CaaVerdict::Permitted);
        assert_eq!(verdict("*.a.example", &[rec(0, "issue", "other.example")], HINET), CaaVerdict::Conflict);
        assert_eq!(verdict("*.a.example", &[rec(0, "iodef", "mailto:x@y")], HINET), CaaVerdict::Permitted);
    }

    #[test]
    fn no_identifiers_means_conflict_when_restricted() {
        let d = evaluate("a.example", &[rec(0, "issue", "ca.example")], &[]);
        assert_eq!(d.verdict, CaaVerdict::Conflict);
        assert!(d.reason.contains("(none configured)"), "{}", d.reason);
        assert_eq!(verdict("a.example", &[rec(0, "issue", "ca.example")], &["", " "]), CaaVerdict::Conflict);
    }

    #[test]
    fn identifier_must_match_whole_name() {
        assert_eq!(verdict("a.example", &[rec(0, "issue", "hinet.net")], HINET), CaaVerdict::Conflict);
        assert_eq!(verdict("a.example", &[rec(0, "issue", "evil-pki.hinet.net")], HINET), CaaVerdict::Conflict);
        assert_eq!(verdict("a.example", &[rec(0, "issue", "pki.hinet.net.evil")], HINET), CaaVerdict::Conflict);
    }

    #[test]
    fn verdict_names() {
        assert_eq!(CaaVerdict::PermittedUnverifiable.as_str(), "permitted_unverifiable");
        assert_eq!(serde_json::to_string(&CaaVerdict::CriticalUnknown).unwrap(), "\"critical_unknown\"");
        assert!(CaaVerdict::Conflict.is_violation());
        assert!(!CaaVerdict::Indeterminate.is_violation());
    }
}
