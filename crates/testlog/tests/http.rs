//! End-to-end tests: a real server on 127.0.0.1, real HTTP, and the ct/cert crates' verifiers.

use std::time::Instant;

use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use ctwatch_ct::checkpoint::{parse_checkpoint, verify_checkpoint};
use ctwatch_ct::merkle::{leaf_hash, root_from_leaf_hashes, verify_consistency, verify_inclusion};
use ctwatch_ct::sth::{LogKey, LogSigner, SignedTreeHead, TreeHead, verify_sth};
use ctwatch_ct::wire::{EntryType, SignedEntry, decode_data_tile, decode_extra_data, decode_leaf_input};
use ctwatch_ct::{Hash, sha256};
use ctwatch_testlog::{
    CertFactory, Endpoint, IssuedCert, LeafSpec, ListedAs, LogOptions, Misbehaviour, RateLimit, TestLog, TestLogServer,
    log_list_json, log_list_json_with, now_ms, serve_local,
};
use serde_json::Value;

/// A served log holding `pairs` precert/final pairs (both logged) and one plain certificate.
struct Fixture {
    factory: CertFactory,
    log: TestLog,
    server: TestLogServer,
    client: reqwest::Client,
    issued: Vec<IssuedCert>,
    name: String,
}

async fn fixture(name: &str, pairs: usize) -> Fixture {
    let factory = CertFactory::new("Fixture CA").unwrap();
    let log = TestLog::new(name, LogSigner::generate());
    let base = now_ms() - 60_000;
    let mut issued = Vec::new();
    for i in 0..pairs {
        let spec = LeafSpec::new([format!("host{i}.example.com")]);
        issued.push(log.issue(&factory, &spec, base + i as u64, true).unwrap());
    }
    let plain = factory.x509(&LeafSpec::new(["plain.example.com"])).unwrap();
    log.add_x509_entry(&plain, factory.chain(), base + pairs as u64).unwrap();
    log.publish();
    let server = serve_local(vec![log.clone()]).await.unwrap();
    Fixture { factory, log, server, client: reqwest::Client::new(), issued, name: name.to_owned() }
}

impl Fixture {
    fn ct(&self, path: &str) -> String {
        format!("{}ct/v1/{path}", self.server.url_rfc6962(&self.name))
    }

    fn tiles(&self, path: &str) -> String {
        format!("{}{path}", self.server.url_monitoring(&self.name))
    }

    fn key(&self) -> LogKey {
        LogKey::from_spki_der(&self.log.log_key_spki_der()).unwrap()
    }

    async fn get(&self, url: &str) -> reqwest::Response {
        self.client.get(url).send().await.unwrap()
    }

    async fn json(&self, url: &str) -> (u16, Value) {
        let response = self.get(url).await;
        let status = response.status().as_u16();
        let text = response.text().await.unwrap();
        (status, serde_json::from_str(&text).unwrap_or(Value::Null))
    }

    async fn sth(&self) -> SignedTreeHead {
        let (status, body) = self.json(&self.ct("get-sth")).await;
        assert_eq!(status, 200, "{body}");
        SignedTreeHead {
            head: TreeHead {
                tree_size: body["tree_size"].as_u64().unwrap(),
                timestamp: body["timestamp"].as_u64().unwrap(),
                root_hash: b64_hash(&body["sha256_root_hash"]),
            },
            signature: B64.decode(body["tree_head_signature"].as_str().unwrap()).unwrap(),
        }
    }

    /// get-entries from `start` to `end` inclusive in one request: (leaf_input, extra_data).
    async fn entries(&self, start: u64, end: u64) -> (u16, Vec<(Vec<u8>, Vec<u8>)>) {
        let (status, body) = self.json(&self.ct(&format!("get-entries?start={start}&end={end}"))).await;
        let entries = body["entries"]
            .as_array()
            .map(|list| {
                list.iter()
                    .map(|e| {
                        (
                            B64.decode(e["leaf_input"].as_str().unwrap()).unwrap(),
                            B64.decode(e["extra_data"].as_str().unwrap()).unwrap(),
                        )
                    })
                    .collect()
            })
            .unwrap_or_default();
        (status, entries)
    }

