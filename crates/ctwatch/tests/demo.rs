//! README's main command: `ctwatch demo` serves the incident scenario, monitors it with the
//! metrics and API served, and after the scenario `/metrics` carries every metric family an
//! operator alerts on, with the values the scenario implies; then SIGTERM stops it with 0.

use std::io::{BufRead as _, BufReader};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// The value of the first sample of `family` whose labels contain every `label=value` pair of
/// `labels` (exposition text format).
fn sample(metrics: &str, family: &str, labels: &[(&str, &str)]) -> Option<f64> {
    metrics.lines().filter(|l| !l.starts_with('#')).find_map(|line| {
        let (name_labels, value) = line.rsplit_once(' ')?;
        let (name, label_text) = match name_labels.split_once('{') {
            Some((n, rest)) => (n, rest.trim_end_matches('}')),
            None => (name_labels, ""),
        };
        if name != family {
            return None;
        }
        let matches = labels.iter().all(|(k, v)| label_text.contains(&format!("{k}=\"{v}\"")));
        if matches { value.parse().ok() } else { None }
    })
}

/// The sum of every sample of `family` matching `labels`.
fn total(metrics: &str, family: &str, labels: &[(&str, &str)]) -> f64 {
    metrics
        .lines()
        .filter(|l| l.starts_with(family) && l[family.len()..].starts_with(['{', ' ']))
        .filter(|l| labels.iter().all(|(k, v)| l.contains(&format!("{k}=\"{v}\""))))
        .filter_map(|l| l.rsplit_once(' ').and_then(|(_, v)| v.parse::<f64>().ok()))
        .sum()
}

#[test]
fn the_demo_serves_metrics_and_the_api_with_sane_values_after_the_scenario() {
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let mut child = Command::new(env!("CARGO_BIN_EXE_ctwatch"))
        .args(["demo", "--listen", &format!("127.0.0.1:{port}"), "--dir"])
        .arg(dir.path())
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let pid = child.id();
    // Drain stderr in the background so the child never blocks on a full pipe.
    let stderr = child.stderr.take().unwrap();
    let stderr_text = std::thread::spawn(move || {
        let mut text = String::new();
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            text.push_str(&line);
            text.push('\n');
        }
        text
    });
    let mut stdout_text = String::new();
    let mut caught_up = false;
    for line in BufReader::new(child.stdout.take().unwrap()).lines().map_while(Result::ok) {
        stdout_text.push_str(&line);
        stdout_text.push('\n');
        if line == "ctwatch demo: scenario processed" {
            caught_up = true;
            break;
        }
    }
    if !caught_up {
        let _ = child.kill();
        let _ = child.wait();
        panic!("demo ended before processing the scenario:\n{stdout_text}\n{}", stderr_text.join().unwrap());
    }
    assert!(stdout_text.contains("caa_conflict"), "{stdout_text}");

    let rt = tokio::runtime::Runtime::new().unwrap();
    let base = format!("http://127.0.0.1:{port}");
    let (metrics, findings, readyz) = rt.block_on(async {
        let client = reqwest::Client::new();
        let get = |path: &str| {
            let client = client.clone();
            let url = format!("{base}{path}");
            async move { client.get(url).send().await.unwrap() }
        };
        let metrics = get("/metrics").await.text().await.unwrap();
        let findings: serde_json::Value = get("/api/v1/findings?limit=500").await.json().await.unwrap();
        let readyz = get("/readyz").await.status().as_u16();
        (metrics, findings, readyz)
    });
    assert_eq!(readyz, 200);

    // Per log: tree size = cursor = verified size, no lag, requests made, entries processed.
    for log in ["ctwatch test log demo-rfc6962", "ctwatch test log demo-tiled"] {
        let l = [("log", log)];
        let size = sample(&metrics, "ctwatch_log_tree_size", &l).unwrap_or_else(|| panic!("{log}: {metrics}"));
        assert!(size > 1_900.0, "{log} tree size {size}");
        assert_eq!(sample(&metrics, "ctwatch_log_cursor", &l), Some(size), "{log}");
        assert_eq!(sample(&metrics, "ctwatch_log_verified_size", &l), Some(size), "{log}");
        assert_eq!(sample(&metrics, "ctwatch_log_lag_entries", &l), Some(0.0), "{log}");
        assert!(sample(&metrics, "ctwatch_log_sth_age_seconds", &l).is_some_and(|a| (0.0..600.0).contains(&a)));
        assert!(total(&metrics, "ctwatch_log_requests_total", &l) > 0.0, "{log}");
        assert_eq!(total(&metrics, "ctwatch_log_entries_processed_total", &l), size, "{log}");
        assert_eq!(total(&metrics, "ctwatch_log_malformed_entries_total", &l), 0.0, "{log}");
        assert_eq!(total(&metrics, "ctwatch_log_verification_failures_total", &l), 0.0, "{log}");
    }
    // Per issuer: the four CAs' distinct certificates, HiPKI's surge ratio well above 1.
    assert_eq!(total(&metrics, "ctwatch_certificates_issued_total", &[]), 1_111.0, "{metrics}");
    assert_eq!(total(&metrics, "ctwatch_certificates_issued_total", &[("ca", "HiPKI")]), 850.0);
    assert!(sample(&metrics, "ctwatch_issuer_surge_ratio", &[("ca", "HiPKI")]).is_some());
    // Findings by kind and severity, matching the API.
    let items = findings["findings"].as_array().or_else(|| findings.as_array()).unwrap();
    for kind in ["issuance_surge", "caa_conflict", "compromised_key_reuse", "lint_violation", "revocation_overdue"] {
        let from_api = items.iter().filter(|f| f["kind"] == kind).count() as f64;
        assert!(from_api > 0.0, "{kind}: {findings}");
        assert_eq!(total(&metrics, "ctwatch_findings", &[("kind", kind)]), from_api, "{kind}");
    }
    assert_eq!(total(&metrics, "ctwatch_findings", &[("kind", "caa_conflict")]), 4.0);
    // CAA lookups by verdict with DNS latency; CRL fetches; revocation verdicts per CA.
    assert!(total(&metrics, "ctwatch_caa_lookups_total", &[("verdict", "conflict")]) > 0.0, "{metrics}");
    assert!(total(&metrics, "ctwatch_caa_lookups_total", &[("verdict", "permitted")]) > 0.0, "{metrics}");
    assert!(total(&metrics, "ctwatch_dns_lookup_seconds_count", &[]) > 0.0, "{metrics}");
    assert!(total(&metrics, "ctwatch_crl_fetches_total", &[]) >= 4.0, "{metrics}");
    assert_eq!(total(&metrics, "ctwatch_revocation_verdicts", &[("ca", "CFCA"), ("verdict", "late")]), 40.0);
    assert_eq!(sample(&metrics, "ctwatch_build_info", &[]), Some(1.0));
    assert!(sample(&metrics, "process_resident_memory_bytes", &[]).is_some_and(|v| v > 1e6), "{metrics}");

    // SIGTERM: drains and exits 0.
    let status = Command::new("kill").args(["-TERM", &pid.to_string()]).status().unwrap();
    assert!(status.success());
    let started = Instant::now();
    let exit = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break s;
        }
        if started.elapsed() > Duration::from_secs(60) {
            let _ = child.kill();
            panic!("demo did not stop within 60 s of SIGTERM");
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    let stderr = stderr_text.join().unwrap();
    assert!(exit.success(), "{exit:?}\n{stderr}");
}
