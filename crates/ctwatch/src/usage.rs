//! Resource usage of a process, read from /proc (Linux), for benchmarks.

use std::time::Duration;

/// CPU time and peak resident memory of one process.
#[derive(Debug, Clone, Copy, Default, PartialEq, serde::Serialize)]
pub struct Usage {
    pub cpu_user_secs: f64,
    pub cpu_system_secs: f64,
    /// Peak resident set size (VmHWM), KiB.
    pub peak_rss_kib: u64,
}

impl Usage {
    pub fn cpu_secs(&self) -> f64 {
        self.cpu_user_secs + self.cpu_system_secs
    }
}

/// Usage of process `pid` ("self" for this one), or None when /proc is unavailable.
pub fn read(pid: &str) -> Option<Usage> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // Fields after the parenthesised command name; utime and stime are fields 14 and 15.
    let rest = &stat[stat.rfind(')')? + 2..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let ticks = clock_ticks();
    let utime: f64 = fields.get(11)?.parse().ok()?;
    let stime: f64 = fields.get(12)?.parse().ok()?;
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let peak = status
        .lines()
        .find(|l| l.starts_with("VmHWM:"))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    Some(Usage { cpu_user_secs: utime / ticks, cpu_system_secs: stime / ticks, peak_rss_kib: peak })
}

/// Clock ticks per second; 100 on every Linux this runs on (USER_HZ), overridable for odd
/// kernels through CTWATCH_CLK_TCK.
fn clock_ticks() -> f64 {
    std::env::var("CTWATCH_CLK_TCK").ok().and_then(|v| v.parse().ok()).unwrap_or(100.0)
}

/// Write this process's usage and `wall` as one JSON line to the file named by
/// `CTWATCH_USAGE_FILE`, if set (used by `ctwatch bench`).
pub fn report_self(wall: Duration) {
    let Ok(path) = std::env::var("CTWATCH_USAGE_FILE") else { return };
    if let Some(u) = read("self") {
        let line = serde_json::json!({ "wall_secs": wall.as_secs_f64(), "usage": u });
        let _ = std::fs::write(path, line.to_string());
    }
}
