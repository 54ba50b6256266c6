//! `ctwatch findings`: list, show, export, acknowledge and resolve findings.
//!
//! Readers (`list`, `show`, `export`) open the store read-only, so they run beside the daemon;
//! `ack` and `resolve` open it read-write and wait for the daemon's short transactions. Times are
//! printed as RFC 3339 in UTC. The CSV export is the affected-certificate list a CA attaches to
//! its incident report: one row per distinct certificate (a precertificate and its final
//! certificate are one row), with every log entry that carried it.

use crate::cli::EX_USAGE;
use anyhow::Context as _;
use clap::{Subcommand, ValueEnum};
use ctwatch_monitor::config::Settings;
use ctwatch_monitor::config::StoreLocation;
use ctwatch_store::{Finding, FindingFilter, FindingStatus, Severity, Store, StoreError};
use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

/// `ctwatch findings` subcommands.
#[derive(Debug, Subcommand)]
pub enum FindingsCommand {
    /// List findings, newest first.
    List {
        #[arg(long)]
        config: PathBuf,
        /// Only findings of this kind (e.g. caa_conflict, issuance_surge).
        #[arg(long)]
        kind: Option<String>,
        /// Only findings about this CA (its configured name).
        #[arg(long)]
        ca: Option<String>,
        /// Only findings last seen at or after this time: RFC 3339, Unix seconds, or an age such
        /// as 90m, 24h or 7d.
        // Hyphen values reach the parser, so `--since -3d` is refused with EX_USAGE like any
        // other bad value instead of being read as a flag.
        #[arg(long, allow_hyphen_values = true)]
        since: Option<String>,
        /// At most this many findings.
        #[arg(long)]
        limit: Option<usize>,
        #[arg(long, value_enum, default_value_t = ListFormat::Table)]
        format: ListFormat,
    },
    /// Print one finding and its certificates as JSON.
    Show {
        #[arg(long)]
        config: PathBuf,
        id: i64,
    },
    /// Export a finding's affected certificates (for an incident report).
    Export {
        #[arg(long)]
        config: PathBuf,
        id: i64,
        #[arg(long, value_enum, default_value_t = ExportFormat::Csv)]
        format: ExportFormat,
    },
    /// Mark a finding acknowledged.
    Ack {
        #[arg(long)]
        config: PathBuf,
        id: i64,
    },
    /// Mark a finding resolved.
    Resolve {
        #[arg(long)]
        config: PathBuf,
        id: i64,
    },
}

/// Output format of `findings list`.
#[derive(Debug, Clone, Copy, ValueEnum, PartialEq, Eq)]
pub enum ListFormat {
    Table,
    Jsonl,
}

/// Output format of `findings export`.
#[derive(Debug, Clone, Copy, ValueEnum, PartialEq, Eq)]
pub enum ExportFormat {
    Csv,
}

/// Run a `findings` subcommand. Configuration and `--since` errors exit with `EX_USAGE`; an
/// unknown finding id or a store error is an error (exit 1).
pub fn run(command: FindingsCommand) -> anyhow::Result<ExitCode> {
    let config = match &command {
        FindingsCommand::List { config, .. }
        | FindingsCommand::Show { config, .. }
        | FindingsCommand::Export { config, .. }
        | FindingsCommand::Ack { config, .. }
        | FindingsCommand::Resolve { config, .. } => config,
    };
    let settings = match Settings::load(config) {
        Ok(settings) => settings,
        Err(e) => {
            eprintln!("ctwatch: {e}");
            return Ok(ExitCode::from(EX_USAGE));
        }
    };
    let out = &mut std::io::stdout().lock();
    let written = match command {
        FindingsCommand::List { kind, ca, since, limit, format, .. } => {
            let since = match since.as_deref().map(|s| parse_since(s, OffsetDateTime::now_utc())).transpose() {
                Ok(since) => since,
                Err(e) => {
                    eprintln!("ctwatch: {e}");
                    return Ok(ExitCode::from(EX_USAGE));
                }
            };
            let store = open_reader(&settings.store)?;
            let filter = FindingFilter { kind, ca, since, limit, offset: None };
            list(&*store, &filter, format, out)
        }
        FindingsCommand::Show { id, .. } => show(&*open_reader(&settings.store)?, id, out),
        FindingsCommand::Export { id, format: ExportFormat::Csv, .. } => {
            export_csv(&*open_reader(&settings.store)?, id, out)
        }
        FindingsCommand::Ack { id, .. } => set_status(&settings.store, id, FindingStatus::Acknowledged, out),
        FindingsCommand::Resolve { id, .. } => set_status(&settings.store, id, FindingStatus::Resolved, out),
    };
    match written {
        Ok(()) => Ok(ExitCode::SUCCESS),
        // The reader went away (`ctwatch findings list | head`): not an error.
        Err(e) if e.downcast_ref::<std::io::Error>().is_some_and(|e| e.kind() == std::io::ErrorKind::BrokenPipe) => {
            Ok(ExitCode::SUCCESS)
        }
        Err(e) => Err(e),
    }
}

