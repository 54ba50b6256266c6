//! Agreement with pkilint, for every lint that maps to a pkilint finding code.
//!
//! Two oracles:
//! - the expected findings stored in each `.crttest` of pkilint's own corpus (always run when the
//!   shared data is present): that CSV is exactly pkilint's output for the certificate and type;
//! - pkilint itself (`pip install pkilint`, binary `lint_cabf_serverauth_cert`) run live over
//!   the generated test certificates, when it is on PATH; otherwise SKIPPED.
//!
//! Agreement for a lint over a set of certificates: the fraction where "the lint fails" equals
//! "pkilint reported one of the lint's codes". pkilint's certificate type is an input; for the
//! corpus it is the directory name, for generated certificates it follows the policy OID and
//! whether the entry is a precertificate.

use crate::cases::cases;
use crate::corpus::{files_under, pem_certificates};
use ctwatch_cert::facts::{ValidationType, cert_facts};
use ctwatch_lint::{LintInfo, LintInput, LintOptions, lint_with, registry};
use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::process::Command;

/// The pkilint binary the live oracle runs.
const PKILINT: &str = "lint_cabf_serverauth_cert";

/// One certificate with the codes pkilint reports and the lints we fail.
#[derive(Debug)]
struct Judged {
    name: String,
    pkilint_codes: BTreeSet<String>,
    our_failures: BTreeSet<&'static str>,
}

/// Split a CSV line into fields (RFC 4180 quoting).
fn csv_fields(line: &str) -> Vec<String> {
    let mut fields = vec![String::new()];
    let mut quoted = false;
    let mut chars = line.chars().peekable();
    while let Some(c) = chars.next() {
        match (c, quoted) {
            ('"', true) if chars.peek() == Some(&'"') => {
                chars.next();
                fields.last_mut().unwrap().push('"');
            }
            ('"', _) => quoted = !quoted,
            (',', false) => fields.push(String::new()),
            (c, _) => fields.last_mut().unwrap().push(c),
        }
    }
    fields
}

/// The finding codes in a `.crttest` file's CSV part (column 4 after the header).
fn expected_codes(text: &str) -> BTreeSet<String> {
    let csv = text.split("-----END CERTIFICATE-----").nth(1).unwrap_or_default();
    csv.lines()
        .skip_while(|l| !l.starts_with("node_path,"))
        .skip(1)
        .filter(|l| !l.trim().is_empty())
        .filter_map(|l| csv_fields(l).get(3).cloned())
        .collect()
}

/// Whether a lint belongs to the validity-period schedule (398 days, then SC-081), the only
/// rules pkilint applies by notBefore.
fn is_validity_schedule(lint: &LintInfo) -> bool {
    lint.name.contains("valid_time_longer_than")
}

/// The lints we fail, judged as pkilint judges: every rule of the current profile applies
/// whatever the notBefore, except the validity schedule, which follows notBefore.
fn our_failures(der: &[u8], is_precert: bool) -> Option<BTreeSet<&'static str>> {
    let facts = cert_facts(der).ok()?;
    let input = LintInput { der, facts: &facts, is_precert, sct_timestamp_ms: None };
    let by_date = lint_with(&input, &LintOptions::default());
    let today = lint_with(&input, &LintOptions { ignore_effective_dates: true });
    let failed =
        by_date
            .iter()
            .zip(&today)
            .filter(|(dated, undated)| {
                if is_validity_schedule(dated.lint) { dated.status.is_failure() } else { undated.status.is_failure() }
            })
            .map(|(dated, _)| dated.lint.name)
            .collect();
    Some(failed)
}

/// The subscriber certificates of pkilint's corpus, judged by both sides.
fn judge_corpus(dir: &Path) -> Vec<Judged> {
    let mut out = Vec::new();
    for path in files_under(dir) {
        let cert_type = path.parent().and_then(|p| p.file_name()).and_then(|n| n.to_str()).unwrap_or_default();
        let subscriber = ["dv_", "ov_", "ev_", "iv_"].iter().any(|p| cert_type.starts_with(p));
        if !subscriber || path.extension().is_none_or(|e| e != "crttest") {
            continue;
        }
        let text = std::fs::read_to_string(&path).expect("readable .crttest");
        let der = pem_certificates(&text).into_iter().next().expect("a PEM certificate");
        let is_precert = cert_type.ends_with("pre_certificate");
        let our_failures = our_failures(&der, is_precert).unwrap_or_default();
        let name = format!("{cert_type}/{}", path.file_name().unwrap().to_string_lossy());
        out.push(Judged { name, pkilint_codes: expected_codes(&text), our_failures });
    }
    out
}

