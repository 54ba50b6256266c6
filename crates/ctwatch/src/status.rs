//! `ctwatch status`.

use crate::cli::OutputFormat;
use anyhow::Context as _;
use ctwatch_monitor::config::StoreLocation;

/// Print per-log tree size, cursor and lag.
pub fn print_status(store: &StoreLocation, format: OutputFormat) -> anyhow::Result<()> {
    let store = store.open_read_only().with_context(|| format!("opening store {store}"))?;
    let rows = store.log_status()?;
    match format {
        OutputFormat::Json => {
            for r in rows {
                println!("{}", serde_json::to_string(&r)?);
            }
        }
        OutputFormat::Table => {
            println!(
                "{:<32} {:>12} {:>12} {:>12} {:>10} {:>10}",
                "LOG", "TREE SIZE", "VERIFIED", "CURSOR", "LAG", "MALFORMED"
            );
            for r in rows {
                let size = r.seen_tree_size.unwrap_or(0);
                println!(
                    "{:<32} {:>12} {:>12} {:>12} {:>10} {:>10}",
                    truncate(&r.name, 32),
                    size,
                    r.verified_tree_size.map_or("-".to_string(), |v| v.to_string()),
                    r.cursor,
                    size.saturating_sub(r.cursor),
                    r.malformed_entries
                );
            }
        }
    }
    Ok(())
}

fn truncate(s: &str, n: usize) -> String {
    if s.chars().count() <= n { s.to_string() } else { s.chars().take(n - 1).collect::<String>() + "…" }
}