fn open_reader(location: &StoreLocation) -> anyhow::Result<Box<dyn Store>> {
    location.open_read_only().with_context(|| format!("opening store {location}"))
}

/// Why a `--since` value was refused.
#[derive(Debug, PartialEq, Eq)]
pub struct SinceError {
    value: String,
}

impl std::fmt::Display for SinceError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "invalid --since {:?}: expected an RFC 3339 time (2025-02-01T00:00:00Z), Unix seconds, or an \
             age such as 90m, 24h or 7d",
            self.value
        )
    }
}

impl std::error::Error for SinceError {}

/// Parse a `--since` value into Unix seconds: an RFC 3339 time, Unix seconds, or an age
/// (`<n>s`, `<n>m`, `<n>h`, `<n>d` or `<n>w`) counted back from `now`.
pub fn parse_since(value: &str, now: OffsetDateTime) -> Result<i64, SinceError> {
    let error = || SinceError { value: value.to_string() };
    let text = value.trim();
    if text.is_empty() {
        return Err(error());
    }
    if text.bytes().all(|b| b.is_ascii_digit()) {
        return text.parse().map_err(|_| error());
    }
    if let Ok(time) = OffsetDateTime::parse(text, &Rfc3339) {
        return Ok(time.unix_timestamp());
    }
    let (number, unit) = text.split_at(text.len() - text.chars().last().map_or(0, char::len_utf8));
    let unit_secs: i64 = match unit {
        "s" => 1,
        "m" => 60,
        "h" => 3_600,
        "d" => 86_400,
        "w" => 7 * 86_400,
        _ => return Err(error()),
    };
    if number.is_empty() || !number.bytes().all(|b| b.is_ascii_digit()) {
        return Err(error());
    }
    let count: i64 = number.parse().map_err(|_| error())?;
    count.checked_mul(unit_secs).and_then(|age| now.unix_timestamp().checked_sub(age)).ok_or_else(error)
}

/// Unix seconds as RFC 3339 UTC (`2025-02-01T00:00:00Z`); out-of-range values are printed as
/// the number, so a corrupt row never stops a listing.
pub fn rfc3339(unix_secs: i64) -> String {
    OffsetDateTime::from_unix_timestamp(unix_secs)
        .ok()
        .and_then(|t| t.format(&Rfc3339).ok())
        .unwrap_or_else(|| unix_secs.to_string())
}

fn severity_name(severity: Severity) -> &'static str {
    match severity {
        Severity::Info => "info",
        Severity::Warning => "warning",
        Severity::Error => "error",
        Severity::Critical => "critical",
    }
}

fn status_name(status: FindingStatus) -> &'static str {
    match status {
        FindingStatus::Open => "open",
        FindingStatus::Acknowledged => "acknowledged",
        FindingStatus::Resolved => "resolved",
    }
}

/// A finding as JSON, with RFC 3339 times.
fn list(store: &dyn Store, filter: &FindingFilter, format: ListFormat, out: &mut impl Write) -> anyhow::Result<()> {
    let findings = store.findings(filter)?;
    match format {
        ListFormat::Jsonl => {
            for f in &findings {
                writeln!(out, "{}", ctwatch_api::export::finding_json(f))?;
            }
        }
        ListFormat::Table => {
            writeln!(
                out,
                "{:>6}  {:<24} {:<8} {:<24} {:>7}  {:<20}  STATUS",
                "ID", "KIND", "SEVERITY", "CA", "CERTS", "FIRST SEEN"
            )?;
            for f in &findings {
                writeln!(
                    out,
                    "{:>6}  {:<24} {:<8} {:<24} {:>7}  {:<20}  {}",
                    f.id,
                    truncate(&f.kind, 24),
                    severity_name(f.severity),
                    truncate(f.ca.as_deref().unwrap_or("-"), 24),
                    f.certificate_count,
                    rfc3339(f.first_seen),
                    status_name(f.status)
                )?;
            }
        }
    }
    out.flush()?;
    Ok(())
}

