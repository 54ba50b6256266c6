//! Analyst tools that work outside the daemon: `ctwatch lint`, `ctwatch caa check`,
//! `ctwatch keys import`.

use anyhow::{Context as _, bail};
use ctwatch_monitor::config::Settings;
use std::path::{Path, PathBuf};

/// `ctwatch lint FILE…`: every certificate (PEM blocks anywhere in the file, or DER) through
/// every lint. Returns whether any certificate had an error-level failure.
pub fn lint_files(files: &[PathBuf], json: bool, all: bool) -> anyhow::Result<bool> {
    let mut any_error = false;
    for file in files {
        let bytes = std::fs::read(file).with_context(|| format!("reading {}", file.display()))?;
        let certs = ctwatch_monitor::pem::certificates_in(&bytes);
        if certs.is_empty() {
            bail!("{}: no certificate found (expected PEM blocks or DER)", file.display());
        }
        for (i, der) in certs.iter().enumerate() {
            let facts = match ctwatch_cert::facts::cert_facts(der) {
                Ok(f) => f,
                Err(e) => {
                    eprintln!("{} #{i}: not a certificate: {e}", file.display());
                    any_error = true;
                    continue;
                }
            };
            let input =
                ctwatch_lint::LintInput { der, facts: &facts, is_precert: facts.is_precert, sct_timestamp_ms: None };
            let results = ctwatch_lint::lint(&input);
            any_error |= results.iter().any(|r| r.status == ctwatch_lint::LintStatus::Error);
            if json {
                let out: Vec<_> = results
                    .iter()
                    .filter(|r| all || r.status.is_failure())
                    .map(|r| {
                        serde_json::json!({
                            "file": file.display().to_string(),
                            "certificate": i,
                            "subject": facts.subject,
                            "lint": r.lint.name,
                            "zlint": r.lint.zlint,
                            "citation": r.lint.citation,
                            "result": r.status.as_str(),
                            "detail": r.detail,
                        })
                    })
                    .collect();
                for line in out {
                    println!("{line}");
                }
            } else {
                println!("{} #{i}: {}", file.display(), facts.subject);
                println!("  {:<52} {:<52} {:<6} DETAIL", "LINT", "ZLINT", "RESULT");
                for r in results.iter().filter(|r| all || r.status.is_failure()) {
                    println!(
                        "  {:<52} {:<52} {:<6} {}",
                        r.lint.name,
                        r.lint.zlint.unwrap_or("-"),
                        r.status.as_str(),
                        r.detail.as_deref().unwrap_or("")
                    );
                }
            }
        }
    }
    Ok(any_error)
}

/// `ctwatch caa check NAME --ca CA`: one name, on demand, with the configured resolvers.
pub async fn caa_check(config: &Path, name: &str, ca: &str, json: bool) -> anyhow::Result<()> {
    let settings = Settings::load(config).map_err(|e| anyhow::anyhow!("{e}"))?;
    let Some(ca) = settings.cas.iter().find(|c| c.name.eq_ignore_ascii_case(ca)) else {
        bail!("no [[ca]] named {ca:?} in {}", config.display());
    };
    if settings.nameservers.is_empty() {
        bail!("{}: [dns] nameservers is empty", config.display());
    }
    let checker = ctwatch_caa::CaaChecker::new(ctwatch_caa::CaaCheckerSettings {
        resolver: ctwatch_caa::ResolverSettings {
            nameservers: settings.nameservers.clone(),
            timeout: settings.dns_timeout,
            ..Default::default()
        },
        ..Default::default()
    })?;
    let check = checker.check(name, &ca.caa_identifiers, None, None).await;
    if json {
        println!("{}", serde_json::to_string(&check)?);
    } else {
        println!("{name}: {} ({})", check.verdict.as_str(), check.reason);
        println!("{}", serde_json::to_string_pretty(&check.evidence)?);
    }
    Ok(())
}

/// `ctwatch keys import FILE --config`: add compromised keys and re-check stored certificates.
pub async fn keys_import(config: &Path, file: &Path) -> anyhow::Result<()> {
    let settings = Settings::load(config).map_err(|e| anyhow::anyhow!("{e}"))?;
    let store = settings.store.open().with_context(|| format!("opening store {}", settings.store))?;
    let handle = ctwatch_monitor::StoreHandle::new(store);
    let watch = std::sync::Arc::new(ctwatch_monitor::watch::Watchlist::new(&settings.cas, settings.all_issuers));
    let mut set = ctwatch_keys::keyset::CompromisedKeySet::new();
    for record in handle.call(|s| s.compromised_keys()).await? {
        if let Some(k) = ctwatch_monitor::crl_worker::from_record(&record) {
            set.insert(k);
        }
    }
    let keys = std::sync::Arc::new(std::sync::RwLock::new(set));
    let summary = ctwatch_monitor::import_keys(&handle, &watch, &keys, file).await?;
    println!(
        "{}: {} keys read, {} new, {} findings from stored certificates",
        file.display(),
        summary.keys,
        summary.new_keys,
        summary.findings
    );
    for p in &summary.problems {
        eprintln!("  {p}");
    }
    Ok(())
}