    /// Every entry up to `size`, following short batches.
    async fn all_entries(&self, size: u64) -> Vec<(Vec<u8>, Vec<u8>)> {
        let mut out = Vec::new();
        while (out.len() as u64) < size {
            let (status, batch) = self.entries(out.len() as u64, size - 1).await;
            assert_eq!(status, 200);
            assert!(!batch.is_empty());
            out.extend(batch);
        }
        out
    }

    async fn bytes(&self, url: &str) -> (u16, Vec<u8>) {
        let response = self.get(url).await;
        (response.status().as_u16(), response.bytes().await.unwrap().to_vec())
    }
}

fn b64_hash(value: &Value) -> Hash {
    B64.decode(value.as_str().unwrap()).unwrap().try_into().unwrap()
}

fn hashes(value: &Value) -> Vec<Hash> {
    value.as_array().unwrap().iter().map(b64_hash).collect()
}

fn root_of(entries: &[(Vec<u8>, Vec<u8>)]) -> Hash {
    root_from_leaf_hashes(&entries.iter().map(|(leaf, _)| leaf_hash(leaf)).collect::<Vec<_>>())
}

#[tokio::test]
async fn rfc6962_view_verifies_end_to_end() {
    let fx = fixture("rfc", 150).await;
    let sth = fx.sth().await;
    verify_sth(&fx.key(), &sth).unwrap();
    assert_eq!(sth.head.tree_size, 301);
    assert_eq!(fx.log.tree_size(), 301);

    // Default batches are 256: the first request for everything is cut there.
    let (status, first) = fx.entries(0, 300).await;
    assert_eq!((status, first.len()), (200, 256));
    let entries = fx.all_entries(sth.head.tree_size).await;
    assert_eq!(root_of(&entries), sth.head.root_hash);
    assert_eq!(fx.log.root_at(301), sth.head.root_hash);

    for (index, (leaf_input, extra)) in entries.iter().enumerate() {
        let entry = decode_leaf_input(leaf_input).unwrap();
        assert_eq!(entry.leaf_index_extension(), Some(index as u64));
        let extra = decode_extra_data(entry.signed_entry.entry_type(), extra).unwrap();
        assert_eq!(extra.chain, fx.factory.chain());
        if index == 300 {
            assert!(matches!(entry.signed_entry, SignedEntry::X509(_)));
            continue;
        }
        let issued = &fx.issued[index / 2];
        if index % 2 == 0 {
            let SignedEntry::Precert { issuer_key_hash, tbs_certificate } = &entry.signed_entry else {
                panic!("entry {index} should be a precert");
            };
            assert_eq!(*issuer_key_hash, fx.factory.issuer_key_hash());
            assert_eq!(tbs_certificate, &issued.precert.leaf_tbs);
            assert_eq!(extra.pre_certificate.as_deref(), Some(issued.precert.der.as_slice()));
            assert_eq!(issued.precert_index, index as u64);
        } else {
            assert_eq!(entry.signed_entry, SignedEntry::X509(issued.final_der.clone()));
            assert_eq!(issued.final_index, Some(index as u64));
        }
    }

    // Inclusion proofs by hash.
    for index in [0u64, 1, 150, 300] {
        let hash = leaf_hash(&entries[index as usize].0);
        let url = fx.ct(&format!("get-proof-by-hash?hash={}&tree_size=301", urlencode(&B64.encode(hash))));
        let (status, body) = fx.json(&url).await;
        assert_eq!(status, 200, "{body}");
        assert_eq!(body["leaf_index"].as_u64(), Some(index));
        verify_inclusion(index, 301, &hash, &sth.head.root_hash, &hashes(&body["audit_path"])).unwrap();
    }
    let (status, _) =
        fx.json(&fx.ct(&format!("get-proof-by-hash?hash={}&tree_size=301", urlencode(&B64.encode([7u8; 32]))))).await;
    assert_eq!(status, 404);

    let (status, roots) = fx.json(&fx.ct("get-roots")).await;
    assert_eq!(status, 200);
    let roots: Vec<Vec<u8>> =
        roots["certificates"].as_array().unwrap().iter().map(|c| B64.decode(c.as_str().unwrap()).unwrap()).collect();
    assert_eq!(roots, vec![fx.factory.root_der().to_vec()]);

    let stats = fx.log.stats();
    assert_eq!(stats.count(Endpoint::GetProofByHash, 200), 4);
    assert_eq!(stats.count(Endpoint::GetProofByHash, 404), 1);
    assert!(stats.endpoint(Endpoint::GetEntries) >= 3);
    fx.server.shutdown().await;
}

