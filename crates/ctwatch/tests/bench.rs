//! `ctwatch bench caa` and `ctwatch bench api` at a tiny size: they run end to end (DNS
//! server, CAA worker, store, API server) and report sane, measured figures.

use serde_json::Value;
use std::process::{Command, Output};

fn ctwatch(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_ctwatch")).args(args).env_remove("CTWATCH_LOG").output().unwrap()
}

fn stdout_of(out: &Output) -> String {
    assert!(out.status.success(), "ctwatch failed: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout.clone()).unwrap()
}

#[test]
fn bench_caa_reports_measured_figures() {
    let out = ctwatch(&["bench", "caa", "--names", "200", "--domains", "20", "--runs", "1"]);
    let text = stdout_of(&out);
    let header = text.lines().position(|l| l.trim_start().starts_with("NAMES")).expect(&text);
    let row: Vec<f64> = text
        .lines()
        .nth(header + 1)
        .unwrap()
        .split_whitespace()
        .map(|v| v.trim_end_matches('%').parse().unwrap())
        .collect();
    let [
        names,
        wall,
        rate,
        queries,
        checker_queries,
        per_name,
        hits,
        cpu,
        _dns_cpu,
        _cpu_per_name,
        conflicts,
        findings,
    ] = row[..]
    else {
        panic!("unexpected row in {text}");
    };
    assert_eq!(names, 200.0);
    assert!(wall > 0.0 && rate > 0.0, "{text}");
    assert!((rate - names / wall).abs() / rate < 0.05, "{text}");
    // Every distinct query name costs a query, parents are shared: between one and two per
    // name, and the server saw at least what the checker sent.
    assert!(queries >= checker_queries && checker_queries > 0.0, "{text}");
    assert!((1.0..2.0).contains(&per_name), "{text}");
    assert!(hits > 0.0 && hits < 100.0, "{text}");
    assert!(cpu > 0.0, "{text}");
    // One domain in five allows only letsencrypt.org, and the CDN aliases do too.
    assert!(conflicts >= 40.0 && findings > 0.0, "{text}");
    assert!(text.contains("medians:") && text.contains("names/s"), "{text}");
}

#[test]
fn bench_api_reports_size_and_latency_and_reuses_the_database() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().to_str().unwrap();
    let args = ["bench", "api", "--certificates", "2000", "--requests", "3", "--dir", d];
    let text = stdout_of(&ctwatch(&args));
    assert!(text.contains("size: raw DER") && text.contains("ROUTE"), "{text}");
    let figures: Value = serde_json::from_slice(&std::fs::read(dir.path().join("figures-api.json")).unwrap()).unwrap();
    assert_eq!(figures["corpus"]["certificates"], 2000);
    assert_eq!(figures["corpus"]["entries"], 4000);
    let der = figures["corpus"]["der_bytes"].as_f64().unwrap();
    let db = figures["db_bytes"].as_f64().unwrap() + figures["wal_bytes"].as_f64().unwrap();
    // Real certificates are hundreds of bytes each; the database holds at least the DER.
    assert!(der > 2000.0 * 300.0, "{figures}");
    assert!(db > der, "{figures}");
    assert!((figures["ratio"].as_f64().unwrap() - db / der).abs() < 1e-9, "{figures}");
    assert!(figures["corpus"]["findings"].as_u64().unwrap() > 10, "{figures}");
    let routes = figures["routes"].as_array().unwrap();
    assert!(routes.len() >= 10, "{figures}");
    for r in routes {
        assert_eq!(r["requests"], 3, "{r}");
        let (p50, max) = (r["p50_ms"].as_f64().unwrap(), r["max_ms"].as_f64().unwrap());
        assert!(p50 > 0.0 && max >= p50, "{r}");
        assert!(r["mean_bytes"].as_f64().unwrap() > 0.0, "{r}");
    }

    // Same size: the database is reused, not regenerated.
    let again = ctwatch(&args);
    stdout_of(&again);
    assert!(String::from_utf8_lossy(&again.stderr).contains("reusing"), "{}", String::from_utf8_lossy(&again.stderr));
}
