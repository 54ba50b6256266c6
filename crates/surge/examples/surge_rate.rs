//! Measures the detector's throughput: `cargo run --release -p ctwatch-surge --example surge_rate`.
//!
//! Feeds one million certificates spread over 200 issuers and four weeks (one to three registered
//! domains each), evaluating every simulated 15 minutes, and prints events per second for
//! `observe` and the mean cost of `evaluate`.
//!
//! Flags: `--observe-only` skips evaluations; `--pool N` draws each issuer's domains from N
//! registered domains (default 50,000: nearly every domain is new to its issuer, the worst case
//! for the bounded domain maps; 300 models an issuer whose customers renew).

use std::time::{Duration, Instant};

use ctwatch_surge::{IssuanceEvent, SurgeConfig, SurgeDetector};

const MS_PER_HOUR: u64 = 3_600_000;
const EVENTS: u64 = 1_000_000;
const ISSUERS: u64 = 200;
const HOURS: u64 = 4 * 168;

/// A pre-built certificate: issuer, timestamp, registered domains, identity.
type Event = ([u8; 32], u64, Vec<String>, [u8; 32]);

/// A small deterministic generator (xorshift64*).
struct Xorshift(u64);

impl Xorshift {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let evaluate = !args.iter().any(|a| a == "--observe-only");
    let pool: u64 = args
        .iter()
        .position(|a| a == "--pool")
        .and_then(|i| args.get(i + 1))
        .and_then(|v| v.parse().ok())
        .unwrap_or(50_000)
        .max(1);
    let mut detector = match SurgeDetector::new(SurgeConfig::default()) {
        Ok(d) => d,
        Err(e) => {
            eprintln!("bad configuration: {e}");
            std::process::exit(1);
        }
    };
    let mut rng = Xorshift(0x1234_5678_9abc_def1);
    let suffixes = ["com", "net", "org", "gov.tw", "co.uk", "de", "com.tw", "github.io"];
    let start_ms = 482_256 * MS_PER_HOUR;
    let step_ms = HOURS * MS_PER_HOUR / EVENTS;
    let quarter = MS_PER_HOUR / 4;

    // Pre-build the events so the measurement is the detector alone.
    let events: Vec<Event> = (0..EVENTS)
        .map(|i| {
            let mut issuer = [0u8; 32];
            let issuer_index = rng.next() % ISSUERS;
            issuer[..8].copy_from_slice(&issuer_index.to_be_bytes());
            let n = 1 + rng.next() % 3;
            let domains = (0..n)
                .map(|_| {
                    let d = rng.next() % pool;
                    format!("name{d}-{issuer_index}.{}", suffixes[(d % suffixes.len() as u64) as usize])
                })
                .collect();
            let mut identity = [0u8; 32];
            identity[..8].copy_from_slice(&i.to_be_bytes());
            (issuer, start_ms + i * step_ms, domains, identity)
        })
        .collect();

    let mut observe_time = Duration::ZERO;
    let mut evaluate_time = Duration::ZERO;
    let mut evaluations = 0u32;
    let mut surges = 0usize;
    let mut next_eval = start_ms + quarter;
    let mut batch_start = Instant::now();
    for (issuer, timestamp_ms, domains, identity) in &events {
        if evaluate && *timestamp_ms >= next_eval {
            observe_time += batch_start.elapsed();
            let t = Instant::now();
            surges += detector.evaluate(next_eval).len();
            evaluate_time += t.elapsed();
            evaluations += 1;
            next_eval += quarter;
            batch_start = Instant::now();
        }
        detector.observe(&IssuanceEvent {
            issuer: *issuer,
            timestamp_ms: *timestamp_ms,
            validation_type: "dv",
            registered_domains: domains,
            cert_identity: *identity,
        });
    }
    observe_time += batch_start.elapsed();

    let stats = detector.stats();
    println!("events:            {EVENTS} over {ISSUERS} issuers, {HOURS} hours, {pool} domains per issuer");
    println!(
        "observe:           {:.0} events/s ({:.2} µs/event)",
        EVENTS as f64 / observe_time.as_secs_f64(),
        observe_time.as_secs_f64() * 1e6 / EVENTS as f64
    );
    println!(
        "evaluate:          {evaluations} calls, {:.2} ms/call ({:.1} µs per issuer)",
        evaluate_time.as_secs_f64() * 1e3 / f64::from(evaluations.max(1)),
        evaluate_time.as_secs_f64() * 1e6 / f64::from(evaluations.max(1)) / ISSUERS as f64
    );
    println!("surges reported:   {surges}");
    println!("state:             {stats:?}");
}