fn truncate(s: &str, n: usize) -> String {
    if s.chars().count() <= n { s.to_string() } else { s.chars().take(n - 1).collect::<String>() + "…" }
}

/// The finding with `id`, or a clear error.
fn find(store: &dyn Store, id: i64) -> anyhow::Result<Finding> {
    match store.finding(id)? {
        Some((finding, _)) => Ok(finding),
        None => anyhow::bail!("no finding with id {id} in the store"),
    }
}

/// The finding with its certificates and their log entries: the same document as the API's
/// `/api/v1/findings/{id}`.
fn show(store: &dyn Store, id: i64, out: &mut impl Write) -> anyhow::Result<()> {
    find(store, id)?;
    let document = ctwatch_api::export::finding_detail(store, id)?;
    writeln!(out, "{}", serde_json::to_string_pretty(&document)?)?;
    out.flush()?;
    Ok(())
}

/// The affected-certificate CSV: the same writer as the API's `certificates.csv`.
fn export_csv(store: &dyn Store, id: i64, out: &mut impl Write) -> anyhow::Result<()> {
    find(store, id)?;
    ctwatch_api::export::write_certificates_csv(store, id, out)?;
    Ok(())
}

fn set_status(location: &StoreLocation, id: i64, status: FindingStatus, out: &mut impl Write) -> anyhow::Result<()> {
    // Opening a SQLite store creates a missing database; a typo in the store path must not.
    if let Some(path) = location.sqlite_path()
        && !path.exists()
    {
        anyhow::bail!("store {} does not exist", path.display());
    }
    let mut store = location.open().with_context(|| format!("opening store {location}"))?;
    match store.set_finding_status(id, status) {
        Ok(()) => {}
        Err(StoreError::NotFound(_)) => anyhow::bail!("no finding with id {id} in store {location}"),
        Err(e) => return Err(e.into()),
    }
    writeln!(out, "finding {id}: {}", status_name(status))?;
    out.flush()?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    const NOW: OffsetDateTime = datetime!(2025-02-10 12:00:00 UTC);

    #[test]
    fn since_accepts_rfc3339_unix_seconds_and_ages() {
        assert_eq!(parse_since("2025-02-01T00:00:00Z", NOW), Ok(1_738_368_000));
        assert_eq!(parse_since("2025-02-01T08:00:00+08:00", NOW), Ok(1_738_368_000));
        assert_eq!(parse_since("1738368000", NOW), Ok(1_738_368_000));
        let now = NOW.unix_timestamp();
        assert_eq!(parse_since("90m", NOW), Ok(now - 90 * 60));
        assert_eq!(parse_since("24h", NOW), Ok(now - 86_400));
        assert_eq!(parse_since("7d", NOW), Ok(now - 7 * 86_400));
        assert_eq!(parse_since("2w", NOW), Ok(now - 14 * 86_400));
        assert_eq!(parse_since("30s", NOW), Ok(now - 30));
    }

    #[test]
    fn since_refuses_everything_else() {
        for bad in ["", " ", "yesterday", "d", "7x", "-7d", "7 d", "1.5h", "2025-02-01", "99999999999999999999d", "7é"]
        {
            assert!(parse_since(bad, NOW).is_err(), "{bad:?} was accepted");
        }
        assert!(parse_since("9223372036854775807d", NOW).is_err());
    }

    #[test]
    fn times_are_rfc3339_utc() {
        assert_eq!(rfc3339(1_738_368_000), "2025-02-01T00:00:00Z");
        assert_eq!(rfc3339(i64::MAX), i64::MAX.to_string());
        assert_eq!(ctwatch_api::export::rfc3339_ms(1_738_368_000_123), "2025-02-01T00:00:00.123Z");
    }

    #[test]
    fn serials_drop_only_the_der_sign_padding() {
        assert_eq!(ctwatch_api::export::serial_hex(&[0x00, 0x80, 0x01]), "8001");
        assert_eq!(ctwatch_api::export::serial_hex(&[0x00, 0x7f]), "007f");
        assert_eq!(ctwatch_api::export::serial_hex(&[0x03, 0xd9]), "03d9");
        assert_eq!(ctwatch_api::export::serial_hex(&[0x00]), "00");
        assert_eq!(ctwatch_api::export::serial_hex(&[]), "");
    }
}
