//! Writes the seed corpora of the fuzz targets from the shared real-world test data
//! (`$CTWATCH_DATA_DIR`, default `../shared/data` beside the repository).
//!
//! Usage: `seed [OUT_DIR]` (default: `corpus/` in the fuzz crate). Each target gets
//! `OUT_DIR/<target>/seed-<sha256 prefix>` files; existing files are kept, so the corpus
//! libFuzzer grew in earlier runs survives. Nothing is copied into the repository: the corpus
//! directory is ignored by git and rebuilt by `.ci/fuzz.sh` on every run.

use std::collections::BTreeMap;
use std::error::Error;
use std::fs;
use std::path::{Path, PathBuf};

use base64::Engine;
use ctwatch_ct::checkpoint;
use ctwatch_ct::sth::TreeHead;
use ctwatch_ct::wire::{self, SignedEntry};

type Result<T> = std::result::Result<T, Box<dyn Error>>;

const B64: base64::engine::GeneralPurpose = base64::engine::general_purpose::STANDARD;

/// Largest number of certificates taken from the CT tiles (per tile) as certificate seeds.
const TILE_CERT_SEEDS: usize = 12;

/// Seeds collected per target, keyed by content so duplicates collapse.
#[derive(Debug, Default)]
struct Seeds {
    by_target: BTreeMap<&'static str, BTreeMap<String, Vec<u8>>>,
}

impl Seeds {
    fn add(&mut self, target: &'static str, bytes: Vec<u8>) {
        let name = format!("seed-{}", hex_prefix(&ctwatch_ct::sha256(&bytes)));
        self.by_target.entry(target).or_default().insert(name, bytes);
    }

    /// A certificate (or TBS) seeds both certificate targets.
    fn add_cert(&mut self, der: Vec<u8>) {
        self.add("lint", der.clone());
        self.add("cert_facts", der);
    }

    fn write(&self, out: &Path) -> Result<()> {
        for (target, seeds) in &self.by_target {
            let dir = out.join(target);
            fs::create_dir_all(&dir)?;
            for (name, bytes) in seeds {
                fs::write(dir.join(name), bytes)?;
            }
            println!("{target}: {} seeds", seeds.len());
        }
        Ok(())
    }
}

fn main() {
    if let Err(e) = run() {
        eprintln!("seed: {e}");
        std::process::exit(1);
    }
}

fn run() -> Result<()> {
    let out = match std::env::args_os().nth(1) {
        Some(dir) => PathBuf::from(dir),
        None => Path::new(env!("CARGO_MANIFEST_DIR")).join("corpus"),
    };
    let data = ctwatch_testdata::data_root();
    if !data.is_dir() {
        return Err(format!("test data {} not found (set CTWATCH_DATA_DIR)", data.display()).into());
    }
    let mut seeds = Seeds::default();
    get_entries(&data.join("ct_rfc6962"), &mut seeds)?;
    tiles(&data.join("static_ct_tiles/navigli2025h2/tile/data"), &mut seeds)?;
    checkpoints(&data.join("ct_checkpoints/certspotter_sycamore2024h2"), &mut seeds)?;
    certificates(&data, &mut seeds)?;
    crls(&data.join("cert_lint_oracles/pkilint/integration_crl"), &mut seeds)?;
    key_files(&data.join("compromised_keys/badkeys_testdata/keys"), &mut seeds)?;
    log_lists(&data.join("log_lists"), &mut seeds)?;
    caa(&mut seeds)?;
    configs(Path::new(env!("CARGO_MANIFEST_DIR")).join("../deploy/examples").as_path(), &mut seeds)?;
    seeds.write(&out)
}