/// Agreement counts for one pkilint code, or one lint.
#[derive(Debug, Default, Clone, Copy)]
struct Tally {
    total: usize,
    both: usize,
    ours_only: usize,
    theirs_only: usize,
}

impl Tally {
    fn add(&mut self, ours: bool, theirs: bool) {
        self.total += 1;
        match (ours, theirs) {
            (true, true) => self.both += 1,
            (true, false) => self.ours_only += 1,
            (false, true) => self.theirs_only += 1,
            (false, false) => {}
        }
    }

    fn agreement(&self) -> f64 {
        (self.total - self.ours_only - self.theirs_only) as f64 / self.total.max(1) as f64
    }
}

/// Every pkilint code some lint maps to, with the lints mapping to it.
fn mapped_codes() -> BTreeMap<&'static str, Vec<&'static LintInfo>> {
    let mut codes: BTreeMap<&str, Vec<&LintInfo>> = BTreeMap::new();
    for lint in registry() {
        for code in lint.pkilint_codes() {
            codes.entry(code).or_default().push(lint);
        }
    }
    codes
}

/// Whether any of `lints` failed on `j`, and whether pkilint reported `code`.
fn sides(j: &Judged, code: &str, lints: &[&LintInfo]) -> (bool, bool) {
    (lints.iter().any(|l| j.our_failures.contains(l.name)), j.pkilint_codes.contains(code))
}

