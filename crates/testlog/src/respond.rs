//! What each endpoint answers, misbehaviour included, as plain [`Reply`] values; the HTTP
//! layer ([`crate::server`]) only moves bytes.

use std::collections::HashMap;
use std::io::Write;

use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use ctwatch_ct::Hash;
use ctwatch_ct::tile::{TILE_WIDTH, parse_tile_path};
use serde_json::json;

use crate::log::{Endpoint, LogState, Misbehaviour, Stored, TestLog};

/// A response to send.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Reply {
    pub(crate) status: u16,
    pub(crate) content_type: &'static str,
    pub(crate) body: Vec<u8>,
    pub(crate) retry_after: Option<u64>,
    pub(crate) gzip: bool,
    /// Send the header and part of the body, then cut the connection.
    pub(crate) reset: bool,
    /// Wait this long before answering.
    pub(crate) stall_ms: u64,
}

impl Reply {
    fn new(status: u16, content_type: &'static str, body: Vec<u8>) -> Reply {
        Reply { status, content_type, body, retry_after: None, gzip: false, reset: false, stall_ms: 0 }
    }

    fn text(status: u16, message: impl Into<String>) -> Reply {
        Reply::new(status, "text/plain; charset=utf-8", message.into().into_bytes())
    }

    fn json(value: &serde_json::Value) -> Reply {
        Reply::new(200, "application/json", value.to_string().into_bytes())
    }

    fn bytes(body: Vec<u8>) -> Reply {
        Reply::new(200, "application/octet-stream", body)
    }
}

/// One request to a log, already split from the URL.
#[derive(Debug)]
pub(crate) enum Request<'a> {
    /// `ct/v1/<name>` with its query parameters.
    Rfc6962 { endpoint: &'a str, query: &'a HashMap<String, String> },
    /// A path under the monitoring prefix; `origin` is the checkpoint origin of that prefix.
    Tiles { path: &'a str, origin: &'a str },
}

fn classify(request: &Request<'_>) -> Endpoint {
    match request {
        Request::Rfc6962 { endpoint, .. } => match *endpoint {
            "get-sth" => Endpoint::GetSth,
            "get-sth-consistency" => Endpoint::GetSthConsistency,
            "get-proof-by-hash" => Endpoint::GetProofByHash,
            "get-entries" => Endpoint::GetEntries,
            "get-roots" => Endpoint::GetRoots,
            _ => Endpoint::Unknown,
        },
        Request::Tiles { path, .. } => {
            if *path == "checkpoint" {
                Endpoint::Checkpoint
            } else if path.starts_with("tile/data/") {
                Endpoint::DataTile
            } else if path.starts_with("tile/") {
                Endpoint::HashTile
            } else if path.starts_with("issuer/") {
                Endpoint::Issuer
            } else {
                Endpoint::Unknown
            }
        }
    }
}

/// Answer `request` for `log`, counting it.
pub(crate) fn respond(log: &TestLog, request: &Request<'_>) -> Reply {
    let endpoint = classify(request);
    let mut state = log.lock();
    let mut reply = gate(&mut state).unwrap_or_else(|| match request {
        Request::Rfc6962 { query, .. } => rfc6962(&state, endpoint, query),
        Request::Tiles { path, origin } => tiles(&state, endpoint, path, origin),
    });
    if reply.status == 200 && !reply.reset && reply.content_type == "application/json" {
        mangle_json(&state, &mut reply);
    }
    if reply.reset {
        state.stats.resets += 1;
    }
    state.stats.record(endpoint, reply.status);
    reply.stall_ms = state.misbehaviours.iter().fold(0, |acc, m| match m {
        Misbehaviour::Stall { ms } => acc.max(*ms),
        _ => acc,
    });
    drop(state);
    if reply.gzip {
        reply.body = gzip(&reply.body);
    }
    reply
}

