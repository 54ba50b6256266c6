//! `ctwatch report FINDING_ID`: the incident-report appendix a CA publishes — summary,
//! timeline, counts and the affected-certificate CSV — as Markdown.

use anyhow::{Context as _, bail};
use ctwatch_api::export::{rfc3339, rfc3339_ms, write_certificates_csv};
use ctwatch_monitor::config::StoreLocation;
use std::io::Write;

/// Write the report of finding `id` from the store at `location` to `out`.
pub fn report(location: &StoreLocation, id: i64, out: &mut impl Write) -> anyhow::Result<()> {
    if let Some(path) = location.sqlite_path()
        && !path.exists()
    {
        bail!("store {} does not exist", path.display());
    }
    let store = location.open_read_only().with_context(|| format!("opening {location}"))?;
    let Some((finding, _)) = store.finding(id)? else { bail!("no finding with id {id}") };
    let certs = store.finding_certificates(id)?;
    let mut precert_entries = 0usize;
    let mut final_entries = 0usize;
    let mut first_entry: Option<u64> = None;
    let mut last_entry: Option<u64> = None;
    for c in &certs {
        for e in store.entries_for_certificate(c.id)? {
            if e.is_precert {
                precert_entries += 1;
            } else {
                final_entries += 1;
            }
            first_entry = Some(first_entry.map_or(e.timestamp_ms, |f| f.min(e.timestamp_ms)));
            last_entry = Some(last_entry.map_or(e.timestamp_ms, |l| l.max(e.timestamp_ms)));
        }
    }
    let first_nb = certs.iter().map(|c| c.facts.not_before).min();
    let last_nb = certs.iter().map(|c| c.facts.not_before).max();
    writeln!(out, "# ctwatch finding {id}: {}", finding.kind)?;
    writeln!(out)?;
    writeln!(out, "## Summary")?;
    writeln!(out)?;
    writeln!(out, "- Kind: `{}` (severity {:?}, status {:?})", finding.kind, finding.severity, finding.status)?;
    writeln!(out, "- CA: {}", finding.ca.as_deref().unwrap_or("-"))?;
    writeln!(out, "- Issuer SPKI SHA-256: {}", finding.issuer.as_deref().unwrap_or("-"))?;
    writeln!(out, "- Finding key: `{}`", finding.key)?;
    writeln!(
        out,
        "- First seen by ctwatch: {}; last seen: {}",
        rfc3339(finding.first_seen),
        rfc3339(finding.last_seen)
    )?;
    writeln!(out)?;
    writeln!(out, "## Timeline")?;
    writeln!(out)?;
    if let (Some(a), Some(b)) = (first_nb, last_nb) {
        writeln!(out, "- notBefore of the affected certificates: {} to {}", rfc3339(a), rfc3339(b))?;
    }
    if let (Some(a), Some(b)) = (first_entry, last_entry) {
        writeln!(out, "- Logged (CT entry timestamps): {} to {}", rfc3339_ms(a), rfc3339_ms(b))?;
    }
    writeln!(out, "- Detected: {}", rfc3339(finding.first_seen))?;
    writeln!(out)?;
    writeln!(out, "## Counts")?;
    writeln!(out)?;
    writeln!(out, "- Distinct certificates: {} (a precertificate and its final certificate count once)", certs.len())?;
    writeln!(out, "- Log entries: {precert_entries} precertificate, {final_entries} final certificate")?;
    writeln!(out)?;
    writeln!(out, "## Evidence")?;
    writeln!(out)?;
    writeln!(out, "```json\n{}\n```", serde_json::to_string_pretty(&finding.evidence)?)?;
    writeln!(out)?;
    writeln!(out, "## Affected certificates")?;
    writeln!(out)?;
    writeln!(out, "```csv")?;
    write_certificates_csv(&*store, id, out)?;
    writeln!(out, "```")?;
    Ok(())
}