/// leaf_input and extra_data of the get-entries responses; their certificates for the
/// certificate targets.
fn get_entries(dir: &Path, seeds: &mut Seeds) -> Result<()> {
    for file in files_under(dir)? {
        if !file.file_name().is_some_and(|n| n.to_string_lossy().starts_with("get-entries")) {
            continue;
        }
        let json: serde_json::Value = serde_json::from_slice(&fs::read(&file)?)?;
        let entries = json.get("entries").and_then(|e| e.as_array()).cloned().unwrap_or_default();
        for entry in entries {
            let field = |name: &str| entry.get(name).and_then(|v| v.as_str()).map(|s| B64.decode(s));
            let (Some(leaf), Some(extra)) = (field("leaf_input"), field("extra_data")) else { continue };
            let (leaf, extra) = (leaf?, extra?);
            if let Ok(decoded) = wire::decode_leaf_input(&leaf) {
                add_entry_certs(&decoded.signed_entry, seeds);
                if let Ok(chain) = wire::decode_extra_data(decoded.signed_entry.entry_type(), &extra) {
                    chain.pre_certificate.into_iter().chain(chain.chain).for_each(|c| seeds.add_cert(c));
                }
            }
            seeds.add("leaf_input", leaf);
            seeds.add("leaf_input", extra);
        }
    }
    Ok(())
}

fn add_entry_certs(entry: &SignedEntry, seeds: &mut Seeds) {
    match entry {
        SignedEntry::X509(cert) => seeds.add_cert(cert.clone()),
        SignedEntry::Precert { tbs_certificate, .. } => seeds.add("cert_facts", tbs_certificate.clone()),
    }
}

/// Data tiles cut into runs of one to three leaves (whole tiles are 400 KB: too slow to
/// mutate), the partial tile whole, their leaves as leaf_input seeds and some certificates.
fn tiles(dir: &Path, seeds: &mut Seeds) -> Result<()> {
    for file in files_under(dir)? {
        let bytes = fs::read(&file)?;
        let leaves = wire::decode_data_tile(&bytes).map_err(|e| format!("{}: {e}", file.display()))?;
        if file.to_string_lossy().contains(".p/") {
            seeds.add("tile", bytes);
        }
        for (i, window) in leaves.chunks(3).take(8).enumerate() {
            let run = window.get(..i % 3 + 1).unwrap_or(window);
            seeds.add("tile", run.iter().flat_map(wire::TileLeaf::encode).collect());
        }
        for leaf in leaves.iter().take(TILE_CERT_SEEDS) {
            seeds.add("leaf_input", leaf.entry.encode_leaf_input());
            add_entry_certs(&leaf.entry.signed_entry, seeds);
            if let Some(pre) = &leaf.pre_certificate {
                seeds.add_cert(pre.clone());
            }
        }
    }
    Ok(())
}

/// The real checkpoints as they are, and each one that parses re-signed by the fixed fuzz key
/// (bare, and with its original extension and foreign signature lines kept).
fn checkpoints(dir: &Path, seeds: &mut Seeds) -> Result<()> {
    let signer = ctwatch_fuzz::checkpoint_signer();
    for file in files_under(dir)? {
        if file.extension().is_none_or(|e| e != "checkpoint") {
            continue;
        }
        let text = fs::read(&file)?;
        if let Ok(parsed) = checkpoint::parse_checkpoint(&text) {
            let timestamp = parsed.signatures.first().and_then(|s| s.signature.first_chunk::<8>()).copied();
            let head = TreeHead {
                tree_size: parsed.tree_size,
                timestamp: u64::from_be_bytes(timestamp.unwrap_or_default()),
                root_hash: parsed.root_hash,
            };
            let sth = signer.sign_tree_head(&head);
            let signed = checkpoint::format_checkpoint(&parsed.origin, &sth, &signer.log_id());
            let reparsed = checkpoint::parse_checkpoint(signed.as_bytes())?;
            checkpoint::verify_checkpoint(&reparsed, &parsed.origin, ctwatch_fuzz::checkpoint_key())
                .map_err(|e| format!("{}: re-signed checkpoint does not verify: {e}", file.display()))?;
            let own_line = signed.lines().last().unwrap_or_default();
            let mut extended = String::from_utf8_lossy(&text).into_owned();
            if !extended.ends_with('\n') {
                extended.push('\n');
            }
            extended.push_str(own_line);
            extended.push('\n');
            seeds.add("checkpoint", signed.into_bytes());
            seeds.add("checkpoint", extended.into_bytes());
        }
        seeds.add("checkpoint", text);
    }
    Ok(())
}

