//! Micro-benchmark: nanoseconds per `cert_facts` call over the real certificates in the shared
//! test data (CCADB CA certificates, the python-ct and boulder certificates, the pkilint
//! corpus). Run with `cargo run --release -p ctwatch-cert --example facts_bench [seconds]`.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use std::path::Path;
use std::time::{Duration, Instant};

fn pem_certs(text: &[u8], out: &mut Vec<Vec<u8>>) {
    const BEGIN: &str = "-----BEGIN CERTIFICATE-----";
    let text = String::from_utf8_lossy(text);
    let mut rest = text.as_ref();
    while let Some(start) = rest.find(BEGIN) {
        let body = &rest[start + BEGIN.len()..];
        let Some(end) = body.find("-----END CERTIFICATE-----") else { break };
        let b64: String = body[..end].chars().filter(|c| !c.is_whitespace()).collect();
        if let Ok(der) = STANDARD.decode(b64) {
            out.push(der);
        }
        rest = &body[end..];
    }
}

fn collect(dir: &Path, out: &mut Vec<Vec<u8>>) {
    let Ok(entries) = std::fs::read_dir(dir) else { return };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_dir() {
            collect(&path, out);
        } else if let Ok(bytes) = std::fs::read(&path) {
            if path.extension().is_some_and(|e| e == "der") {
                out.push(bytes);
            } else {
                pem_certs(&bytes, out);
            }
        }
    }
}

fn main() {
    let seconds: u64 = std::env::args().nth(1).and_then(|s| s.parse().ok()).unwrap_or(3);
    let mut certs = Vec::new();
    for sub in ["certs_real_world", "cert_lint_oracles", "ccadb/crtsh_ccadb_data_2026-08"] {
        if let Some(dir) = ctwatch_testdata::data_dir(sub) {
            collect(&dir, &mut certs);
        }
    }
    if certs.is_empty() {
        eprintln!("no certificates found");
        return;
    }
    let bytes: usize = certs.iter().map(Vec::len).sum();
    let ok = certs.iter().filter(|c| ctwatch_cert::facts::cert_facts(c).is_ok()).count();
    println!("{} certificates ({} decode), {} bytes on average", certs.len(), ok, bytes / certs.len());

    let deadline = Instant::now() + Duration::from_secs(seconds);
    let (mut calls, mut dns) = (0u64, 0usize);
    let start = Instant::now();
    while Instant::now() < deadline {
        for der in &certs {
            if let Ok(facts) = ctwatch_cert::facts::cert_facts(der) {
                dns += facts.dns_names.len();
            }
        }
        calls += certs.len() as u64;
    }
    let elapsed = start.elapsed();
    let ns = elapsed.as_nanos() as f64 / calls as f64;
    println!("cert_facts: {ns:.0} ns/cert, {:.0} certs/s on one core ({calls} calls, {dns} names)", 1e9 / ns);
}