/// Print the per-code and per-lint tables, the disagreements, and return (overall agreement,
/// per-code tallies). Per code: any of the lints mapping to it failed <=> pkilint reported it.
/// Per lint: how often pkilint reported one of its codes when the lint failed (precision).
fn report(title: &str, judged: &[Judged]) -> (f64, Vec<(&'static str, Tally)>) {
    let codes = mapped_codes();
    println!(
        "\n{title}: {} certificates, {} pkilint codes mapped from {} lints",
        judged.len(),
        codes.len(),
        registry().iter().filter(|l| l.pkilint.is_some()).count()
    );
    println!("{:<70} {:>8} {:>5} {:>5} {:>5}", "pkilint code", "agree", "both", "ours", "pki");
    let (mut agree, mut total) = (0, 0);
    let mut rows = Vec::new();
    for (code, lints) in &codes {
        let mut t = Tally::default();
        for j in judged {
            let (ours, theirs) = sides(j, code, lints);
            t.add(ours, theirs);
            if ours != theirs {
                println!("  disagree {code}: {} (ours {ours}, pkilint {theirs})", j.name);
            }
        }
        agree += t.total - t.ours_only - t.theirs_only;
        total += t.total;
        println!("{:<70} {:>7.1}% {:>5} {:>5} {:>5}", code, 100.0 * t.agreement(), t.both, t.ours_only, t.theirs_only);
        rows.push((*code, t));
    }
    println!("{:<52} {:>6} {:>9}", "lint", "fails", "pkilint");
    for lint in registry().iter().filter(|l| l.pkilint.is_some()) {
        let fails: Vec<_> = judged.iter().filter(|j| j.our_failures.contains(lint.name)).collect();
        let confirmed = fails.iter().filter(|j| lint.pkilint_codes().any(|c| j.pkilint_codes.contains(c))).count();
        println!("{:<52} {:>6} {:>9}", lint.name, fails.len(), confirmed);
    }
    let rate = agree as f64 / total.max(1) as f64;
    println!("overall agreement over (code, certificate) pairs: {agree}/{total} = {:.2}%", 100.0 * rate);
    (rate, rows)
}

#[test]
fn agreement_with_pkilint_corpus_expectations() {
    let Some(dir) = ctwatch_testdata::data_dir("cert_lint_oracles/pkilint/integration_certificate/tls_br") else {
        return;
    };
    let judged = judge_corpus(&dir);
    assert!(judged.len() >= 90, "{} subscriber certificates", judged.len());
    let (rate, rows) = report("pkilint corpus expectations", &judged);

    // Known, understood disagreements (21 of 4,356 pairs when this was written):
    // - 398 days: pkilint applies the limit to certificates issued before 2020-09-01 (5 corpus
    //   certificates from 2014-2020); BR 6.3.2 made it effective on that date, as we do;
    // - the 397/199/99/46-day warnings: pkilint drops the warning when the error fires; we
    //   keep zlint's behaviour (both fire);
    // - itu.invalid_asn1_syntax: pyasn1 and x509-parser differ in DER strictness (a non-minimal
    //   keyUsage BIT STRING, a missing RSA NULL parameter, a bad PrintableString character);
    // - the certificate without extensions: pkilint reports one "extensions missing" code;
    // - a certificate with DV and OV policy OIDs in pkilint's DV directory (we take it as OV),
    //   and organizationName inside a multi-valued RDN;
    // - Internal Names in a U-label commonName and in a CPS URI, which we do not check.
    // Hence: at least 99% of (code, certificate) pairs and at least 94% for every code.
    assert!(rate >= 0.99, "overall agreement {rate}");
    for (code, t) in rows {
        assert!(t.agreement() >= 0.94, "{code}: agreement {} ({t:?})", t.agreement());
    }
}

#[test]
fn csv_parsing() {
    assert_eq!(csv_fields(r#"a,"b,c","d ""e""",f"#), ["a", "b,c", "d \"e\"", "f"]);
    let text = "-----BEGIN CERTIFICATE-----\nAA==\n-----END CERTIFICATE-----\n\nnode_path,validator,severity,code,message\nx,V,ERROR,cabf.x,\"m, n\"\n";
    assert_eq!(expected_codes(text), BTreeSet::from(["cabf.x".to_string()]));
}

/// pkilint's certificate type for a generated certificate.
fn pkilint_type(der: &[u8], is_precert: bool) -> String {
    let v = cert_facts(der).map(|f| f.validation_type).unwrap_or(ValidationType::Unknown);
    let v = match v {
        ValidationType::Ov => "OV",
        ValidationType::Ev => "EV",
        ValidationType::Iv => "IV",
        ValidationType::Dv | ValidationType::Unknown => "DV",
    };
    format!("{v}-{}-CERTIFICATE", if is_precert { "PRE" } else { "FINAL" })
}

/// Run pkilint on one certificate; the set of finding codes, or None if it could not run.
fn run_pkilint(dir: &Path, index: usize, der: &[u8], is_precert: bool) -> Option<BTreeSet<String>> {
    let path = dir.join(format!("{index}.der"));
    std::fs::write(&path, der).ok()?;
    let out = Command::new(PKILINT)
        .args(["lint", "-t", &pkilint_type(der, is_precert), "-f", "JSON", "--document-format", "DER"])
        .arg(&path)
        .output()
        .ok()?;
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).ok()?;
    let mut codes = BTreeSet::new();
    for result in json["results"].as_array()? {
        for finding in result["finding_descriptions"].as_array()? {
            codes.insert(finding["code"].as_str()?.to_string());
        }
    }
    Some(codes)
}

#[test]
fn agreement_with_live_pkilint_on_generated_certificates() {
    let available = Command::new(PKILINT).arg("--help").output().is_ok_and(|o| o.status.success());
    if !available {
        println!("SKIPPED: {PKILINT} not on PATH (pip install pkilint)");
        return;
    }
    // One certificate per failing case (the passing cases are mostly the base certificate).
    let mut unique = BTreeMap::new();
    for case in cases() {
        unique.entry((case.der.clone(), case.entry.is_precert)).or_insert(format!("{} [{}]", case.lint, case.what));
    }
    let work: Vec<_> = unique.into_iter().collect();
    let dir = tempfile::tempdir().expect("temp dir");
    let judged: Vec<Judged> = std::thread::scope(|s| {
        let chunks: Vec<_> = work.chunks(work.len().div_ceil(4)).enumerate().collect();
        let handles: Vec<_> = chunks
            .into_iter()
            .map(|(chunk_index, chunk)| {
                let dir = dir.path();
                s.spawn(move || {
                    let mut out = Vec::new();
                    for (i, ((der, is_precert), name)) in chunk.iter().enumerate() {
                        let codes = run_pkilint(dir, chunk_index * 1000 + i, der, *is_precert)
                            .unwrap_or_else(|| panic!("{PKILINT} failed on {name}"));
                        let ours = our_failures(der, *is_precert).unwrap_or_default();
                        out.push(Judged { name: name.clone(), pkilint_codes: codes, our_failures: ours });
                    }
                    out
                })
            })
            .collect();
        handles.into_iter().flat_map(|h| h.join().expect("worker")).collect()
    });
    let (rate, _) = report("live pkilint on generated certificates", &judged);
    // 8 of 4,532 pairs disagreed when this was written: the 397/199/99/46-day warnings (pkilint
    // drops them when the error fires), pyasn1 rejecting ECDSA parameters as bad DER before the
    // encoding check, a precertificate entry without poison (pkilint has no code for absence),
    // and Internal Names pkilint finds in a scheme-less CPS URI and a name with an empty label.
    assert!(rate >= 0.99, "overall agreement {rate}");
}