/// The rate limit and the every-n-th misbehaviours: a reply that replaces the real one.
fn gate(state: &mut LogState) -> Option<Reply> {
    if let Err(wait) = state.take_token() {
        state.stats.rate_limited += 1;
        let mut reply = Reply::text(429, "rate limit exceeded");
        reply.retry_after = Some(wait);
        return Some(reply);
    }
    state.request_number += 1;
    let n = state.request_number;
    let hits = |every_n: u64| every_n != 0 && n.is_multiple_of(every_n);
    for m in &state.misbehaviours {
        match m {
            Misbehaviour::TooManyRequests { every_n, retry_after_secs } if hits(*every_n) => {
                let mut reply = Reply::text(429, "too many requests (misbehaviour)");
                reply.retry_after = Some(*retry_after_secs);
                return Some(reply);
            }
            Misbehaviour::ServerError { every_n } if hits(*every_n) => {
                return Some(Reply::text(500, "internal server error (misbehaviour)"));
            }
            Misbehaviour::ResetConnection { every_n } if hits(*every_n) => {
                let mut reply = Reply::json(&json!({ "entries": [] }));
                reply.reset = true;
                return Some(reply);
            }
            _ => {}
        }
    }
    None
}

fn param(query: &HashMap<String, String>, name: &str) -> Result<u64, Reply> {
    let value = query.get(name).ok_or_else(|| Reply::text(400, format!("missing parameter {name}")))?;
    value.parse().map_err(|_| Reply::text(400, format!("parameter {name}={value:?} is not a number")))
}

fn rfc6962(state: &LogState, endpoint: Endpoint, query: &HashMap<String, String>) -> Reply {
    let result = match endpoint {
        Endpoint::GetSth => Ok(get_sth(state)),
        Endpoint::GetSthConsistency => get_sth_consistency(state, query),
        Endpoint::GetProofByHash => get_proof_by_hash(state, query),
        Endpoint::GetEntries => get_entries(state, query),
        Endpoint::GetRoots => Ok(get_roots(state)),
        _ => Err(Reply::text(404, "unknown endpoint")),
    };
    result.unwrap_or_else(|reply| reply)
}

fn get_sth(state: &LogState) -> Reply {
    let sth = &state.served;
    Reply::json(&json!({
        "tree_size": sth.head.tree_size,
        "timestamp": sth.head.timestamp,
        "sha256_root_hash": B64.encode(sth.head.root_hash),
        "tree_head_signature": B64.encode(&sth.signature),
    }))
}

fn hashes_json(hashes: &[Hash]) -> Vec<String> {
    hashes.iter().map(|h| B64.encode(h)).collect()
}

fn get_sth_consistency(state: &LogState, query: &HashMap<String, String>) -> Result<Reply, Reply> {
    let first = param(query, "first")?;
    let second = param(query, "second")?;
    let size = state.published.tree_size;
    if first > second || second > size {
        return Err(Reply::text(400, format!("need first <= second <= {size}, got first={first} second={second}")));
    }
    let proof = state.view_tree().consistency_proof(first, second);
    Ok(Reply::json(&json!({ "consistency": hashes_json(&proof) })))
}

fn get_proof_by_hash(state: &LogState, query: &HashMap<String, String>) -> Result<Reply, Reply> {
    let tree_size = param(query, "tree_size")?;
    let size = state.published.tree_size;
    if tree_size == 0 || tree_size > size {
        return Err(Reply::text(400, format!("tree_size={tree_size} is not in 1..={size}")));
    }
    let text = query.get("hash").ok_or_else(|| Reply::text(400, "missing parameter hash"))?;
    // A '+' that was not percent-encoded arrives as a space.
    let decoded = B64.decode(text.replace(' ', "+")).map_err(|_| Reply::text(400, "hash is not base64"))?;
    let hash: Hash = decoded.try_into().map_err(|_| Reply::text(400, "hash is not 32 bytes"))?;
    match state.view_index_of(&hash) {
        Some(index) if index < tree_size => {
            let proof = state.view_tree().inclusion_proof(index, tree_size);
            Ok(Reply::json(&json!({ "leaf_index": index, "audit_path": hashes_json(&proof) })))
        }
        _ => Err(Reply::text(404, format!("no leaf with that hash in the first {tree_size} entries"))),
    }
}

