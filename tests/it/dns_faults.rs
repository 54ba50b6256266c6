//! DNS faults through the monitor's CAA worker: a name whose CAA lookup gets SERVFAIL or no
//! answer at all is `indeterminate` — never a `caa_conflict` — and is retried on the
//! configured schedule until the attempts run out, when one `caa_indeterminate` finding records
//! it. Names that resolve keep being judged normally beside them.

use ctwatch_ct::sth::LogSigner;
use ctwatch_integration::*;
use ctwatch_monitor::LogOutcome;
use ctwatch_store::{FindingFilter, Store as _};
use ctwatch_testlog::{CertFactory, LeafSpec, TestLog, serve_local};

const ZONE: &str = "$ORIGIN example.\n@ 3600 IN SOA ns.example. admin.example. 1 3600 600 86400 300\n\
@ 3600 IN NS ns.example.\nns 3600 IN A 127.0.0.1\n\
forbids 300 IN CAA 0 issue \"letsencrypt.org\"\nallows 300 IN CAA 0 issue \"ca.example\"\n";

/// Attempts configured for indeterminate names.
const ATTEMPTS: usize = 3;

// Catches, in the CAA worker / checker: an indeterminate answer turned into a conflict (a
// `caa_conflict` for a servfail or blackhole name), retries removed (one query per name), and
// giving up silently (no `caa_indeterminate` finding).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn servfail_and_timeouts_are_indeterminate_retried_and_never_conflicts() {
    let now = ctwatch_monitor::follow::unix_now();
    let dns = ctwatch_testdns::TestDns::start(&[ZONE]).await;
    let ca = CertFactory::new("DNS Faults CA").unwrap();
    let log = TestLog::new("dnsfaults", LogSigner::generate());
    let names: [&[&str]; 4] = [
        &["www.servfail.test"],
        &["www.blackhole.test"],
        &["www.forbids.example"],
        // One name fails, the other is fine: the certificate as a whole waits for a retry.
        &["www.allows.example", "mail.servfail.test"],
    ];
    for (i, names) in names.iter().enumerate() {
        let mut spec = LeafSpec::new(names.iter().copied());
        spec.not_before = now - 3600;
        spec.not_after = now + 80 * 86_400;
        log.issue(&ca, &spec, (now - 1800 + i as i64) as u64 * 1000, true).unwrap();
    }
    log.publish();
    let server = serve_local(vec![log.clone()]).await.unwrap();

    let dir = tempdir();
    let pem = dir.path().join("ca.pem");
    std::fs::write(&pem, pem_cert(ca.issuer_der())).unwrap();
    let opts = RunOptions {
        extra_toml: format!(
            "[dns]\nnameservers = [\"{}\"]\n[caa]\nretry_secs = 0.2\ntimeout_secs = 0.5\nmax_attempts = {ATTEMPTS}\n\
             [[ca]]\nname = \"DNS CA\"\nissuers = [\"{}\"]\ncaa_identifiers = [\"ca.example\"]\n",
            dns.addr,
            pem.display()
        ),
        ..Default::default()
    };
    let store_file = store_path(dir.path(), "dnsfaults");
    let toml = config_toml(&store_file, &[log_toml(&server, &log, View::Rfc6962, &opts)], &opts);
    let started = std::time::Instant::now();
    let summaries = run_until_caught_up(dir.path(), &toml).await;
    let elapsed = started.elapsed();
    assert_eq!(summaries[0].outcome, LogOutcome::CaughtUp, "{summaries:?}");

    let store = open_store(&store_file);
    let findings = store.findings(&FindingFilter { limit: Some(100), ..Default::default() }).unwrap();
    let mut caa: Vec<(String, String, String)> = findings
        .iter()
        .filter(|f| f.kind.starts_with("caa_"))
        .map(|f| {
            (
                f.kind.clone(),
                f.evidence["name"].as_str().unwrap_or("?").to_string(),
                f.evidence["verdict"].as_str().unwrap_or("?").to_string(),
            )
        })
        .collect();
    caa.sort();
    assert_eq!(
        caa,
        vec![
            ("caa_conflict".into(), "www.forbids.example".into(), "conflict".into()),
            ("caa_indeterminate".into(), "mail.servfail.test".into(), "indeterminate".into()),
            ("caa_indeterminate".into(), "www.blackhole.test".into(), "indeterminate".into()),
            ("caa_indeterminate".into(), "www.servfail.test".into(), "indeterminate".into()),
        ],
        "{findings:#?}"
    );
    // Retried: every failing name was asked at least once per attempt (the resolver may add
    // its own retries on top).
    let queries = dns.queries();
    for name in ["www.servfail.test", "www.blackhole.test", "mail.servfail.test"] {
        let asked = queries.iter().filter(|q| q.name == name).count();
        assert!(asked >= ATTEMPTS, "{name} asked {asked} times, expected at least {ATTEMPTS}: {queries:?}");
    }
    // The names that resolve were not asked again and again.
    let forbids = queries.iter().filter(|q| q.name == "www.forbids.example").count();
    assert!(forbids < ATTEMPTS, "www.forbids.example asked {forbids} times");
    // Bounded: three attempts of half-second timeouts, not the resolver's defaults.
    assert!(elapsed < std::time::Duration::from_secs(60), "{elapsed:?}");
    // Nothing is left pending: the given-up certificates are recorded as checked.
    assert!(store.certificates_pending_caa(10).unwrap().is_empty());
    server.shutdown().await;
}
