//! The end-to-end detector scenario: each incident of ../shared/seeds in miniature, logged in a
//! real test log, with a real DNS server and a CRL server on 127.0.0.1. `ctwatch run
//! --until-caught-up` must find every planted problem and nothing else.
//!
//! - HiPKI (Chunghwa Telecom): three weeks at ~12 OV certificates a day, then 600 in six hours
//!   under gov.tw → `issuance_surge`; the gov.tw names sit under ten CAA cases, four of which
//!   forbid the CA → four `caa_conflict` findings (60 certificates each), the six permissive
//!   look-alikes → nothing.
//! - iTrus: 8 keys revoked as keyCompromise on the CA's CRL, then 33 certificates reusing them
//!   → 8 `compromised_key_reuse` findings (one per key), BR 6.1.1.3 violations.
//! - CFCA: 120 certificates with basicConstraints not critical → one `lint_violation` with 120
//!   certificates; 40 revoked within 5 days, 40 late, 40 never → `revocation_overdue` (80).
//! - Hongkong Post: 100 certificates (precert + final = 200 entries) with a CPS URI without
//!   scheme → one `lint_violation` with 100 distinct certificates, all revoked on time.
//!
//! Findings that oblige revocation within 24 h (CAA, key reuse) and were not revoked also get
//! their `revocation_overdue`.

use ctwatch_ct::sth::LogSigner;
use ctwatch_integration::*;
use ctwatch_monitor::LogOutcome;
use ctwatch_store::{Finding, FindingFilter, SqliteStore, Store as _};
use ctwatch_testlog::{
    BasicConstraintsMode, CertFactory, CrlEntry, LeafSpec, Serial, SubscriberKey, TestLog, ValidationLevel,
    encode_sct_list, serve_local,
};
use std::collections::BTreeMap;

const HOUR: i64 = 3600;
const DAY: i64 = 86_400;

/// One certificate to log.
struct Planned {
    ca: &'static str,
    ts: i64,
    spec: LeafSpec,
    log_final: bool,
}

fn spec(names: Vec<String>, ts: i64, crl: &str) -> LeafSpec {
    let mut s = LeafSpec::new(names);
    s.not_before = ts - 60;
    s.not_after = ts - 60 + 90 * DAY;
    s.crl_url = Some(crl.to_string());
    s.ocsp_url = Some("http://ocsp.example.test/".into());
    s.ca_issuers_url = Some("http://aia.example.test/issuer.cer".into());
    s
}

