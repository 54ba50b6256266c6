//! CAA checks against a real authoritative DNS server on 127.0.0.1 (`ctwatch-testdns`).

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use ctwatch_caa::{CaaCheck, CaaChecker, CaaCheckerSettings, CaaVerdict, ResolverSettings};
use ctwatch_testdns::TestDns;

const SOA: &str = "@ IN SOA ns.test. admin.test. 1 3600 600 86400 300\n@ IN NS ns.test.\n";

/// The main test zone: one name per rule of RFC 8659 / RFC 8657 the checker must get right.
fn test_zone() -> String {
    let mut z = format!("$ORIGIN test.\n$TTL 3600\n{SOA}ns IN A 127.0.0.1\n");
    z.push_str(
        r#"
exact           IN CAA 0 issue "ca.example"
other           IN CAA 0 issue "other.example"
parent          IN CAA 0 issue "ca.example"
deepparent      IN CAA 0 issue "other.example"
x.deepparent    IN A 192.0.2.1
nocaa           IN A 192.0.2.1
wild            IN CAA 0 issue "other.example"
wild            IN CAA 0 issuewild "ca.example"
wildissue       IN CAA 0 issue "ca.example"
wilddeny        IN CAA 0 issue "ca.example"
wilddeny        IN CAA 0 issuewild ";"
wildonly        IN CAA 0 issuewild "other.example"
deny            IN CAA 0 issue ";"
several         IN CAA 0 issue "letsencrypt.org"
several         IN CAA 0 issue "ca.example"
several         IN CAA 0 issue "globalsign.com"
case            IN CAA 0 Issue "CA.Example"
trailing        IN CAA 0 issue "ca.example."
params          IN CAA 0 issue "ca.example; accounturi=https://ca.example/acct/1; validationmethods=dns-01"
unkparam        IN CAA 0 issue "ca.example; policy=ev"
iodefonly       IN CAA 0 iodef "mailto:security@iodefonly.test"
unknowntag      IN CAA 0 futuretag "whatever"
critical        IN CAA 128 futuretag "whatever"
critical        IN CAA 0 issue "ca.example"
longtag         IN CAA 0 thisisaverylongtagname "x"
longtag         IN CAA 0 issue "ca.example"
longtagdeny     IN CAA 0 thisisaverylongtagname "x"
longtagdeny     IN CAA 0 issue "other.example"
hyphencritical  IN CAA 128 x-private-tag "y"
hyphencritical  IN CAA 0 issue "ca.example"
malformed       IN CAA 0 issue "ca.example extra"
alias           IN CNAME target
target          IN CAA 0 issue "ca.example"
aliasout        IN CNAME elsewhere.example.
aliasempty      IN CNAME nocaa
loop1           IN CNAME loop2
loop2           IN CNAME loop1
incident        IN CAA 0 issue "letsencrypt.org"
incident        IN CAA 0 issue "globalsign.com"
incident        IN CAA 0 issue "GTLSCA-G1"
"#,
    );
    // Enough records that the answer does not fit in 1232 octets of UDP: TC, then TCP.
    for i in 0..60 {
        z.push_str(&format!("big IN CAA 0 issue \"issuer-number-{i:02}.ca-operator.example\"\n"));
    }
    z.push_str("big IN CAA 0 issue \"ca.example\"\n");
    z
}

fn example_zone() -> String {
    format!(
        "$ORIGIN example.\n$TTL 600\n{SOA}elsewhere IN CAA 0 issue \"ca.example\"\n",
        SOA = SOA.replace("ns.test.", "ns.example.")
    )
}

fn tw_zone() -> String {
    format!(
        "$ORIGIN tw.\n$TTL 3600\n{}agency.gov IN CAA 0 issue \"pki.hinet.net\"\nmoe.gov IN CAA 0 issue \"letsencrypt.org\"\nmoe.gov IN CAA 0 issue \"GTLSCA-G1\"\n",
        SOA.replace("ns.test.", "ns.tw.")
    )
}

async fn start() -> TestDns {
    TestDns::start(&[&test_zone(), &example_zone(), &tw_zone()]).await
}

fn settings(servers: Vec<SocketAddr>, timeout: Duration) -> CaaCheckerSettings {
    CaaCheckerSettings {
        resolver: ResolverSettings { nameservers: servers, timeout, attempts: 1, ..Default::default() },
        queries_per_second: None,
        ..Default::default()
    }
}

fn checker(dns: &TestDns) -> CaaChecker {
    CaaChecker::new(settings(vec![dns.addr], Duration::from_secs(5))).unwrap()
}