/// PEM and DER certificates of the real-world and pkilint corpora.
fn certificates(data: &Path, seeds: &mut Seeds) -> Result<()> {
    let dirs = ["certs_real_world", "cert_lint_oracles/pkilint/integration_certificate", "ct_rfc6962"];
    for dir in dirs {
        for file in files_under(&data.join(dir))? {
            let name = file.to_string_lossy();
            let bytes = fs::read(&file)?;
            if name.ends_with(".der") {
                seeds.add_cert(bytes);
            } else if name.ends_with(".tbs") {
                seeds.add("cert_facts", bytes);
            } else {
                for (label, der) in pem_blocks(&bytes) {
                    if label == "CERTIFICATE" {
                        seeds.add_cert(der);
                    }
                }
            }
        }
    }
    Ok(())
}

/// pkilint's CRLs as they are, and re-signed by the fixed issuer under its own name (so the
/// plain parse in the `crl` target gets past the issuer and signature checks).
fn crls(dir: &Path, seeds: &mut Seeds) -> Result<()> {
    let fixed_name = ctwatch_fuzz::fixed_issuer_name();
    let issuer = ctwatch_fuzz::crl_issuer(fixed_name.clone());
    let mut accepted = 0;
    for file in files_under(dir)? {
        for (label, der) in pem_blocks(&fs::read(&file)?) {
            if label != "X509 CRL" {
                continue;
            }
            if let Some((resigned, _)) = ctwatch_fuzz::resign_crl(&der, Some(&fixed_name)) {
                if ctwatch_keys::crl::parse_crl(&resigned, &issuer, &Default::default()).is_ok() {
                    accepted += 1;
                }
                seeds.add("crl", resigned);
            }
            seeds.add("crl", der);
        }
    }
    if accepted == 0 {
        return Err("no re-signed CRL seed is accepted by parse_crl".into());
    }
    Ok(())
}

/// badkeys' key files: PEM keys, JWKs, DKIM records and more, the import formats.
fn key_files(dir: &Path, seeds: &mut Seeds) -> Result<()> {
    for file in files_under(dir)? {
        let bytes = fs::read(&file)?;
        if bytes.len() <= 64 << 10 {
            seeds.add("key_import", bytes);
        }
    }
    Ok(())
}

/// The Chrome log lists whole, and cut down to their first operator's first logs.
fn log_lists(dir: &Path, seeds: &mut Seeds) -> Result<()> {
    for file in files_under(dir)? {
        if file.extension().is_none_or(|e| e != "json") {
            continue;
        }
        let bytes = fs::read(&file)?;
        let mut json: serde_json::Value = serde_json::from_slice(&bytes)?;
        if let Some(operators) = json.get_mut("operators").and_then(|o| o.as_array_mut()) {
            operators.retain(|op| op.get("logs").and_then(|l| l.as_array()).is_some_and(|l| !l.is_empty()));
            operators.truncate(2);
            for op in operators.iter_mut() {
                for key in ["logs", "tiled_logs"] {
                    if let Some(logs) = op.get_mut(key).and_then(|l| l.as_array_mut()) {
                        logs.truncate(2);
                    }
                }
            }
        }
        seeds.add("log_list", serde_json::to_vec_pretty(&json)?);
        seeds.add("log_list", bytes);
    }
    Ok(())
}

/// An RRset (RDATA), a certificate name and the CA's identifiers.
type CaaCase = (Vec<Vec<u8>>, &'static str, Vec<&'static str>);

