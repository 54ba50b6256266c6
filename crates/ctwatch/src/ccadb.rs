//! `ctwatch ccadb`: build the CA-owner map from CCADB reports, and list issuers seen in CT that
//! the map does not know.

use crate::cli::{EX_USAGE, OutputFormat};
use anyhow::Context as _;
use clap::Subcommand;
use ctwatch_ccadb::{MapBuilder, OwnerMap};
use ctwatch_monitor::config::Settings;
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

/// Rejected rows listed per file before the rest are only counted.
const SHOWN_ROW_ERRORS: usize = 10;

#[derive(Debug, Subcommand)]
pub enum CcadbCommand {
    /// Build the CA-owner map from CCADB reports (AllCertificateRecordsCSVFormatV5,
    /// IncludedCACertificateReport, AllCertificatePEMsCSVFormat, ski_spkisha256.csv, CAA
    /// identifiers; recognised by their headers) and write it for `[ccadb] map`.
    Import {
        #[arg(required = true)]
        files: Vec<PathBuf>,
        /// Where to write the map (JSON).
        #[arg(long, default_value = "ccadb-map.json")]
        out: PathBuf,
    },
    /// Issuers with issuance counted in the store (all-issuers mode) that the map does not know.
    Unknown {
        #[arg(long)]
        config: PathBuf,
        /// The map to compare with (default: the config's `[ccadb] map`).
        #[arg(long)]
        map: Option<PathBuf>,
        /// How many hours back to look.
        #[arg(long, default_value_t = 24 * 30)]
        hours: i64,
        #[arg(long, value_enum, default_value_t = OutputFormat::Table)]
        format: OutputFormat,
    },
}

/// Run a `ctwatch ccadb` command.
pub fn run(command: CcadbCommand) -> anyhow::Result<ExitCode> {
    match command {
        CcadbCommand::Import { files, out } => import(&files, &out),
        CcadbCommand::Unknown { config, map, hours, format } => unknown(&config, map.as_deref(), hours, format),
    }
}

fn import(files: &[PathBuf], out: &Path) -> anyhow::Result<ExitCode> {
    let mut builder = MapBuilder::default();
    let mut rejected_rows = 0usize;
    for file in files {
        let f = std::fs::File::open(file).with_context(|| format!("opening {}", file.display()))?;
        let report = ctwatch_ccadb::read_report(std::io::BufReader::new(f))
            .with_context(|| format!("reading {}", file.display()))?;
        let (rows, errors) = report.counts();
        println!("{}: {} ({rows} rows, {errors} rejected)", file.display(), report.kind());
        for e in report.errors().iter().take(SHOWN_ROW_ERRORS) {
            println!("  {}:{}: {}", file.display(), e.line, e.reason);
        }
        if errors > SHOWN_ROW_ERRORS {
            println!("  ... and {} more rejected rows", errors - SHOWN_ROW_ERRORS);
        }
        rejected_rows += errors;
        builder.add(report);
    }
    let (map, summary) = builder.build();
    std::fs::write(out, map.to_json()).with_context(|| format!("writing {}", out.display()))?;
    println!("wrote {}", out.display());
    println!("certificate records: {}", summary.certificate_records);
    println!("PEM certificates:    {}", summary.pem_certificates);
    println!("owners:              {}", summary.owners);
    println!("issuers:             {}", summary.issuers);
    println!("TLS-capable issuers: {}", summary.tls_capable_issuers);
    println!("owner from chain:    {}", summary.chain_derived_issuers);
    println!("rejected rows:       {rejected_rows}");
    for (reason, count) in &summary.skipped {
        println!("skipped {count}: {reason}");
    }
    Ok(ExitCode::SUCCESS)
}

/// One issuer missing from the map, with its issuance in the window.
#[derive(Debug, serde::Serialize)]
struct UnknownIssuer {
    issuer_spki_sha256: String,
    certificates: u64,
    first_hour: i64,
    last_hour: i64,
}

fn unknown(config: &Path, map: Option<&Path>, hours: i64, format: OutputFormat) -> anyhow::Result<ExitCode> {
    let settings = match Settings::load(config) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("ctwatch: {e}");
            return Ok(ExitCode::from(EX_USAGE));
        }
    };
    let Some(map_path) = map.map(Path::to_path_buf).or(settings.ccadb_map.clone()) else {
        eprintln!("ctwatch: no map: pass --map or set `[ccadb] map` in {}", config.display());
        return Ok(ExitCode::from(EX_USAGE));
    };
    let f = std::fs::File::open(&map_path).with_context(|| format!("opening {}", map_path.display()))?;
    let owner_map =
        OwnerMap::from_json(std::io::BufReader::new(f)).with_context(|| format!("reading {}", map_path.display()))?;
    let store = settings.store.open_read_only().with_context(|| format!("opening store {}", settings.store))?;
    let now_hour = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| (d.as_secs() / 3600) as i64)
        .unwrap_or(0);
    let counts = store.issuance_counts(None, now_hour.saturating_sub(hours.max(0)), now_hour + 1)?;
    let mut by_issuer: HashMap<[u8; 32], UnknownIssuer> = HashMap::new();
    let mut known_certs = 0u64;
    for c in counts {
        if owner_map.issuer(&c.issuer_spki_sha256).is_some() {
            known_certs += c.count;
            continue;
        }
        let entry = by_issuer.entry(c.issuer_spki_sha256).or_insert_with(|| UnknownIssuer {
            issuer_spki_sha256: hex::encode(c.issuer_spki_sha256),
            certificates: 0,
            first_hour: c.hour,
            last_hour: c.hour,
        });
        entry.certificates += c.count;
        entry.first_hour = entry.first_hour.min(c.hour);
        entry.last_hour = entry.last_hour.max(c.hour);
    }
    let mut rows: Vec<UnknownIssuer> = by_issuer.into_values().collect();
    rows.sort_by(|a, b| b.certificates.cmp(&a.certificates).then(a.issuer_spki_sha256.cmp(&b.issuer_spki_sha256)));
    match format {
        OutputFormat::Json => {
            for r in &rows {
                println!("{}", serde_json::to_string(r)?);
            }
        }
        OutputFormat::Table => {
            println!("{:<64}  {:>12}  {:<13}  {:<13}", "issuer SPKI SHA-256", "certificates", "first", "last");
            for r in &rows {
                println!(
                    "{:<64}  {:>12}  {:<13}  {:<13}",
                    r.issuer_spki_sha256,
                    r.certificates,
                    hour_label(r.first_hour),
                    hour_label(r.last_hour)
                );
            }
            let unknown_certs: u64 = rows.iter().map(|r| r.certificates).sum();
            println!(
                "{} unknown issuers ({unknown_certs} certificates); {known_certs} certificates from issuers in the map",
                rows.len()
            );
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// An hour since the epoch as `YYYY-MM-DDTHH`.
fn hour_label(hour: i64) -> String {
    let format = time::macros::format_description!("[year]-[month]-[day]T[hour]");
    time::OffsetDateTime::from_unix_timestamp(hour.saturating_mul(3600))
        .ok()
        .and_then(|t| t.format(format).ok())
        .unwrap_or_else(|| hour.to_string())
}