fn ca() -> Vec<String> {
    vec!["ca.example".to_string()]
}

async fn check(c: &CaaChecker, name: &str) -> CaaCheck {
    c.check(name, &ca(), Some(1_700_000_000), None).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_rule_against_a_real_server() {
    let dns = start().await;
    let c = checker(&dns);
    use CaaVerdict::*;
    // (name, verdict, where the relevant RRset was found)
    let cases: &[(&str, CaaVerdict, Option<&str>)] = &[
        ("exact.test", Permitted, Some("exact.test")),
        ("EXACT.test.", Permitted, Some("exact.test")),
        ("other.test", Conflict, Some("other.test")),
        ("www.parent.test", Permitted, Some("parent.test")),
        ("a.b.c.parent.test", Permitted, Some("parent.test")),
        ("x.deepparent.test", Conflict, Some("deepparent.test")),
        ("nocaa.test", Permitted, None),
        ("no.such.name.test", Permitted, None),
        ("*.wild.test", Permitted, Some("wild.test")),
        ("wild.test", Conflict, Some("wild.test")),
        ("*.wildissue.test", Permitted, Some("wildissue.test")),
        ("*.wilddeny.test", Conflict, Some("wilddeny.test")),
        ("wilddeny.test", Permitted, Some("wilddeny.test")),
        ("wildonly.test", Permitted, Some("wildonly.test")),
        ("*.wildonly.test", Conflict, Some("wildonly.test")),
        ("deny.test", Conflict, Some("deny.test")),
        ("several.test", Permitted, Some("several.test")),
        ("case.test", Permitted, Some("case.test")),
        ("trailing.test", Permitted, Some("trailing.test")),
        ("params.test", PermittedUnverifiable, Some("params.test")),
        ("unkparam.test", Permitted, Some("unkparam.test")),
        ("iodefonly.test", Permitted, Some("iodefonly.test")),
        ("unknowntag.test", Permitted, Some("unknowntag.test")),
        ("critical.test", CriticalUnknown, Some("critical.test")),
        ("longtag.test", Permitted, Some("longtag.test")),
        ("www.longtag.test", Permitted, Some("longtag.test")),
        ("longtagdeny.test", Conflict, Some("longtagdeny.test")),
        ("hyphencritical.test", CriticalUnknown, Some("hyphencritical.test")),
        ("malformed.test", Conflict, Some("malformed.test")),
        ("alias.test", Permitted, Some("alias.test")),
        ("aliasout.test", Permitted, Some("aliasout.test")),
        ("aliasempty.test", Permitted, None),
        ("incident.test", Conflict, Some("incident.test")),
        ("www.moe.gov.tw", Conflict, Some("moe.gov.tw")),
        ("www.agency.gov.tw", Conflict, Some("agency.gov.tw")),
    ];
    let mut failures = Vec::new();
    for &(name, want, found_at) in cases {
        let r = check(&c, name).await;
        let got_found = r.evidence["found_at"].as_str();
        if r.verdict != want || got_found != found_at {
            failures.push(format!(
                "{name}: got {} at {got_found:?}, want {want} at {found_at:?} ({}; evidence {})",
                r.verdict, r.reason, r.evidence
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));

    // The watched CA's own identifiers permit the agency name.
    let hinet = vec!["pki.hinet.net".to_string(), "tls.hinet.net".to_string()];
    let r = c.check("www.agency.gov.tw", &hinet, None, None).await;
    assert_eq!(r.verdict, Permitted, "{}", r.reason);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn evidence_from_a_real_answer() {
    let dns = start().await;
    let c = checker(&dns);
    let before = time_now_s();
    let r = c.check("www.moe.gov.tw", &["pki.hinet.net".to_string()], Some(before), Some(before as u64 * 1000)).await;
    assert_eq!(r.verdict, CaaVerdict::Conflict);
    assert!(r.confirmed, "checked right after issuance");
    let e = &r.evidence;
    assert_eq!(e["records"], serde_json::json!(["0 issue \"letsencrypt.org\"", "0 issue \"GTLSCA-G1\""]));
    assert_eq!(e["ttl"], 3600);
    assert_eq!(e["tried"], serde_json::json!(["www.moe.gov.tw", "moe.gov.tw"]));
    assert_eq!(e["resolvers"], serde_json::json!([dns.addr.to_string()]));
    assert_eq!(e["source"], "resolver");
    assert_eq!(e["authentic_data"], false);
    assert_eq!(e["registered_domain"], "moe.gov.tw");
    assert!(e["checked_at"].as_str().unwrap().ends_with('Z'));

    // Issued two days ago: the same conflict is only potential.
    let old = before - 2 * 86_400;
    let r = c.check("www.moe.gov.tw", &["pki.hinet.net".to_string()], Some(old), None).await;
    assert_eq!(r.verdict, CaaVerdict::Conflict);
    assert!(!r.confirmed);
    assert_eq!(r.evidence["confirmed"], false);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn climbing_and_aliases_in_evidence() {
    let dns = start().await;
    let c = checker(&dns);
    // NXDOMAIN at every level below the zone apex, which has no CAA either.
    let r = check(&c, "*.no.such.name.test").await;
    assert_eq!(r.verdict, CaaVerdict::Permitted);
    assert_eq!(r.evidence["tried"], serde_json::json!(["no.such.name.test", "such.name.test", "name.test", "test"]));
    assert_eq!(r.evidence["ttl"], 300, "the SOA's negative TTL");
    // NXDOMAIN below, records two levels up.
    let r = check(&c, "a.b.c.parent.test").await;
    assert_eq!(
        r.evidence["tried"],
        serde_json::json!(["a.b.c.parent.test", "b.c.parent.test", "c.parent.test", "parent.test"])
    );
    // A CNAME is followed by the resolver; the records' owner is the target.
    let r = check(&c, "alias.test").await;
    assert_eq!(r.verdict, CaaVerdict::Permitted);
    assert_eq!(r.evidence["found_at"], "alias.test");
    assert_eq!(r.evidence["owner"], "target.test");
    assert_eq!(r.evidence["aliases"], serde_json::json!(["target.test"]));
    // RFC 8659 climbs from the alias, not from its target: the target's parent is not used.
    let r = check(&c, "aliasout.test").await;
    assert_eq!(r.evidence["owner"], "elsewhere.example");
}

fn time_now_s() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs() as i64
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unusual_tags_go_through_the_raw_query() {
    let dns = start().await;
    let c = checker(&dns);
    let r = check(&c, "longtag.test").await;
    assert_eq!(r.verdict, CaaVerdict::Permitted, "{}", r.reason);
    assert_eq!(r.evidence["source"], "raw_query");
    assert_eq!(r.evidence["records"], serde_json::json!(["0 thisisaverylongtagname \"x\"", "0 issue \"ca.example\""]));
    let r = check(&c, "hyphencritical.test").await;
    assert_eq!(r.verdict, CaaVerdict::CriticalUnknown, "{}", r.reason);
    assert!(r.reason.contains("x-private-tag"), "{}", r.reason);
    // Ordinary answers stay on hickory's path, empty ones (NODATA, NXDOMAIN, CNAME to a
    // name without CAA) included: one query each.
    for name in ["exact.test", "nocaa.test", "aliasempty.test", "no.such.test"] {
        let before = dns.query_count();
        let r = check(&c, name).await;
        assert_eq!(r.evidence["source"], "resolver", "{name}: {}", r.evidence);
        let asked: Vec<_> = dns.queries().into_iter().skip(before).filter(|q| q.name == name).collect();
        assert_eq!(asked.len(), 1, "{name}: {asked:?}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn truncated_udp_answers_are_retried_over_tcp() {
    let dns = start().await;
    let c = checker(&dns);
    let r = check(&c, "big.test").await;
    assert_eq!(r.verdict, CaaVerdict::Permitted, "{}", r.reason);
    assert_eq!(r.evidence["records"].as_array().unwrap().len(), 61);
    let big: Vec<_> = dns.queries().into_iter().filter(|q| q.name == "big.test").collect();
    assert!(big.iter().any(|q| !q.tcp), "{big:?}");
    assert!(big.iter().any(|q| q.tcp), "{big:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn servfail_is_indeterminate_and_retried() {
    let dns = start().await;
    let c = checker(&dns);
    for name in ["servfail.test", "www.servfail.test", "*.deep.servfail.test"] {
        let r = check(&c, name).await;
        assert_eq!(r.verdict, CaaVerdict::Indeterminate, "{name}: {}", r.reason);
        assert!(r.reason.contains("SERVFAIL"), "{}", r.reason);
        assert!(!r.confirmed);
    }
    let before = dns.queries().iter().filter(|q| q.name == "servfail.test").count();
    check(&c, "servfail.test").await;
    let after = dns.queries().iter().filter(|q| q.name == "servfail.test").count();
    assert!(after > before, "a failed name must be asked again, not served from the cache");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cname_loop_is_indeterminate() {
    let dns = start().await;
    let c = checker(&dns);
    let r = check(&c, "loop1.test").await;
    assert_eq!(r.verdict, CaaVerdict::Indeterminate, "{}", r.reason);
    assert!(r.reason.contains("CNAME chain loops"), "{}", r.reason);
    let r = check(&c, "www.loop2.test").await;
    // www.loop2.test does not exist, so the climb reaches loop2.test and fails there.
    assert_eq!(r.verdict, CaaVerdict::Indeterminate, "{}", r.reason);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unanswered_queries_time_out_as_indeterminate() {
    let dns = start().await;
    let c = CaaChecker::new(settings(vec![dns.addr], Duration::from_millis(300))).unwrap();
    let started = Instant::now();
    let r = check(&c, "host.blackhole.test").await;
    assert_eq!(r.verdict, CaaVerdict::Indeterminate, "{}", r.reason);
    assert!(started.elapsed() < Duration::from_secs(10));
    // Other names on the same server still work.
    assert_eq!(check(&c, "exact.test").await.verdict, CaaVerdict::Permitted);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_silent_resolver_is_indeterminate() {
    // A UDP socket that is bound but never read: queries vanish. No TCP listener either.
    let silent = tokio::net::UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let c = CaaChecker::new(settings(vec![silent.local_addr().unwrap()], Duration::from_millis(300))).unwrap();
    let r = check(&c, "exact.test").await;
    assert_eq!(r.verdict, CaaVerdict::Indeterminate, "{}", r.reason);
    assert!(r.evidence["error"].is_string());
    drop(silent);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_second_nameserver_answers_when_the_first_is_silent() {
    let dns = start().await;
    let silent = tokio::net::UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let mut s = settings(vec![silent.local_addr().unwrap(), dns.addr], Duration::from_millis(300));
    s.resolver.attempts = 2;
    let c = CaaChecker::new(s).unwrap();
    assert_eq!(check(&c, "exact.test").await.verdict, CaaVerdict::Permitted);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn surge_under_one_domain_costs_few_queries() {
    let dns = start().await;
    let c = checker(&dns);
    let hinet = vec!["pki.hinet.net".to_string(), "tls.hinet.net".to_string()];

    // 1,000 distinct names under one registered domain: one query per name, and the shared
    // parent (which holds the CAA records) once.
    let names: Vec<String> = (0..1000).map(|i| format!("host{i}.agency.gov.tw")).collect();
    let start_count = dns.query_count();
    let cold = Instant::now();
    run_all(&c, &names, &hinet).await;
    let cold_elapsed = cold.elapsed();
    let cold_queries = dns.query_count() - start_count;
    assert_eq!(cold_queries, 1001, "one per name plus agency.gov.tw once");

    // A 12,000-certificate surge over 300 names (renewals, precert + final pairs): cached.
    let surge: Vec<String> = (0..12_000).map(|i| format!("svc{}.agency.gov.tw", i % 300)).collect();
    let before = dns.query_count();
    run_all(&c, &surge, &hinet).await;
    let surge_queries = dns.query_count() - before;
    assert_eq!(surge_queries, 300, "one query per distinct new name, none for the shared parent");

    // Warm: everything is cached, nothing goes upstream.
    let before = dns.query_count();
    let warm = Instant::now();
    let rounds = 5;
    for _ in 0..rounds {
        run_all(&c, &names, &hinet).await;
    }
    let warm_elapsed = warm.elapsed();
    assert_eq!(dns.query_count(), before, "warm checks must not query");
    let warm_rate = (rounds * names.len()) as f64 / warm_elapsed.as_secs_f64();
    let cold_rate = names.len() as f64 / cold_elapsed.as_secs_f64();
    println!(
        "CAA check throughput: cold {cold_rate:.0} names/s ({cold_queries} queries), warm {warm_rate:.0} names/s; surge of 12000 certs cost {surge_queries} queries; stats {:?}",
        c.stats()
    );
    // A deliberately loose floor so a busy CI machine does not flake; the measured figure is
    // printed above.
    assert!(warm_rate > 1000.0, "warm rate {warm_rate:.0} names/s");
}

async fn run_all(c: &CaaChecker, names: &[String], ids: &[String]) {
    let mut tasks = tokio::task::JoinSet::new();
    for chunk in names.chunks(names.len().div_ceil(32).max(1)) {
        let c = c.clone();
        let chunk = chunk.to_vec();
        let ids = ids.to_vec();
        tasks.spawn(async move {
            for n in chunk {
                let r = c.check(&n, &ids, None, None).await;
                assert_eq!(r.verdict, CaaVerdict::Permitted, "{n}: {}", r.reason);
            }
        });
    }
    while let Some(t) = tasks.join_next().await {
        t.unwrap();
    }
}