fn urlencode(text: &str) -> String {
    text.replace('+', "%2B").replace('/', "%2F").replace('=', "%3D")
}

#[tokio::test]
async fn consistency_proofs_between_published_heads_verify() {
    let fx = fixture("grow", 5).await;
    let first = fx.sth().await;
    for i in 0..40 {
        fx.log.issue(&fx.factory, &LeafSpec::new([format!("more{i}.example")]), now_ms(), i % 3 == 0).unwrap();
    }
    // Not published yet: nothing changes over HTTP.
    assert_eq!(fx.sth().await, first);
    let (status, _) = fx.entries(first.head.tree_size, first.head.tree_size + 1).await;
    assert_eq!(status, 400);

    let published = fx.log.publish();
    let second = fx.sth().await;
    assert_eq!(second, published);
    assert!(second.head.timestamp > first.head.timestamp);
    verify_sth(&fx.key(), &second).unwrap();
    let (a, b) = (first.head.tree_size, second.head.tree_size);
    let (status, body) = fx.json(&fx.ct(&format!("get-sth-consistency?first={a}&second={b}"))).await;
    assert_eq!(status, 200);
    verify_consistency(a, b, &first.head.root_hash, &second.head.root_hash, &hashes(&body["consistency"])).unwrap();

    for (a, b) in [(1, b), (a, a), (b - 1, b)] {
        let (status, body) = fx.json(&fx.ct(&format!("get-sth-consistency?first={a}&second={b}"))).await;
        assert_eq!(status, 200);
        verify_consistency(a, b, &fx.log.root_at(a), &fx.log.root_at(b), &hashes(&body["consistency"])).unwrap();
    }
    for query in ["first=5&second=4", &format!("first=1&second={}", b + 1), "first=1", "first=x&second=2"] {
        let (status, _) = fx.json(&fx.ct(&format!("get-sth-consistency?{query}"))).await;
        assert_eq!(status, 400, "{query}");
    }
}

#[tokio::test]
async fn get_entries_checks_ranges_and_batch_size() {
    let fx = fixture("ranges", 10).await; // 21 entries
    for query in ["start=5&end=4", "start=21&end=30", "start=0", "end=3", "start=-1&end=3", "start=a&end=3"] {
        let (status, _) = fx.json(&fx.ct(&format!("get-entries?{query}"))).await;
        assert_eq!(status, 400, "{query}");
    }
    let (status, batch) = fx.entries(18, 1000).await;
    assert_eq!((status, batch.len()), (200, 3));
    fx.log.set_options(LogOptions { max_batch: 4, ..LogOptions::default() });
    let (_, batch) = fx.entries(0, 20).await;
    assert_eq!(batch.len(), 4);
    assert_eq!(batch[3].0, fx.log.leaf_input(3).unwrap());
    assert_eq!(fx.log.stats().count(Endpoint::GetEntries, 400), 6);
}

