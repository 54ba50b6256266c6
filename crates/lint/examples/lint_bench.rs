//! Time `failures()` (the monitor's hot path) and `lint()` per certificate over the pkilint
//! corpus and the real-world certificates in the shared data.
//!
//! `cargo run --release -p ctwatch-lint --example lint_bench [typical]`

use base64::Engine as _;
use ctwatch_cert::facts::{CertFacts, cert_facts};
use ctwatch_lint::{LintInput, failures, lint};
use std::path::{Path, PathBuf};
use std::time::Instant;

fn files_under(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else { return };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_dir() { files_under(&path, out) } else { out.push(path) }
    }
}

fn certificates(path: &Path) -> Vec<Vec<u8>> {
    let Ok(bytes) = std::fs::read(path) else { return Vec::new() };
    if path.extension().is_some_and(|e| e == "der") {
        return vec![bytes];
    }
    let text = String::from_utf8_lossy(&bytes);
    let mut out = Vec::new();
    let mut body: Option<String> = None;
    for line in text.lines().map(str::trim) {
        match line {
            "-----BEGIN CERTIFICATE-----" => body = Some(String::new()),
            "-----END CERTIFICATE-----" => {
                if let Some(der) = body.take().and_then(|b| base64::engine::general_purpose::STANDARD.decode(b).ok()) {
                    out.push(der);
                }
            }
            _ => body.iter_mut().for_each(|b| b.push_str(line)),
        }
    }
    out
}

fn main() {
    let mut files = Vec::new();
    for sub in ["cert_lint_oracles/pkilint/integration_certificate", "certs_real_world"] {
        if let Some(dir) = ctwatch_testdata::data_dir(sub) {
            files_under(&dir, &mut files);
        }
    }
    let certs: Vec<(Vec<u8>, CertFacts)> = files
        .iter()
        .flat_map(|f| certificates(f))
        .filter_map(|der| cert_facts(&der).ok().map(|facts| (der, facts)))
        .collect();
    if certs.is_empty() {
        println!("no certificates found");
        return;
    }
    let inputs: Vec<LintInput<'_>> = certs
        .iter()
        .map(|(der, facts)| LintInput { der, facts, is_precert: facts.is_precert, sct_timestamp_ms: None })
        .collect();
    let rounds = 200;
    // A typical subscriber certificate: the real Let's Encrypt final certificate, alone.
    if let Some(dir) = ctwatch_testdata::data_dir("certs_real_world/boulder_precert_final_pairs/good") {
        let der = certificates(&dir.join("final.pem")).remove(0);
        let facts = cert_facts(&der).expect("facts");
        let input = LintInput { der: &der, facts: &facts, is_precert: false, sct_timestamp_ms: None };
        // `lint_bench typical` runs only this loop, longer, so that CPU time can be read with
        // `time` on a busy machine.
        let only_typical = std::env::args().nth(1).is_some_and(|a| a == "typical");
        let n = if only_typical { 200_000u32 } else { 20_000 };
        let start = Instant::now();
        for _ in 0..n {
            std::hint::black_box(failures(&input));
        }
        println!(
            "failures() on a typical Let's Encrypt certificate: {} ns/cert",
            start.elapsed().as_nanos() / u128::from(n)
        );
        if only_typical {
            return;
        }
    }
    for (name, run) in [("failures()", 0), ("lint()", 1)] {
        let mut found = 0usize;
        let start = Instant::now();
        for _ in 0..rounds {
            for input in &inputs {
                found += if run == 0 { failures(input).len() } else { lint(input).len() };
            }
        }
        let per_cert = start.elapsed().as_nanos() / (rounds * inputs.len()) as u128;
        println!("{name:<11} {} certificates x {rounds} rounds: {per_cert} ns/cert ({found} results)", inputs.len());
    }
    let start = Instant::now();
    for _ in 0..rounds {
        for (der, _) in &certs {
            std::hint::black_box(cert_facts(der).ok());
        }
    }
    let per_cert = start.elapsed().as_nanos() / (rounds * certs.len()) as u128;
    println!("cert_facts() for comparison: {per_cert} ns/cert");
    let start = Instant::now();
    for _ in 0..rounds {
        for (der, _) in &certs {
            std::hint::black_box(
                <x509_parser::certificate::X509Certificate as x509_parser::prelude::FromDer<_>>::from_der(der).is_ok(),
            );
        }
    }
    let per_cert = start.elapsed().as_nanos() / (rounds * certs.len()) as u128;
    println!("x509-parser parse alone: {per_cert} ns/cert");
    let start = Instant::now();
    for _ in 0..rounds {
        for (der, _) in &certs {
            use x509_parser::nom::Parser as _;
            let mut parser = x509_parser::certificate::X509CertificateParser::new().with_deep_parse_extensions(false);
            std::hint::black_box(parser.parse(der).is_ok());
        }
    }
    let per_cert = start.elapsed().as_nanos() / (rounds * certs.len()) as u128;
    println!("x509-parser shallow parse: {per_cert} ns/cert");
}
