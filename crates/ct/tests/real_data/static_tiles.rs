//! Real static-ct-api tiles from Geomys' Navigli2025h2 test log.

use std::io::Read;
use std::path::Path;

use ctwatch_ct::Hash;
use ctwatch_ct::merkle::{self, CompactRange};
use ctwatch_ct::wire::{EntryType, SignedEntry, TileLeaf, decode_data_tile};

/// Read a tile, gunzipping it when it starts with the gzip magic bytes.
fn read_tile(path: &Path) -> Vec<u8> {
    let raw = std::fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    if raw.starts_with(&[0x1f, 0x8b]) {
        let mut out = Vec::new();
        flate2::read::GzDecoder::new(raw.as_slice()).read_to_end(&mut out).unwrap();
        out
    } else {
        raw
    }
}

fn hash_tile(path: &Path) -> Vec<Hash> {
    let bytes = read_tile(path);
    assert_eq!(bytes.len() % 32, 0, "{}", path.display());
    bytes.chunks_exact(32).map(|c| c.try_into().unwrap()).collect()
}

/// The first columns of entries_manifest.csv that matter here.
struct ManifestRow {
    index: u64,
    tile: String,
    timestamp: u64,
    entry_type: String,
    leaf_index: u64,
    issuer_key_hash: String,
    leaf_hash_b64: String,
    cert_sha256: String,
    chain: Vec<String>,
}

fn manifest(dir: &Path) -> Vec<ManifestRow> {
    let text = std::fs::read_to_string(dir.join("entries_manifest.csv")).unwrap();
    text.lines()
        .skip(1)
        .map(|line| {
            // The first ten columns never contain quotes or commas.
            let f: Vec<&str> = line.splitn(11, ',').collect();
            ManifestRow {
                index: f[0].parse().unwrap(),
                tile: f[1].to_string(),
                timestamp: f[2].parse().unwrap(),
                entry_type: f[3].to_string(),
                leaf_index: f[4].parse().unwrap(),
                issuer_key_hash: f[5].to_string(),
                leaf_hash_b64: f[6].to_string(),
                cert_sha256: f[8].to_string(),
                chain: f[9].split(';').map(str::to_string).collect(),
            }
        })
        .collect()
}

fn check_tile(tile: &[TileLeaf], hashes: &[Hash], first_index: u64, rows: &[&ManifestRow]) {
    use base64::Engine;
    assert_eq!(tile.len(), hashes.len());
    assert_eq!(tile.len(), rows.len());
    for (i, ((leaf, hash), row)) in tile.iter().zip(hashes).zip(rows).enumerate() {
        let index = first_index + i as u64;
        assert_eq!(row.index, index);
        assert_eq!(leaf.entry.leaf_index_extension(), Some(index), "leaf_index of {index}");
        assert_eq!(row.leaf_index, index);
        assert_eq!(&merkle::leaf_hash(&leaf.entry.encode_leaf_input()), hash, "leaf hash {index}");
        assert_eq!(
            base64::engine::general_purpose::STANDARD.encode(hash),
            row.leaf_hash_b64,
            "manifest leaf hash {index}"
        );
        assert_eq!(leaf.entry.timestamp, row.timestamp, "timestamp {index}");
        assert_eq!(row.entry_type, "precert_entry");
        assert_eq!(leaf.entry.signed_entry.entry_type(), EntryType::Precert);
        let SignedEntry::Precert { issuer_key_hash, tbs_certificate } = &leaf.entry.signed_entry else {
            unreachable!()
        };
        assert_eq!(hex::encode(issuer_key_hash), row.issuer_key_hash, "issuer {index}");
        assert!(!tbs_certificate.is_empty());
        let pre = leaf.pre_certificate.as_ref().expect("precert entries carry pre_certificate");
        assert_eq!(hex::encode(ctwatch_ct::sha256(pre)), row.cert_sha256, "precert {index}");
        let chain: Vec<String> = leaf.chain_fingerprints.iter().map(hex::encode).collect();
        assert_eq!(chain, row.chain, "chain {index}");
        // Re-encoding gives back the same leaf.
        assert_eq!(ctwatch_ct::wire::decode_tile_leaf(&leaf.encode()).unwrap(), *leaf);
    }
}

#[test]
fn navigli_data_tiles_match_hash_tiles_and_manifest() {
    let Some(dir) = ctwatch_testdata::data_dir("static_ct_tiles/navigli2025h2") else {
        return;
    };
    let rows = manifest(&dir);
    assert_eq!(rows.len(), 1034);
    let mut tree = CompactRange::new();
    let mut all_hashes = Vec::new();
    for n in 0..4u64 {
        let name = format!("{n:03}");
        let tile_bytes = read_tile(&dir.join("tile/data").join(&name));
        let tile = decode_data_tile(&tile_bytes).unwrap();
        assert_eq!(tile.len(), 256, "data tile {name}");
        let hashes = hash_tile(&dir.join("tile/0").join(&name));
        assert_eq!(hashes.len(), 256, "hash tile {name}");
        let tile_rows: Vec<&ManifestRow> = rows.iter().filter(|r| r.tile == name).collect();
        check_tile(&tile, &hashes, n * 256, &tile_rows);
        // A full level-0 tile is a perfect subtree of height 8.
        tree.append_subtree(8, merkle::root_from_leaf_hashes(&hashes)).unwrap();
        all_hashes.extend(hashes);
    }
    assert_eq!(tree.size(), 1024);
    assert_eq!(tree.root(), merkle::root_from_leaf_hashes(&all_hashes));

    // The partial tile holds the first 10 entries of tile 003.
    let partial = decode_data_tile(&read_tile(&dir.join("tile/data/003.p/10"))).unwrap();
    assert_eq!(partial.len(), 10);
    let partial_hashes = hash_tile(&dir.join("tile/0/003.p/10"));
    assert_eq!(partial_hashes.len(), 10);
    let partial_rows: Vec<&ManifestRow> = rows.iter().filter(|r| r.tile == "003.p/10").collect();
    check_tile(&partial, &partial_hashes, 768, &partial_rows);
    assert_eq!(&partial_hashes[..], &all_hashes[768..778]);
}

#[test]
fn navigli_truncated_tile_fails() {
    let Some(dir) = ctwatch_testdata::data_dir("static_ct_tiles/navigli2025h2") else {
        return;
    };
    let bytes = read_tile(&dir.join("tile/data/003.p/10"));
    let leaves = decode_data_tile(&bytes).unwrap();
    let first_len = leaves[0].encode().len();
    // Cutting inside the first or last leaf fails; cutting at a leaf boundary is a shorter tile.
    for cut in (1..first_len).step_by(7).chain([bytes.len() - 1]) {
        assert!(decode_data_tile(&bytes[..cut]).is_err(), "cut at {cut}");
    }
    assert_eq!(decode_data_tile(&bytes[..first_len]).unwrap().len(), 1);
    let mut garbage = bytes.clone();
    garbage.push(0);
    assert!(decode_data_tile(&garbage).is_err());
}