#[tokio::test]
async fn embedded_sct_verifies_against_the_log_key() {
    let fx = fixture("sct", 3).await;
    let key = fx.key();
    for issued in &fx.issued {
        let key_for = |id: &Hash| (*id == key.log_id).then(|| key.clone());
        let verdicts =
            ctwatch_cert::sct::verify_embedded_scts(&issued.final_der, &fx.factory.issuer_key_hash(), &key_for)
                .unwrap();
        assert_eq!(verdicts.len(), 1);
        assert!(matches!(verdicts[0], ctwatch_cert::sct::SctVerdict::Valid { .. }), "{verdicts:?}");

        // The same by hand: the SCT signs [0, 0] ‖ the logged TimestampedEntry.
        let entry = decode_leaf_input(&fx.log.leaf_input(issued.precert_index).unwrap()).unwrap();
        let sct = &issued.sct;
        assert_eq!(sct[0], 0);
        assert_eq!(&sct[1..33], &fx.log.log_id());
        assert_eq!(u64::from_be_bytes(sct[33..41].try_into().unwrap()), entry.timestamp);
        let ext_len = usize::from(u16::from_be_bytes([sct[41], sct[42]]));
        assert_eq!(&sct[43..43 + ext_len], entry.extensions.as_slice());
        let mut signed = vec![0u8, 0u8];
        signed.extend_from_slice(&entry.encode());
        key.verify_digitally_signed(&signed, &sct[43 + ext_len..]).unwrap();
        signed[10] ^= 1;
        assert!(key.verify_digitally_signed(&signed, &sct[43 + ext_len..]).is_err());

        // Precert and final certificate are one certificate for counting.
        let final_tbs = ctwatch_cert::identity::tbs_of_cert(&issued.final_der).unwrap();
        assert_eq!(
            ctwatch_cert::identity::certificate_identity(&final_tbs).unwrap(),
            ctwatch_cert::identity::certificate_identity(&issued.precert.leaf_tbs).unwrap()
        );
        assert_eq!(
            ctwatch_cert::identity::precert_leaf_tbs(&issued.precert.der, None).unwrap(),
            issued.precert.leaf_tbs
        );
        let again = fx.log.sct_for_entry(issued.precert_index).unwrap();
        assert_eq!(again[..43 + ext_len], sct[..43 + ext_len]);
        signed[10] ^= 1;
        key.verify_digitally_signed(&signed, &again[43 + ext_len..]).unwrap();
    }
    assert!(fx.log.sct_for_entry(10_000).is_err());
}