/// CAA inputs (see `ctwatch_fuzz::split_caa_input`): typical RRsets of RFC 8659 and RFC 8657
/// with names and identifiers of real CAs. The shared data has no DNS answers, so these are
/// written here.
fn caa(seeds: &mut Seeds) -> Result<()> {
    let rdata = |flags: u8, tag: &str, value: &str| ctwatch_caa::CaaRecord::new(flags, tag, value).to_rdata();
    let cases: Vec<CaaCase> = vec![
        (vec![rdata(0, "issue", "letsencrypt.org")], "www.example.com", vec!["letsencrypt.org"]),
        (
            vec![rdata(0, "issue", "letsencrypt.org"), rdata(0, "issue", "pki.goog")],
            "example.org",
            vec!["digicert.com"],
        ),
        (
            vec![rdata(
                0,
                "issue",
                "letsencrypt.org; accounturi=https://acme-v02.api.letsencrypt.org/acme/acct/1; validationmethods=dns-01",
            )],
            "a.example.net",
            vec!["letsencrypt.org"],
        ),
        (
            vec![rdata(0, "issue", ";"), rdata(0, "issuewild", "sectigo.com")],
            "*.example.com",
            vec!["sectigo.com", "comodoca.com"],
        ),
        (
            vec![rdata(128, "tbs", "Unknown"), rdata(0, "issue", "pki.hinet.net")],
            "www.example.gov.tw",
            vec!["pki.hinet.net", "tls.hinet.net"],
        ),
        (
            vec![rdata(0, "iodef", "mailto:security@example.com"), rdata(0, "issue", "amazon.com")],
            "shop.example",
            vec!["amazontrust.com", "amazon.com"],
        ),
        (vec![rdata(0, "issue", "  DigiCert.com. ; ")], "*.www.example.co.uk", vec!["digicert.com", "symantec.com"]),
        (vec![rdata(0, "issuewild", ";"), rdata(0, "issue", "globalsign.com")], "*.example.de", vec!["globalsign.com"]),
        (vec![vec![0, 9, b'i', b's', b's'], vec![0]], "xn--bcher-kva.example", vec!["letsencrypt.org"]),
    ];
    for (id, (records, name, ids)) in (1u16..).zip(cases) {
        let name = name.trim_start_matches("*.");
        let response = dns_response(id, name, &records, id % 3 == 0);
        if let Err(e) = ctwatch_caa::wire::parse_response(&response, id, name) {
            return Err(format!("the CAA response seed for {name} does not parse: {e}").into());
        }
        seeds.add("caa_dns", response);
        seeds.add("caa_rdata", ctwatch_fuzz::join_caa_input(&records, name, &ids));
        if let Some(first) = records.into_iter().next() {
            seeds.add("caa_rdata", first);
        }
    }
    // NXDOMAIN with an SOA, and a CNAME answer, for the `caa_dns` target.
    seeds.add("caa_dns", dns_response(100, "missing.example.com", &[], true));
    let mut cname = dns_header(101, 0, 1, 1, 0);
    push_name(&mut cname, "www.example.com");
    cname.extend_from_slice(&[1, 1, 0, 1]); // CAA, IN
    cname.extend_from_slice(&[0xc0, 12, 0, 5, 0, 1, 0, 0, 0, 60]); // owner -> question, CNAME, IN, TTL
    let mut target = Vec::new();
    push_name(&mut target, "cdn.example.net");
    cname.extend_from_slice(&u16::try_from(target.len()).unwrap_or(0).to_be_bytes());
    cname.extend_from_slice(&target);
    seeds.add("caa_dns", cname);
    Ok(())
}

/// The 12-byte header of a response (QR, RD, RA set) with the given ID, RCODE and counts.
fn dns_header(id: u16, rcode: u8, qd: u16, an: u16, ns: u16) -> Vec<u8> {
    let mut out = id.to_be_bytes().to_vec();
    out.extend_from_slice(&[0x81, 0x80 | rcode]);
    for count in [qd, an, ns, 0] {
        out.extend_from_slice(&count.to_be_bytes());
    }
    out
}

