//! `ctwatch status`.

use crate::cli::OutputFormat;
use anyhow::Context as _;
use ctwatch_monitor::config::StoreLocation;
use ctwatch_monitor::shard::{SINGLETON_LEASE, presence_id};
use ctwatch_store::LogLease;
use std::collections::HashMap;

/// Print per-log tree size, cursor and lag, and for sharded instances who holds what.
pub fn print_status(store: &StoreLocation, format: OutputFormat) -> anyhow::Result<()> {
    let store = store.open_read_only().with_context(|| format!("opening store {store}"))?;
    let rows = store.log_status()?;
    let leases = Leases::new(store.log_leases()?, ctwatch_monitor::follow::unix_now());
    match format {
        OutputFormat::Json => {
            for r in rows {
                let mut row = serde_json::to_value(&r)?;
                if let Some(object) = row.as_object_mut() {
                    let lease = leases.holder_of(&r.log_id);
                    object.insert("lease_holder".into(), lease.map(|l| l.instance.clone()).into());
                    object.insert("lease_expires_at".into(), lease.map(|l| l.expires_at).into());
                }
                println!("{row}");
            }
        }
        OutputFormat::Table => {
            let sharded = !leases.live.is_empty();
            print!(
                "{:<32} {:>12} {:>12} {:>12} {:>10} {:>10}",
                "LOG", "TREE SIZE", "VERIFIED", "CURSOR", "LAG", "MALFORMED"
            );
            println!("{}", if sharded { format!("  {:<24}", "HELD BY") } else { String::new() });
            for r in rows {
                let size = r.seen_tree_size.unwrap_or(0);
                print!(
                    "{:<32} {:>12} {:>12} {:>12} {:>10} {:>10}",
                    truncate(&r.name, 32),
                    size,
                    r.verified_tree_size.map_or("-".to_string(), |v| v.to_string()),
                    r.cursor,
                    size.saturating_sub(r.cursor),
                    r.malformed_entries
                );
                let holder = leases.holder_of(&r.log_id).map_or("-", |l| l.instance.as_str());
                println!("{}", if sharded { format!("  {:<24}", truncate(holder, 24)) } else { String::new() });
            }
            if sharded {
                println!();
                println!("instances alive: {}", leases.instances().join(", "));
                let singleton = leases.singleton().map_or("none", |l| l.instance.as_str());
                println!("singleton workers (CAA, CRLs, revocation, alerts, retention, surges): {singleton}");
            }
        }
    }
    Ok(())
}

/// The leases that have not lapsed, by kind.
struct Leases {
    live: Vec<LogLease>,
    by_log: HashMap<String, usize>,
}

impl Leases {
    fn new(all: Vec<LogLease>, now: i64) -> Leases {
        let live: Vec<LogLease> = all.into_iter().filter(|l| l.expires_at > now).collect();
        let by_log = live.iter().enumerate().map(|(i, l)| (hex::encode(l.log_id), i)).collect();
        Leases { live, by_log }
    }

    /// The live lease of a log, by its hex log ID.
    fn holder_of(&self, log_id_hex: &str) -> Option<&LogLease> {
        self.by_log.get(log_id_hex).and_then(|&i| self.live.get(i))
    }

    /// Instances whose presence lease is live, sorted.
    fn instances(&self) -> Vec<String> {
        let mut names: Vec<String> =
            self.live.iter().filter(|l| presence_id(&l.instance) == l.log_id).map(|l| l.instance.clone()).collect();
        names.sort();
        names
    }

    fn singleton(&self) -> Option<&LogLease> {
        self.live.iter().find(|l| l.log_id == SINGLETON_LEASE)
    }
}

fn truncate(s: &str, n: usize) -> String {
    if s.chars().count() <= n { s.to_string() } else { s.chars().take(n - 1).collect::<String>() + "…" }
}
