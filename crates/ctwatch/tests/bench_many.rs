//! `ctwatch bench many-logs`, run tiny: every injected event is seen stored and alerted, with
//! positive latencies, and the monitor's CPU and memory figures are plausible.

use std::process::Command;

#[test]
fn bench_many_logs_reports_every_event_with_sane_figures() {
    let dir = tempfile::tempdir().unwrap();
    let output = Command::new(env!("CARGO_BIN_EXE_ctwatch"))
        .args(["bench", "many-logs", "--logs", "3", "--rate", "20", "--seconds", "5", "--events", "5", "--runs", "1"])
        .args(["--backlog-secs", "2", "--warmup-secs", "1", "--dir"])
        .arg(dir.path())
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(output.status.success(), "{stdout}\n{}", String::from_utf8_lossy(&output.stderr));
    assert!(stdout.contains("medians of 1 runs"), "{stdout}");
    let figures: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.path().join("figures.json")).unwrap()).unwrap();
    let run = &figures[0];
    assert_eq!(run["events"], 5, "{run}");
    assert_eq!(run["events_alerted"], 5, "{run}");
    assert_eq!(run["events_stored"], 5, "{run}");
    assert_eq!(run["stored_lint_findings"], 5, "{run}");
    assert_eq!(run["metric_lint_findings"], 5, "{run}");
    for latency in run["latencies_ms"].as_array().unwrap() {
        let ms = latency.as_i64().unwrap_or_else(|| panic!("an event never completed: {run}"));
        // After its tree head was published, and well within the sink worker's 15 s retry tick.
        assert!(ms > 0 && ms < 10_000, "{run}");
    }
    let f = |k: &str| run[k].as_f64().unwrap();
    assert!(f("cpu_percent") > 0.0 && f("cpu_percent") < 200.0, "{run}");
    assert!(f("rss_max_mib") > 1.0 && f("rss_max_mib") <= f("rss_peak_mib"), "{run}");
    assert!(f("growth_entries_per_sec") > 0.0, "{run}");
    assert!(f("latency_p50_ms") <= f("latency_p99_ms") && f("latency_p99_ms") <= f("latency_max_ms"), "{run}");
}