fn get_entries(state: &LogState, query: &HashMap<String, String>) -> Result<Reply, Reply> {
    let start = param(query, "start")?;
    let end = param(query, "end")?;
    let size = state.published.tree_size;
    if start > end || start >= size {
        return Err(Reply::text(400, format!("need start <= end and start < {size}, got start={start} end={end}")));
    }
    let mut max = state.options.max_batch.max(1);
    let mut empty = false;
    let (mut duplicate, mut reorder, mut beyond) = (false, false, false);
    let mut corrupt = Vec::new();
    for m in &state.misbehaviours {
        match m {
            Misbehaviour::ShortBatches { max: short } => max = max.min((*short).max(1)),
            Misbehaviour::EmptyBatches => empty = true,
            Misbehaviour::DuplicatedEntries => duplicate = true,
            Misbehaviour::ReorderedEntries => reorder = true,
            Misbehaviour::OutOfRangeEntries => beyond = true,
            Misbehaviour::CorruptLeafBytes { index } => corrupt.push(*index),
            _ => {}
        }
    }
    let mut last = end.min(size - 1).min(start + max - 1);
    if beyond {
        // One past what was asked for; `view_entry` below stops at the entries the log holds.
        last = end.min(start.saturating_add(max - 1)).saturating_add(1);
    }
    // The body is written directly (no intermediate JSON values): get-entries is the hot path
    // of every catch-up benchmark, and the log holds its lock while answering.
    let mut entries: Vec<String> = Vec::new();
    let mut extra = Vec::new();
    if !empty {
        for index in start..=last {
            let Some(stored) = state.view_entry(index) else { break };
            let mut leaf_input = stored.leaf_input();
            if corrupt.contains(&index) {
                flip_middle_byte(&mut leaf_input, 0);
            }
            extra.clear();
            state.write_extra_data(&stored, &mut extra);
            let mut item = String::with_capacity((leaf_input.len() + extra.len()) * 4 / 3 + 40);
            item.push_str("{\"leaf_input\":\"");
            B64.encode_string(&leaf_input, &mut item);
            item.push_str("\",\"extra_data\":\"");
            B64.encode_string(&extra, &mut item);
            item.push_str("\"}");
            entries.push(item);
        }
    }
    if duplicate && entries.len() >= 2 {
        entries[1] = entries[0].clone();
    }
    if reorder && entries.len() >= 2 {
        entries.swap(0, 1);
    }
    let mut body = String::with_capacity(entries.iter().map(|e| e.len() + 1).sum::<usize>() + 16);
    body.push_str("{\"entries\":[");
    body.push_str(&entries.join(","));
    body.push_str("]}");
    Ok(Reply::new(200, "application/json", body.into_bytes()))
}

/// Flip the byte in the middle of a leaf_input (inside the certificate for any real entry);
/// `offset` is how many leading bytes the encoding at hand lacks compared to a leaf_input.
fn flip_middle_byte(bytes: &mut [u8], offset: usize) {
    let position = (bytes.len() + offset) / 2;
    if let Some(byte) = position.checked_sub(offset).and_then(|p| bytes.get_mut(p)) {
        *byte ^= 0xff;
    }
}

fn get_roots(state: &LogState) -> Reply {
    let certificates: Vec<String> =
        state.roots.iter().filter_map(|fp| state.issuers.get(fp)).map(|der| B64.encode(der.as_ref())).collect();
    Reply::json(&json!({ "certificates": certificates }))
}

fn tiles(state: &LogState, endpoint: Endpoint, path: &str, origin: &str) -> Reply {
    match endpoint {
        Endpoint::Checkpoint => {
            let text = ctwatch_ct::checkpoint::format_checkpoint(origin, &state.served, &state.log_id);
            Reply::new(200, "text/plain; charset=utf-8", text.into_bytes())
        }
        Endpoint::Issuer => issuer(state, path),
        Endpoint::HashTile | Endpoint::DataTile => tile(state, path),
        _ => Reply::text(404, "not found"),
    }
}

fn issuer(state: &LogState, path: &str) -> Reply {
    let hex = path.strip_prefix("issuer/").unwrap_or_default();
    let fingerprint = decode_hex32(hex);
    match fingerprint.and_then(|fp| state.issuers.get(&fp)) {
        Some(der) => Reply::new(200, "application/pkix-cert", der.as_ref().clone()),
        None => Reply::text(404, "unknown issuer"),
    }
}