#[tokio::test]
async fn tiled_view_matches_the_rfc6962_view() {
    let fx = fixture("tiled", 150).await; // 301 entries: one full data tile and a partial one
    let sth = fx.sth().await;
    let (status, text) = fx.bytes(&fx.tiles("checkpoint")).await;
    assert_eq!(status, 200);
    let checkpoint = parse_checkpoint(&text).unwrap();
    let origin = fx.server.origin("tiled");
    assert_eq!(origin, format!("{}/tiled/tiles", fx.server.addr()));
    let verified = verify_checkpoint(&checkpoint, &origin, &fx.key()).unwrap();
    assert_eq!(verified.head, sth.head);

    let (status, full) = fx.bytes(&fx.tiles("tile/data/000")).await;
    assert_eq!(status, 200);
    let (status, partial) = fx.bytes(&fx.tiles("tile/data/001.p/45")).await;
    assert_eq!(status, 200);
    let mut leaves = decode_data_tile(&full).unwrap();
    assert_eq!(leaves.len(), 256);
    leaves.extend(decode_data_tile(&partial).unwrap());
    assert_eq!(leaves.len(), 301);
    let leaf_hashes: Vec<Hash> = leaves.iter().map(|l| leaf_hash(&l.entry.encode_leaf_input())).collect();
    assert_eq!(root_from_leaf_hashes(&leaf_hashes), checkpoint.root_hash);
    for (index, leaf) in leaves.iter().enumerate() {
        assert_eq!(leaf.entry.encode_leaf_input(), fx.log.leaf_input(index as u64).unwrap());
        let issuer_fp = sha256(fx.factory.issuer_der());
        assert_eq!(leaf.chain_fingerprints, vec![issuer_fp, sha256(fx.factory.root_der())]);
        assert_eq!(leaf.pre_certificate.is_some(), index % 2 == 0 && index < 300);
    }

    // Level-0 hash tiles hold the leaf hashes; level 1 the roots of full data tiles.
    let (status, level0) = fx.bytes(&fx.tiles("tile/0/000")).await;
    assert_eq!(status, 200);
    assert_eq!(level0, leaf_hashes[..256].concat());
    let (_, level0_partial) = fx.bytes(&fx.tiles("tile/0/001.p/45")).await;
    assert_eq!(level0_partial, leaf_hashes[256..].concat());
    let (status, level1) = fx.bytes(&fx.tiles("tile/1/000.p/1")).await;
    assert_eq!(status, 200);
    assert_eq!(level1, root_from_leaf_hashes(&leaf_hashes[..256]).to_vec());

    // Nothing beyond the checkpoint.
    for path in [
        "tile/data/001",
        "tile/data/001.p/46",
        "tile/0/001",
        "tile/1/000",
        "tile/1/000.p/2",
        "tile/data/002.p/1",
        "nonsense",
    ] {
        assert_eq!(fx.bytes(&fx.tiles(path)).await.0, 404, "{path}");
    }

    // Issuers by fingerprint.
    let issuer_url = fx.tiles(&format!("issuer/{}", hex(&sha256(fx.factory.issuer_der()))));
    assert_eq!(fx.bytes(&issuer_url).await, (200, fx.factory.issuer_der().to_vec()));
    assert_eq!(fx.bytes(&fx.tiles(&format!("issuer/{}", hex(&[1; 32])))).await.0, 404);

    // Gzip on request.
    fx.log.set_options(LogOptions { gzip_data_tiles: true, ..LogOptions::default() });
    let raw_client = reqwest::Client::builder().no_gzip().build().unwrap();
    let response = raw_client.get(fx.tiles("tile/data/000")).send().await.unwrap();
    assert_eq!(response.headers().get("content-encoding").unwrap(), "gzip");
    let compressed = response.bytes().await.unwrap();
    let mut decompressed = Vec::new();
    std::io::Read::read_to_end(&mut flate2::read::GzDecoder::new(compressed.as_ref()), &mut decompressed).unwrap();
    assert_eq!(decompressed, full);
    // reqwest decompresses transparently.
    assert_eq!(fx.bytes(&fx.tiles("tile/data/000")).await.1, full);

    let stats = fx.log.stats();
    assert_eq!(stats.count(Endpoint::Checkpoint, 200), 1);
    assert_eq!(stats.count(Endpoint::DataTile, 200), 4);
    assert_eq!(stats.count(Endpoint::Issuer, 404), 1);
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[tokio::test]
async fn log_list_points_at_the_served_logs() {
    let a = TestLog::new("list-a", LogSigner::generate());
    let b = TestLog::with_options(
        "list-b",
        LogSigner::generate(),
        LogOptions { listed_as: ListedAs::Tiled, ..LogOptions::default() },
    );
    let server = serve_local(vec![a.clone(), b.clone()]).await.unwrap();
    let list = ctwatch_ct::loglist::parse_log_list(log_list_json(&server, &[a.clone(), b.clone()]).as_bytes()).unwrap();
    assert_eq!(list.logs.len(), 2);
    let now = now_ms() as i64 / 1000;
    for info in &list.logs {
        assert!(info.followed_by_default(now), "{info:?}");
        assert_eq!(info.mmd, 86_400);
    }
    let la = list.logs.iter().find(|l| l.log_id == a.log_id()).unwrap();
    assert_eq!(la.key, a.log_key_spki_der());
    assert_eq!(la.endpoint, ctwatch_ct::loglist::LogEndpoint::Rfc6962 { url: server.url_rfc6962("list-a") });
    let lb = list.logs.iter().find(|l| l.log_id == b.log_id()).unwrap();
    assert_eq!(
        lb.endpoint,
        ctwatch_ct::loglist::LogEndpoint::Static {
            submission_url: server.url_monitoring("list-b"),
            monitoring_url: server.url_monitoring("list-b")
        }
    );

    let both =
        ctwatch_ct::loglist::parse_log_list(log_list_json_with(&server, &[(a.clone(), ListedAs::Both)]).as_bytes())
            .unwrap();
    assert_eq!(both.logs.len(), 2);
    assert!(both.logs.iter().all(|l| l.log_id == a.log_id()));
    assert!(serve_local(vec![a.clone(), a]).await.is_err(), "two logs with one name");
    server.shutdown().await;
}

// ---- misbehaviour ----

#[tokio::test]
async fn tree_head_misbehaviours_are_observable() {
    let fx = fixture("heads", 4).await; // 9 entries
    let key = fx.key();
    let honest = fx.sth().await;
    verify_sth(&key, &honest).unwrap();
    let entries = fx.all_entries(9).await;

    fx.log.set_misbehaviour(Misbehaviour::BadSthSignature);
    let bad = fx.sth().await;
    assert_eq!(bad.head, honest.head);
    assert!(verify_sth(&key, &bad).is_err());
    let checkpoint = parse_checkpoint(&fx.bytes(&fx.tiles("checkpoint")).await.1).unwrap();
    assert!(verify_checkpoint(&checkpoint, &fx.server.origin("heads"), &key).is_err());

    fx.log.set_misbehaviour(Misbehaviour::WrongRootHash);
    let wrong = fx.sth().await;
    verify_sth(&key, &wrong).unwrap();
    assert_eq!(wrong.head.tree_size, 9);
    assert_ne!(wrong.head.root_hash, root_of(&entries));

    fx.log.set_misbehaviour(Misbehaviour::Rollback { to_size: 5 });
    let rolled = fx.sth().await;
    verify_sth(&key, &rolled).unwrap();
    assert_eq!(rolled.head.tree_size, 5);
    assert_eq!(rolled.head.root_hash, root_of(&entries[..5]));

    fx.log.set_misbehaviour(Misbehaviour::StaleSth);
    let stale = fx.sth().await;
    verify_sth(&key, &stale).unwrap();
    assert!(stale.head.timestamp + 86_400_000 < now_ms());

    fx.log.clear_misbehaviour();
    assert_eq!(fx.sth().await.head, honest.head);
}

#[tokio::test]
async fn split_view_breaks_consistency_with_earlier_heads() {
    let fx = fixture("split", 4).await; // 9 entries
    let key = fx.key();
    let before = fx.sth().await;
    for i in 0..5 {
        fx.log
            .add_x509_entry(
                &fx.factory.x509(&LeafSpec::new([format!("s{i}.example")])).unwrap(),
                fx.factory.chain(),
                now_ms(),
            )
            .unwrap();
    }
    fx.log.set_misbehaviour(Misbehaviour::SplitView { from_index: 3 });
    fx.log.publish();
    let after = fx.sth().await;
    verify_sth(&key, &after).unwrap();
    assert_eq!(after.head.tree_size, 14);
    assert_ne!(after.head.root_hash, fx.log.root_at(14));

    let (a, b) = (before.head.tree_size, after.head.tree_size);
    let (status, body) = fx.json(&fx.ct(&format!("get-sth-consistency?first={a}&second={b}"))).await;
    assert_eq!(status, 200);
    let proof = hashes(&body["consistency"]);
    assert!(verify_consistency(a, b, &before.head.root_hash, &after.head.root_hash, &proof).is_err());

    // The fork is internally consistent: its entries build its root, and the leaves before
    // the fork point are the real ones.
    let forked = fx.all_entries(b).await;
    assert_eq!(root_of(&forked), after.head.root_hash);
    assert_eq!(forked[2].0, fx.log.leaf_input(2).unwrap());
    assert_ne!(forked[3].0, fx.log.leaf_input(3).unwrap());
    let (_, tile) = fx.bytes(&fx.tiles("tile/0/000.p/14")).await;
    let tile_hashes: Vec<&[u8]> = tile.chunks(32).collect();
    assert_eq!(tile_hashes[3], leaf_hash(&forked[3].0));

    fx.log.clear_misbehaviour();
    let honest = fx.sth().await;
    assert_eq!(honest.head.root_hash, fx.log.root_at(14));
    let (_, body) = fx.json(&fx.ct(&format!("get-sth-consistency?first={a}&second={b}"))).await;
    verify_consistency(a, b, &before.head.root_hash, &honest.head.root_hash, &hashes(&body["consistency"])).unwrap();
}

#[tokio::test]
async fn malformed_entries_corrupt_or_hashed() {
    let fx = fixture("malformed", 3).await; // 7 entries
    let sth = fx.sth().await;

    fx.log.set_misbehaviour(Misbehaviour::CorruptLeafBytes { index: 2 });
    let entries = fx.all_entries(7).await;
    assert_ne!(root_of(&entries), sth.head.root_hash);
    for (index, (leaf, _)) in entries.iter().enumerate() {
        assert_eq!(leaf == &fx.log.leaf_input(index as u64).unwrap(), index != 2, "entry {index}");
    }
    let (_, tile) = fx.bytes(&fx.tiles("tile/data/000.p/7")).await;
    assert_ne!(tile, {
        fx.log.clear_misbehaviour();
        fx.bytes(&fx.tiles("tile/data/000.p/7")).await.1
    });
    assert_eq!(root_of(&fx.all_entries(7).await), sth.head.root_hash);

    // A genuinely malformed entry, correctly hashed: the root verifies, the entry does not decode.
    let garbage = b"\x00\x00this is no MerkleTreeLeaf".to_vec();
    let index = fx.log.add_raw_entry(garbage.clone(), vec![1, 2, 3]).unwrap();
    let published = fx.log.publish();
    verify_sth(&fx.key(), &published).unwrap();
    let entries = fx.all_entries(8).await;
    assert_eq!(root_of(&entries), published.head.root_hash);
    assert_eq!(entries[index as usize], (garbage.clone(), vec![1, 2, 3]));
    assert!(decode_leaf_input(&garbage).is_err());
    assert!(decode_extra_data(EntryType::X509, &entries[index as usize].1).is_err());
}

#[tokio::test]
async fn batch_misbehaviours_are_observable() {
    let fx = fixture("batches", 5).await; // 11 entries
    let honest = fx.entries(0, 10).await.1;
    assert_eq!(honest.len(), 11);

    fx.log.set_misbehaviour(Misbehaviour::ShortBatches { max: 3 });
    assert_eq!(fx.entries(0, 10).await.1, honest[..3]);
    fx.log.set_misbehaviour(Misbehaviour::EmptyBatches);
    assert_eq!(fx.entries(0, 10).await, (200, vec![]));
    fx.log.set_misbehaviour(Misbehaviour::DuplicatedEntries);
    let duplicated = fx.entries(0, 10).await.1;
    assert_eq!(duplicated.len(), 11);
    assert_eq!(duplicated[1], honest[0]);
    fx.log.set_misbehaviour(Misbehaviour::ReorderedEntries);
    let reordered = fx.entries(0, 10).await.1;
    assert_eq!((&reordered[0], &reordered[1]), (&honest[1], &honest[0]));
    assert_eq!(reordered[2..], honest[2..]);
    fx.log.set_misbehaviour(Misbehaviour::OutOfRangeEntries);
    assert_eq!(fx.entries(0, 3).await.1, honest[..5]);
    // At the published end there is nothing more to add unless the log holds more.
    assert_eq!(fx.entries(8, 10).await.1, honest[8..]);
}

#[tokio::test]
async fn body_misbehaviours_are_observable() {
    let fx = fixture("bodies", 1).await;
    fx.log.set_misbehaviour(Misbehaviour::GarbageJson);
    let (status, text) = fx.bytes(&fx.ct("get-sth")).await;
    assert_eq!(status, 200);
    assert!(serde_json::from_slice::<Value>(&text).is_err());

    fx.log.set_misbehaviour(Misbehaviour::TruncatedJson);
    let (status, text) = fx.bytes(&fx.ct("get-entries?start=0&end=2")).await;
    assert_eq!(status, 200);
    assert!(serde_json::from_slice::<Value>(&text).is_err());
    assert!(!text.is_empty());

    fx.log.set_misbehaviour(Misbehaviour::Oversized { bytes: 200_000 });
    let (status, text) = fx.bytes(&fx.ct("get-sth")).await;
    assert_eq!(status, 200);
    assert!(text.len() >= 200_000);
    let value: Value = serde_json::from_slice(&text).unwrap();
    assert!(value["tree_size"].is_u64());

    fx.log.set_misbehaviour(Misbehaviour::ResetConnection { every_n: 1 });
    let result = fx.client.get(fx.ct("get-sth")).send().await;
    let failed = match result {
        Err(_) => true,
        Ok(response) => response.bytes().await.is_err(),
    };
    assert!(failed, "the body must not arrive whole");
    assert_eq!(fx.log.stats().resets, 1);

    fx.log.set_misbehaviour(Misbehaviour::Stall { ms: 150 });
    let started = Instant::now();
    assert_eq!(fx.json(&fx.ct("get-sth")).await.0, 200);
    assert!(started.elapsed().as_millis() >= 150);

    fx.log.set_misbehaviour(Misbehaviour::PartialTileForever);
    assert_eq!(fx.bytes(&fx.tiles("tile/data/000.p/3")).await.0, 200);
    let big = fixture("bigtiles", 128).await; // 257 entries: tile 0 is full
    big.log.set_misbehaviour(Misbehaviour::PartialTileForever);
    assert_eq!(big.bytes(&big.tiles("tile/data/000")).await.0, 404);
    assert_eq!(big.bytes(&big.tiles("tile/0/000")).await.0, 404);
    assert_eq!(big.bytes(&big.tiles("tile/data/000.p/255")).await.0, 200);
    big.log.clear_misbehaviour();
    assert_eq!(big.bytes(&big.tiles("tile/data/000")).await.0, 200);
}

#[tokio::test]
async fn error_status_misbehaviours_and_rate_limit_are_counted() {
    let fx = fixture("errors", 1).await;
    fx.log.set_misbehaviour(Misbehaviour::TooManyRequests { every_n: 2, retry_after_secs: 7 });
    let mut statuses = Vec::new();
    for _ in 0..4 {
        let response = fx.get(&fx.ct("get-sth")).await;
        if response.status() == 429 {
            assert_eq!(response.headers().get("retry-after").unwrap(), "7");
        }
        statuses.push(response.status().as_u16());
    }
    assert_eq!(statuses, [200, 429, 200, 429]);

    fx.log.set_misbehaviour(Misbehaviour::ServerError { every_n: 3 });
    let mut statuses = Vec::new();
    for _ in 0..3 {
        statuses.push(fx.get(&fx.tiles("checkpoint")).await.status().as_u16());
    }
    // The request counter keeps running: requests 5, 6, 7; the 6th is a multiple of 3.
    assert_eq!(statuses, [200, 500, 200]);
    let stats = fx.log.stats();
    assert_eq!(stats.status(429), 2);
    assert_eq!(stats.status(500), 1);
    assert_eq!(stats.count(Endpoint::Checkpoint, 500), 1);
    assert_eq!(stats.rate_limited, 0);
    assert_eq!(stats.total, 7);

    fx.log.clear_misbehaviour();
    fx.log.reset_stats();
    fx.log.set_options(LogOptions {
        rate_limit: Some(RateLimit { per_second: 0.01, burst: 2.0 }),
        ..LogOptions::default()
    });
    let mut statuses = Vec::new();
    for _ in 0..4 {
        let response = fx.get(&fx.ct("get-sth")).await;
        if response.status() == 429 {
            let wait: u64 = response.headers().get("retry-after").unwrap().to_str().unwrap().parse().unwrap();
            assert!(wait >= 1);
        }
        statuses.push(response.status().as_u16());
    }
    assert_eq!(statuses, [200, 200, 429, 429]);
    let stats = fx.log.stats();
    assert_eq!((stats.rate_limited, stats.status(429), stats.count(Endpoint::GetSth, 200)), (2, 2, 2));
    // Unknown logs and paths.
    assert_eq!(fx.bytes(&format!("{}nolog/ct/v1/get-sth", fx.server.base_url())).await.0, 404);
}
