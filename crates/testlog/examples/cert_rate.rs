//! Measures how fast the test CA issues certificates and the test log logs them.
//!
//! `cargo run -p ctwatch-testlog --example cert_rate [count]`

use std::time::Instant;

use ctwatch_ct::sth::LogSigner;
use ctwatch_testlog::{CertFactory, LeafSpec, TestLog, now_ms};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let count: usize = std::env::args().nth(1).and_then(|n| n.parse().ok()).unwrap_or(2000);
    sign_only(count);
    let factory = CertFactory::new("Rate CA")?;
    let spec = |i: usize| LeafSpec::new([format!("host{i}.example.com")]);

    let started = Instant::now();
    for i in 0..count {
        factory.x509(&spec(i))?;
    }
    report("plain certificates", count, started);

    let started = Instant::now();
    for i in 0..count {
        factory.precert(&spec(i))?;
    }
    report("precertificates", count, started);

    let precerts: Vec<_> = (0..count).map(|i| factory.precert(&spec(i))).collect::<Result<_, _>>()?;
    let sct_list = ctwatch_testlog::encode_sct_list(&[vec![0; 120]]);
    let started = Instant::now();
    for precert in &precerts {
        factory.final_cert(precert, &sct_list)?;
    }
    report("final certificates from precertificates", count, started);

    let log = TestLog::new("rate", LogSigner::generate());
    let started = Instant::now();
    for i in 0..count {
        log.issue_precert(&factory, &spec(i), now_ms())?;
    }
    report("precertificates logged", count, started);

    let started = Instant::now();
    for i in 0..count {
        log.issue(&factory, &spec(i), now_ms(), true)?;
    }
    report("precert+SCT+final pairs, both logged", count, started);

    let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
    let started = Instant::now();
    std::thread::scope(|scope| {
        for t in 0..threads {
            let (log, factory) = (&log, &factory);
            scope.spawn(move || {
                for i in (t..count).step_by(threads) {
                    log.issue(factory, &spec(i), now_ms(), true).expect("issue");
                }
            });
        }
    });
    report(&format!("pairs on {threads} threads"), count, started);
    println!("log holds {} entries", log.tree_size());
    Ok(())
}

fn report(what: &str, count: usize, started: Instant) {
    let secs = started.elapsed().as_secs_f64();
    println!("{what}: {count} in {secs:.2} s = {:.0}/s", count as f64 / secs);
}

fn sign_only(count: usize) {
    let signer = LogSigner::generate();
    let started = Instant::now();
    for i in 0..count {
        signer.sign(&i.to_be_bytes());
    }
    report("bare ECDSA signatures", count, started);
}