fn decode_hex32(text: &str) -> Option<Hash> {
    if text.len() != 64 || !text.is_ascii() {
        return None;
    }
    let mut out = [0u8; 32];
    for (byte, pair) in out.iter_mut().zip(text.as_bytes().chunks(2)) {
        *byte = u8::from_str_radix(std::str::from_utf8(pair).ok()?, 16).ok()?;
    }
    Some(out)
}

fn tile(state: &LogState, path: &str) -> Reply {
    let Some((level, index, width)) = parse_tile_path(path) else {
        return Reply::text(404, "not a tile path");
    };
    if width == 0 || width > TILE_WIDTH {
        return Reply::text(404, "bad tile width");
    }
    if width == TILE_WIDTH && state.misbehaving(|m| matches!(m, Misbehaviour::PartialTileForever)) {
        return Reply::text(404, "full tiles are not served (misbehaviour)");
    }
    let size = state.published.tree_size;
    let Some(first) = index.checked_mul(TILE_WIDTH) else {
        return Reply::text(404, "tile index out of range");
    };
    match level {
        None => {
            if first.saturating_add(width) > size {
                return Reply::text(
                    404,
                    format!("data tile {index} width {width} is beyond the published size {size}"),
                );
            }
            let corrupt: Vec<u64> = state
                .misbehaviours
                .iter()
                .filter_map(|m| match m {
                    Misbehaviour::CorruptLeafBytes { index } => Some(*index),
                    _ => None,
                })
                .collect();
            let mut body = Vec::new();
            for i in first..first + width {
                let Some(stored) = state.view_entry(i) else {
                    return Reply::text(404, "entry missing");
                };
                let mut leaf = LogState::tile_leaf(&stored);
                if corrupt.contains(&i) {
                    let tbs_len = match &stored {
                        Stored::Cert(leaf) => leaf.entry.encode().len(),
                        Stored::Raw { leaf_input, .. } => leaf_input.len().saturating_sub(2),
                    };
                    // Flip the same byte get-entries flips, inside the TimestampedEntry.
                    if let Some(entry_part) = leaf.get_mut(..tbs_len) {
                        flip_middle_byte(entry_part, 2);
                    }
                }
                body.extend_from_slice(&leaf);
            }
            let mut reply = Reply::bytes(body);
            reply.gzip = state.options.gzip_data_tiles;
            reply
        }
        Some(level) => {
            let tree_level = usize::from(level) * 8;
            let nodes_at_level = if tree_level >= 64 { 0 } else { size >> tree_level };
            if first.saturating_add(width) > nodes_at_level {
                return Reply::text(
                    404,
                    format!("hash tile {level}/{index} width {width} is beyond the published size {size}"),
                );
            }
            match state.view_tree().nodes(tree_level, first, width) {
                Some(hashes) => Reply::bytes(hashes.concat()),
                None => Reply::text(404, "tile not available"),
            }
        }
    }
}

/// Apply the JSON body misbehaviours to a successful JSON reply.
fn mangle_json(state: &LogState, reply: &mut Reply) {
    for m in &state.misbehaviours {
        match m {
            Misbehaviour::GarbageJson => reply.body = b"<html>this is not JSON {\"tree_size\":".to_vec(),
            Misbehaviour::TruncatedJson => {
                let half = reply.body.len() / 2;
                reply.body.truncate(half);
            }
            Misbehaviour::Oversized { bytes } if reply.body.first() == Some(&b'{') && reply.body.len() < *bytes => {
                let pad = bytes - reply.body.len();
                let mut body = Vec::with_capacity(*bytes + 16);
                body.extend_from_slice(b"{\"padding\":\"");
                body.resize(body.len() + pad, b'a');
                body.extend_from_slice(b"\"");
                if reply.body.len() > 2 {
                    body.push(b',');
                }
                body.extend_from_slice(reply.body.get(1..).unwrap_or_default());
                reply.body = body;
            }
            _ => {}
        }
    }
}

fn gzip(body: &[u8]) -> Vec<u8> {
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    // Writing to a Vec cannot fail.
    let _ = encoder.write_all(body);
    encoder.finish().unwrap_or_default()
}