/// An uncompressed domain name.
fn push_name(out: &mut Vec<u8>, name: &str) {
    for label in name.split('.').filter(|l| !l.is_empty()) {
        out.push(u8::try_from(label.len()).unwrap_or(63));
        out.extend_from_slice(label.as_bytes());
    }
    out.push(0);
}

/// A response to a CAA query for `name` carrying `records` (owner: the question, by a
/// compression pointer), NXDOMAIN with an SOA in the authority section when `negative`.
fn dns_response(id: u16, name: &str, records: &[Vec<u8>], negative: bool) -> Vec<u8> {
    let answers = if negative { &[][..] } else { records };
    let an = u16::try_from(answers.len()).unwrap_or(0);
    let mut out = dns_header(id, if negative { 3 } else { 0 }, 1, an, u16::from(negative));
    push_name(&mut out, name);
    out.extend_from_slice(&[1, 1, 0, 1]); // CAA, IN
    for rdata in answers {
        out.extend_from_slice(&[0xc0, 12, 1, 1, 0, 1, 0, 0, 0x0e, 0x10]); // owner, CAA, IN, TTL 3600
        out.extend_from_slice(&u16::try_from(rdata.len()).unwrap_or(0).to_be_bytes());
        out.extend_from_slice(rdata);
    }
    if negative {
        out.extend_from_slice(&[0xc0, 12, 0, 6, 0, 1, 0, 0, 0x03, 0x84]); // owner, SOA, IN, TTL 900
        let mut soa = Vec::new();
        push_name(&mut soa, "ns1.example.com");
        push_name(&mut soa, "hostmaster.example.com");
        for field in [2025010101u32, 7200, 3600, 1209600, 300] {
            soa.extend_from_slice(&field.to_be_bytes());
        }
        out.extend_from_slice(&u16::try_from(soa.len()).unwrap_or(0).to_be_bytes());
        out.extend_from_slice(&soa);
    }
    out
}

/// The example configs shipped in `deploy/examples` (the shared data has none).
fn configs(dir: &Path, seeds: &mut Seeds) -> Result<()> {
    for file in files_under(dir)? {
        if file.extension().is_some_and(|e| e == "toml") {
            seeds.add("config", fs::read(&file)?);
        }
    }
    Ok(())
}

/// Every regular file under `dir`, sorted, recursively.
fn files_under(dir: &Path) -> Result<Vec<PathBuf>> {
    let mut out = Vec::new();
    let mut pending = vec![dir.to_path_buf()];
    while let Some(d) = pending.pop() {
        for entry in fs::read_dir(&d).map_err(|e| format!("{}: {e}", d.display()))? {
            let path = entry?.path();
            if path.is_dir() {
                pending.push(path);
            } else {
                out.push(path);
            }
        }
    }
    out.sort();
    Ok(out)
}

/// The `(label, DER)` of every PEM block in `text` whose base64 decodes.
fn pem_blocks(text: &[u8]) -> Vec<(String, Vec<u8>)> {
    let text = String::from_utf8_lossy(text);
    let mut out = Vec::new();
    let mut current: Option<(String, String)> = None;
    for line in text.lines().map(str::trim) {
        if let Some(label) = line.strip_prefix("-----BEGIN ").and_then(|l| l.strip_suffix("-----")) {
            current = Some((label.to_owned(), String::new()));
        } else if line.starts_with("-----END ") {
            if let Some((label, body)) = current.take()
                && let Ok(der) = B64.decode(body)
            {
                out.push((label, der));
            }
        } else if let Some((_, body)) = current.as_mut() {
            body.push_str(line);
        }
    }
    out
}

fn hex_prefix(hash: &[u8; 32]) -> String {
    hash.iter().take(8).map(|b| format!("{b:02x}")).collect()
}