fn tw_zone() -> String {
    // Case k of the surge lives under casek.gov.tw.
    let cases = [
        "case0.gov 300 IN CAA 0 issue \"letsencrypt.org\"",
        "case1.gov 300 IN CAA 0 issue \"globalsign.com\"",
        "case2.gov 300 IN CAA 0 issue \"pki.hinet.net\"",
        "case3.gov 300 IN CAA 0 issue \"TLS.HINET.NET.\"",
        "case4.gov 300 IN CAA 0 issue \"pki.hinet.net; accounturi=https://acme.hinet.net/acct/1\"",
        "case5.gov 300 IN CAA 128 tbs \"unknown\"\ncase5.gov 300 IN CAA 0 issue \"pki.hinet.net\"",
        "case6.gov 300 IN CAA 0 issue \";\"",
        "",
        "case8.gov 300 IN CAA 0 issue \"letsencrypt.org\"\ncase8.gov 300 IN CAA 0 issue \"tls.hinet.net\"",
        "case9.gov 300 IN CAA 0 issue \"letsencrypt.org\"\ncase9.gov 300 IN CAA 0 issuewild \"pki.hinet.net\"",
    ];
    format!(
        "$ORIGIN tw.\n@ 3600 IN SOA ns.tw. admin.tw. 1 3600 600 86400 300\n@ 3600 IN NS ns.tw.\nns 3600 IN A 127.0.0.1\n{}\n",
        cases.join("\n")
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_planted_problem_is_found_and_nothing_else() {
    let now = ctwatch_monitor::follow::unix_now();
    let dns = ctwatch_testdns::TestDns::start(&[&tw_zone()]).await;
    let crls = StaticFiles::start().await;
    let factories: BTreeMap<&str, CertFactory> = ["HiPKI", "iTrus", "CFCA", "HKPost"]
        .into_iter()
        .map(|n| (n, CertFactory::new(&format!("{n} Test CA")).unwrap()))
        .collect();
    let mut plan: Vec<Planned> = Vec::new();

    // HiPKI: history, then the surge.
    let surge_start = now - 2 * DAY;
    let hipki_crl = crls.url("hipki.crl");
    for i in 0..250i64 {
        let ts = surge_start - 21 * DAY + i * 2 * HOUR;
        let mut s = spec(vec![format!("host{i}.corp.tw")], ts, &hipki_crl);
        s.validation = ValidationLevel::Ov;
        plan.push(Planned { ca: "HiPKI", ts, spec: s, log_final: i % 2 == 0 });
    }
    for k in 0..600i64 {
        let case = k % 10;
        let ts = surge_start + k * 36; // 600 certificates in 6 hours
        let name = if case == 9 { format!("*.host{k}.case9.gov.tw") } else { format!("host{k}.case{case}.gov.tw") };
        let mut s = spec(vec![name], ts, &hipki_crl);
        s.validation = ValidationLevel::Ov;
        plan.push(Planned { ca: "HiPKI", ts, spec: s, log_final: true });
    }

    // iTrus: 8 keys, revoked for keyCompromise, then reused by 33 certificates.
    let itrus_crl = crls.url("itrus.crl");
    let keys: Vec<SubscriberKey> = (0..8).map(|_| SubscriberKey::generate().unwrap()).collect();
    let mut itrus_revoked = Vec::new();
    for (i, key) in keys.iter().enumerate() {
        let ts = now - 20 * DAY + i as i64 * HOUR;
        let mut s = spec(vec![format!("original{i}.itrus-customer.cn")], ts, &itrus_crl);
        s.key = Some(key.clone());
        s.serial = Serial::Bytes(serial_for("itrus", i as u64));
        itrus_revoked.push(CrlEntry {
            serial: serial_for("itrus", i as u64),
            revoked_at: now - 15 * DAY,
            reason: Some(1),
        });
        plan.push(Planned { ca: "iTrus", ts, spec: s, log_final: true });
    }
    for j in 0..33i64 {
        let ts = now - 10 * DAY + j * HOUR;
        let mut s = spec(vec![format!("reissued{j}.itrus-customer.cn")], ts, &itrus_crl);
        s.key = Some(keys[j as usize % 8].clone());
        plan.push(Planned { ca: "iTrus", ts, spec: s, log_final: true });
    }

    // CFCA: basicConstraints not critical; 40 on time, 40 late, 40 never revoked.
    let cfca_crl = crls.url("cfca.crl");
    let mut cfca_revoked = Vec::new();
    for i in 0..120i64 {
        let ts = now - 10 * DAY + i * 60;
        let mut s = spec(vec![format!("www{i}.cfca-customer.cn")], ts, &cfca_crl);
        s.basic_constraints = BasicConstraintsMode::NonCritical;
        s.serial = Serial::Bytes(serial_for("cfca", i as u64));
        match i % 3 {
            0 => cfca_revoked.push(CrlEntry {
                serial: serial_for("cfca", i as u64),
                revoked_at: ts + 2 * DAY,
                reason: Some(4),
            }),
            1 => cfca_revoked.push(CrlEntry {
                serial: serial_for("cfca", i as u64),
                revoked_at: ts + 7 * DAY,
                reason: Some(4),
            }),
            _ => {}
        }
        plan.push(Planned { ca: "CFCA", ts, spec: s, log_final: i % 2 == 0 });
    }

    // Hongkong Post: CPS URI without a scheme; precert and final both logged; all revoked on time.
    let hk_crl = crls.url("hkpost.crl");
    let mut hk_revoked = Vec::new();
    for i in 0..100i64 {
        let ts = now - 10 * DAY + i * 60 + 30;
        let mut s = spec(vec![format!("service{i}.hongkongpost-customer.hk")], ts, &hk_crl);
        s.cps_uri = Some("www.hongkongpost.gov.hk/cps".into());
        s.serial = Serial::Bytes(serial_for("hkpost", i as u64));
        hk_revoked.push(CrlEntry { serial: serial_for("hkpost", i as u64), revoked_at: ts + DAY, reason: Some(4) });
        plan.push(Planned { ca: "HKPost", ts, spec: s, log_final: true });
    }

    // CRLs as the CAs would publish them now.
    crls.put("hipki.crl", factories["HiPKI"].crl(1, now - HOUR, now + DAY, &[]).unwrap());
    crls.put("itrus.crl", factories["iTrus"].crl(5, now - HOUR, now + DAY, &itrus_revoked).unwrap());
    crls.put("cfca.crl", factories["CFCA"].crl(9, now - HOUR, now + DAY, &cfca_revoked).unwrap());
    crls.put("hkpost.crl", factories["HKPost"].crl(3, now - HOUR, now + DAY, &hk_revoked).unwrap());

    // Log everything in time order, precertificate then final certificate.
    plan.sort_by_key(|p| p.ts);
    let log = TestLog::new("scenario", LogSigner::generate());
    for p in &plan {
        let ca = &factories[p.ca];
        let ts_ms = p.ts as u64 * 1000;
        let (precert, index) = log.issue_precert(ca, &p.spec, ts_ms).unwrap();
        if p.log_final {
            let sct = log.sct_for_entry(index).unwrap();
            let final_der = ca.final_cert(&precert, &encode_sct_list(&[sct])).unwrap();
            log.add_x509_entry(&final_der, ca.chain(), ts_ms).unwrap();
        }
    }
    log.publish();
    let server = serve_local(vec![log.clone()]).await.unwrap();

    // Configuration: the four CAs by issuer certificate file, HiPKI with its CAA identifiers.
    let dir = tempdir();
    let mut cas = String::new();
    for (name, ca) in &factories {
        let pem = dir.path().join(format!("{name}.pem"));
        std::fs::write(&pem, pem_cert(ca.issuer_der())).unwrap();
        let caa = if *name == "HiPKI" { "[\"pki.hinet.net\", \"tls.hinet.net\"]" } else { "[]" };
        cas.push_str(&format!(
            "[[ca]]\nname = \"{name}\"\nissuers = [\"{}\"]\ncaa_identifiers = {caa}\n",
            pem.display()
        ));
    }
    let opts = RunOptions {
        extra_toml: format!(
            "[dns]\nnameservers = [\"{}\"]\n[caa]\nretry_secs = 0.2\ntimeout_secs = 2\n[revocation]\nclock_start = \"issuance\"\n[crl]\ninterval_secs = 60\n\
             [[sink]]\ntype = \"command\"\ncommand = \"/bin/sh\"\nargs = [\"-c\", \"echo \\\"$CTWATCH_FINDING_KEY\\\" >> {}\"]\n{cas}",
            dns.addr,
            dir.path().join("delivered.txt").display()
        ),
        ..Default::default()
    };
    let store_file = store_path(dir.path(), "scenario");
    let toml = config_toml(&store_file, &[log_toml(&server, &log, View::Rfc6962, &opts)], &opts);
    let summaries = run_until_caught_up(dir.path(), &toml).await;
    assert_eq!(summaries[0].outcome, LogOutcome::CaughtUp, "{summaries:?}");

    let store = open_store(&store_file);
    // Distinct certificates: precert and final counted once.
    assert_eq!(store.certificate_count().unwrap(), plan.len() as u64);
    let findings = store.findings(&FindingFilter { limit: Some(10_000), ..Default::default() }).unwrap();
    let by_kind = |kind: &str| -> Vec<&Finding> { findings.iter().filter(|f| f.kind == kind).collect() };
    let summary: Vec<String> =
        findings.iter().map(|f| format!("{} {} {:?} {}", f.kind, f.key, f.ca, f.certificate_count)).collect();
    let context = summary.join("\n");

    // Nothing unexpected.
    let kinds: std::collections::BTreeSet<&str> = findings.iter().map(|f| f.kind.as_str()).collect();
    let expected_kinds: std::collections::BTreeSet<&str> =
        ["issuance_surge", "caa_conflict", "compromised_key_reuse", "lint_violation", "revocation_overdue"].into();
    assert_eq!(kinds, expected_kinds, "{context}");

    // Surge: HiPKI only.
    let surges = by_kind("issuance_surge");
    assert!(!surges.is_empty(), "{context}");
    assert!(surges.iter().all(|f| f.ca.as_deref() == Some("HiPKI")), "{context}");
    assert!(surges.iter().any(|f| f.certificate_count >= 100), "{context}");

    // CAA: the four forbidding cases, 60 certificates each; no permissive look-alike.
    let mut caa: Vec<(String, String, u64)> = by_kind("caa_conflict")
        .iter()
        .map(|f| {
            (
                f.evidence["verdict"].as_str().unwrap_or("?").to_string(),
                f.evidence["dns"]["found_at"].as_str().unwrap_or("?").to_string(),
                f.certificate_count,
            )
        })
        .collect();
    caa.sort();
    assert_eq!(
        caa,
        vec![
            ("conflict".into(), "case0.gov.tw".into(), 60),
            ("conflict".into(), "case1.gov.tw".into(), 60),
            ("conflict".into(), "case6.gov.tw".into(), 60),
            ("critical_unknown".into(), "case5.gov.tw".into(), 60),
        ],
        "{context}"
    );

    // Key reuse: 8 keys, 33 certificates, all BR violations by iTrus.
    let reuse = by_kind("compromised_key_reuse");
    assert_eq!(reuse.len(), 8, "{context}");
    assert_eq!(reuse.iter().map(|f| f.certificate_count).sum::<u64>(), 33, "{context}");
    assert!(
        reuse.iter().all(|f| f.ca.as_deref() == Some("iTrus") && f.evidence["class"] == "br_violation"),
        "{context}"
    );

    // Lints: exactly the two incident lints, counted in distinct certificates.
    let mut lints: Vec<(String, String, u64)> = by_kind("lint_violation")
        .iter()
        .map(|f| {
            (
                f.ca.clone().unwrap_or_default(),
                f.evidence["lint"].as_str().unwrap_or("?").to_string(),
                f.certificate_count,
            )
        })
        .collect();
    lints.sort();
    assert_eq!(
        lints,
        vec![
            ("CFCA".into(), "e_sub_cert_basic_constraints_not_critical".into(), 120),
            ("HKPost".into(), "e_invalid_cps_uri".into(), 100),
        ],
        "{context}"
    );

    // Revocation: CFCA's 80 late or unrevoked, Hongkong Post none; the 24-hour findings all
    // overdue (nothing of theirs was revoked).
    let overdue = by_kind("revocation_overdue");
    let mut by_source: BTreeMap<String, u64> = BTreeMap::new();
    for f in &overdue {
        *by_source.entry(f.evidence["source_kind"].as_str().unwrap_or("?").to_string()).or_default() +=
            f.certificate_count;
    }
    assert_eq!(by_source.get("lint_violation"), Some(&80), "{context}");
    assert_eq!(by_source.get("compromised_key_reuse"), Some(&33), "{context}");
    assert_eq!(by_source.get("caa_conflict"), Some(&240), "{context}");
    let cfca = overdue.iter().find(|f| f.evidence["source_kind"] == "lint_violation").unwrap();
    assert_eq!(cfca.evidence["counts"]["late"], 40, "{context}");
    assert_eq!(cfca.evidence["counts"]["unrevoked"], 40, "{context}");
    assert_eq!(cfca.evidence["counts"]["on_time"], 40, "{context}");
    assert_eq!(overdue.len(), 1 + 8 + 4, "{context}");

    // Every finding was pushed to the command sink once.
    let delivered = || std::fs::read_to_string(dir.path().join("delivered.txt")).unwrap_or_default();
    let first_delivery = delivered();
    assert_eq!(first_delivery.lines().count(), findings.len(), "{first_delivery}");

    // A second run (a restart) raises nothing twice and sends nothing twice.
    let again = run_until_caught_up(dir.path(), &toml).await;
    assert_eq!(again[0].outcome, LogOutcome::CaughtUp);
    let after = open_store(&store_file).findings(&FindingFilter { limit: Some(10_000), ..Default::default() }).unwrap();
    assert_eq!(after.len(), findings.len());
    assert_eq!(delivered(), first_delivery);
    server.shutdown().await;
    let _ = SqliteStore::open_read_only(&store_file).unwrap();
}

/// A 16-byte positive serial with 127 bits of entropy-like content, derived from a label, as the
/// DER INTEGER content bytes `CertFacts::serial` holds.
fn serial_for(label: &str, n: u64) -> Vec<u8> {
    let digest = ctwatch_ct::sha256(format!("{label}-{n}").as_bytes());
    let mut out = digest[..16].to_vec();
    out[0] = (out[0] & 0x7f) | 0x40;
    out
}
