//! C2SP signed-note checkpoints as served by static-ct-api logs at `<monitoring>/checkpoint`.
//!
//! A checkpoint is a note: a body of lines (origin, decimal tree size, base64 root hash,
//! optional extension lines), a blank line, then one or more signature lines
//! `— <key name> <base64(key ID[4] ‖ signature)>` (U+2014 em dash, space). For a CT log the
//! key name is the origin, the key ID is the first 4 bytes of
//! `SHA-256(origin ‖ 0x0A ‖ 0x05 ‖ LogID)`, and the signature is an `RFC6962NoteSignature`:
//! `timestamp u64 ‖ DigitallySigned` over the RFC 6962 tree head signature input.
//!
//! ```
//! use ctwatch_ct::checkpoint::{format_checkpoint, origin_from_url, parse_checkpoint, verify_checkpoint};
//! use ctwatch_ct::sth::{LogSigner, TreeHead};
//!
//! let signer = LogSigner::generate();
//! let origin = origin_from_url("https://log.example/2025h1/");
//! let head = TreeHead { tree_size: 3, timestamp: 1_700_000_000_000, root_hash: [1; 32] };
//! let text = format_checkpoint(&origin, &signer.sign_tree_head(&head), &signer.log_id());
//! let checkpoint = parse_checkpoint(text.as_bytes()).unwrap();
//! let sth = verify_checkpoint(&checkpoint, &origin, &signer.log_key()).unwrap();
//! assert_eq!(sth.head, head);
//! ```

use base64::Engine;

use crate::Hash;
use crate::sth::{DigitallySigned, LogKey, SignedTreeHead, TreeHead};

const B64: base64::engine::GeneralPurpose = base64::engine::general_purpose::STANDARD;

/// The prefix of every signature line: U+2014 EM DASH and a space.
const SIGNATURE_PREFIX: &str = "\u{2014} ";

/// Notes with more signature lines than this are rejected (as the Go note package does), so a
/// hostile log cannot make us hash an unbounded number of lines.
const MAX_SIGNATURE_LINES: usize = 100;

/// Checkpoint parse/verify errors.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum CheckpointError {
    /// The text is not a well-formed checkpoint note.
    #[error("malformed checkpoint: {0}")]
    Malformed(String),
    /// The checkpoint is for another log.
    #[error("checkpoint origin {found:?} is not the expected {expected:?}")]
    WrongOrigin {
        /// The origin the log is configured with.
        expected: String,
        /// The origin in the checkpoint.
        found: String,
    },
    /// No signature line carries the log's name and key ID.
    #[error("no signature from the log key (key id {key_id})")]
    NoSignature {
        /// Hex of the key ID looked for.
        key_id: String,
    },
    /// The log's signature is present but does not verify.
    #[error("signature does not verify: {0}")]
    BadSignature(#[from] crate::sth::SignatureError),
}

/// One `— <name> <base64>` signature line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NoteSignature {
    /// The key name.
    pub name: String,
    /// The first 4 bytes of the decoded signature.
    pub key_id: [u8; 4],
    /// The bytes after the key ID.
    pub signature: Vec<u8>,
}

/// A decoded static-ct-api `RFC6962NoteSignature`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rfc6962NoteSignature {
    /// The STH timestamp, milliseconds since the Unix epoch.
    pub timestamp: u64,
    /// The TLS `DigitallySigned` over the tree head signature input.
    pub signature: Vec<u8>,
}

/// A parsed (not yet verified) checkpoint.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Checkpoint {
    /// First body line: the log's origin (its submission URL without scheme).
    pub origin: String,
    /// Second body line.
    pub tree_size: u64,
    /// Third body line, decoded.
    pub root_hash: Hash,
    /// Extension lines after the root, verbatim.
    pub extensions: Vec<String>,
    /// The note text that signatures cover: everything up to and including the newline before
    /// the blank line.
    pub body: String,
    /// Well-formed signature lines, in order.
    pub signatures: Vec<NoteSignature>,
}

impl Checkpoint {
    /// Find the log's `RFC6962NoteSignature`: the first signature line whose name is the
    /// checkpoint's origin and whose key ID is [`rfc6962_note_key_id`] of `log_id`, decoded as
    /// `timestamp u64 ‖ DigitallySigned`. Signature lines of other keys are ignored.
    pub fn rfc6962_signature(&self, log_id: &Hash) -> Result<Rfc6962NoteSignature, CheckpointError> {
        let key_id = rfc6962_note_key_id(&self.origin, log_id);
        let Some(line) = self.signatures.iter().find(|s| s.name == self.origin && s.key_id == key_id) else {
            return Err(CheckpointError::NoSignature { key_id: hex::encode(key_id) });
        };
        let Some((timestamp, digitally_signed)) = line.signature.split_first_chunk::<8>() else {
            return Err(CheckpointError::Malformed(format!(
                "RFC6962NoteSignature of {} bytes is too short for a timestamp",
                line.signature.len()
            )));
        };
        DigitallySigned::decode(digitally_signed)
            .map_err(|e| CheckpointError::Malformed(format!("RFC6962NoteSignature of {}: {e}", line.name)))?;
        Ok(Rfc6962NoteSignature { timestamp: u64::from_be_bytes(*timestamp), signature: digitally_signed.to_vec() })
    }
}

/// The checkpoint origin of a log: its submission URL without the scheme and without the
/// trailing slash (`https://log.example/2025h1/` → `log.example/2025h1`). static-ct-api
/// defines the origin from the submission prefix; for the logs in Chrome's list the
/// monitoring URL gives the same answer only when both URLs share host and path.
pub fn origin_from_url(url: &str) -> String {
    let without_scheme = ["https://", "http://"]
        .iter()
        .find_map(|scheme| {
            url.get(..scheme.len()).filter(|p| p.eq_ignore_ascii_case(scheme)).and_then(|_| url.get(scheme.len()..))
        })
        .unwrap_or(url);
    without_scheme.trim_end_matches('/').to_string()
}

fn malformed(detail: impl Into<String>) -> CheckpointError {
    CheckpointError::Malformed(detail.into())
}

/// Parse a signed note checkpoint (strict: trailing newline, blank line, well-formed
/// signature lines, decimal size without leading zeros, 32-byte root).
///
/// Every line of the signature block must start with `— `. A signature line that cannot be
/// attributed to a key (no space between name and signature, invalid base64, fewer than 5
/// bytes) is skipped like a signature from an unknown key: verifiers ignore signatures they
/// cannot use, and only the log's own signature matters (see
/// [`Checkpoint::rfc6962_signature`]).
pub fn parse_checkpoint(text: &[u8]) -> Result<Checkpoint, CheckpointError> {
    let text = std::str::from_utf8(text).map_err(|e| malformed(format!("not UTF-8: {e}")))?;
    if let Some(c) = text.chars().find(|c| c.is_control() && *c != '\n') {
        return Err(malformed(format!("control character {c:?} in the note")));
    }
    if !text.ends_with('\n') {
        return Err(malformed("the note does not end with a newline"));
    }
    let Some(split) = text.find("\n\n") else {
        return Err(malformed("no blank line between the body and the signatures"));
    };
    let body = &text[..=split];
    let signature_block = &text[split + 2..];

    let mut lines = body[..body.len() - 1].split('\n');
    let origin = lines.next().unwrap_or_default();
    if origin.is_empty() {
        return Err(malformed("empty origin line"));
    }
    let size_line = lines.next().ok_or_else(|| malformed("missing tree size line"))?;
    let tree_size = parse_size(size_line)?;
    let root_line = lines.next().ok_or_else(|| malformed("missing root hash line"))?;
    let root_hash: Hash = B64
        .decode(root_line)
        .ok()
        .and_then(|bytes| bytes.try_into().ok())
        .ok_or_else(|| malformed(format!("root hash {root_line:?} is not base64 of 32 bytes")))?;
    let extensions: Vec<String> = lines.map(str::to_string).collect();

    if signature_block.is_empty() {
        return Err(malformed("no signature lines"));
    }
    let signature_lines: Vec<&str> = signature_block[..signature_block.len() - 1].split('\n').collect();
    if signature_lines.len() > MAX_SIGNATURE_LINES {
        return Err(malformed(format!(
            "{} signature lines, at most {MAX_SIGNATURE_LINES} allowed",
            signature_lines.len()
        )));
    }
    let mut signatures = Vec::new();
    for line in signature_lines {
        let Some(rest) = line.strip_prefix(SIGNATURE_PREFIX) else {
            return Err(malformed(format!("signature line {line:?} does not start with an em dash and a space")));
        };
        if let Some(signature) = parse_signature_line(rest) {
            signatures.push(signature);
        }
    }
    Ok(Checkpoint { origin: origin.to_string(), tree_size, root_hash, extensions, body: body.to_string(), signatures })
}

/// Parse `<name> <base64>` (after the em dash); `None` when the line cannot name a key.
fn parse_signature_line(rest: &str) -> Option<NoteSignature> {
    let (name, b64) = rest.split_once(' ')?;
    if name.is_empty() || b64.contains(' ') {
        return None;
    }
    let decoded = B64.decode(b64).ok()?;
    let (key_id, signature) = decoded.split_first_chunk::<4>()?;
    if signature.is_empty() {
        return None;
    }
    Some(NoteSignature { name: name.to_string(), key_id: *key_id, signature: signature.to_vec() })
}

/// A decimal tree size: ASCII digits, no sign, no leading zeros (except `0` itself).
fn parse_size(line: &str) -> Result<u64, CheckpointError> {
    let valid = !line.is_empty() && line.bytes().all(|b| b.is_ascii_digit()) && (line == "0" || !line.starts_with('0'));
    if !valid {
        return Err(malformed(format!("tree size {line:?} is not a canonical decimal number")));
    }
    line.parse().map_err(|_| malformed(format!("tree size {line:?} does not fit in 64 bits")))
}

/// static-ct-api key ID: first 4 bytes of SHA-256(origin ‖ 0x0A ‖ 0x05 ‖ log_id).
pub fn rfc6962_note_key_id(origin: &str, log_id: &Hash) -> [u8; 4] {
    let mut input = Vec::with_capacity(origin.len() + 2 + log_id.len());
    input.extend_from_slice(origin.as_bytes());
    input.push(0x0a);
    input.push(0x05);
    input.extend_from_slice(log_id);
    let digest = crate::sha256(&input);
    [digest[0], digest[1], digest[2], digest[3]]
}

/// Find the log's RFC6962NoteSignature (timestamp u64 ‖ DigitallySigned), check origin, verify
/// it as an STH signature, and return the signed tree head. Unknown signatures are ignored.
pub fn verify_checkpoint(
    checkpoint: &Checkpoint,
    expected_origin: &str,
    key: &LogKey,
) -> Result<SignedTreeHead, CheckpointError> {
    if checkpoint.origin != expected_origin {
        return Err(CheckpointError::WrongOrigin {
            expected: expected_origin.to_string(),
            found: checkpoint.origin.clone(),
        });
    }
    let note_signature = checkpoint.rfc6962_signature(&key.log_id)?;
    let sth = SignedTreeHead {
        head: TreeHead {
            tree_size: checkpoint.tree_size,
            timestamp: note_signature.timestamp,
            root_hash: checkpoint.root_hash,
        },
        signature: note_signature.signature,
    };
    crate::sth::verify_sth(key, &sth)?;
    Ok(sth)
}

/// Produce a signed checkpoint text (used by the test log): the body for `sth.head` and one
/// signature line named `origin` carrying `sth.signature` (a `DigitallySigned` made with the
/// key whose LogID is `log_id`), without extension lines.
pub fn format_checkpoint(origin: &str, sth: &SignedTreeHead, log_id: &Hash) -> String {
    let mut blob = rfc6962_note_key_id(origin, log_id).to_vec();
    blob.extend_from_slice(&sth.head.timestamp.to_be_bytes());
    blob.extend_from_slice(&sth.signature);
    format!(
        "{origin}\n{}\n{}\n\n{SIGNATURE_PREFIX}{origin} {}\n",
        sth.head.tree_size,
        B64.encode(sth.head.root_hash),
        B64.encode(blob)
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sth::{LogSigner, SignatureError};

    const ORIGIN: &str = "log.example/2025h1";

    fn head() -> TreeHead {
        TreeHead { tree_size: 123_456, timestamp: 1_750_000_000_123, root_hash: crate::sha256(b"r") }
    }

    fn signed(signer: &LogSigner) -> String {
        format_checkpoint(ORIGIN, &signer.sign_tree_head(&head()), &signer.log_id())
    }

    #[test]
    fn format_parse_verify_roundtrip() {
        let signer = LogSigner::generate();
        let text = signed(&signer);
        assert!(text.starts_with(&format!("{ORIGIN}\n123456\n{}\n\n\u{2014} {ORIGIN} ", B64.encode(head().root_hash))));
        let checkpoint = parse_checkpoint(text.as_bytes()).unwrap();
        assert_eq!(checkpoint.origin, ORIGIN);
        assert_eq!(checkpoint.tree_size, 123_456);
        assert_eq!(checkpoint.root_hash, head().root_hash);
        assert!(checkpoint.extensions.is_empty());
        assert_eq!(checkpoint.body, format!("{ORIGIN}\n123456\n{}\n", B64.encode(head().root_hash)));
        assert_eq!(checkpoint.signatures.len(), 1);
        assert_eq!(checkpoint.signatures[0].key_id, rfc6962_note_key_id(ORIGIN, &signer.log_id()));
        let sth = verify_checkpoint(&checkpoint, ORIGIN, &signer.log_key()).unwrap();
        assert_eq!(sth.head, head());
        crate::sth::verify_sth(&signer.log_key(), &sth).unwrap();
    }

    #[test]
    fn wrong_origin_is_rejected() {
        let signer = LogSigner::generate();
        let checkpoint = parse_checkpoint(signed(&signer).as_bytes()).unwrap();
        assert_eq!(
            verify_checkpoint(&checkpoint, "other.example/2025h1", &signer.log_key()),
            Err(CheckpointError::WrongOrigin { expected: "other.example/2025h1".into(), found: ORIGIN.into() })
        );
    }

    #[test]
    fn tampered_body_fails_verification() {
        let signer = LogSigner::generate();
        let text = signed(&signer);
        let tampered = text.replacen("\n123456\n", "\n123457\n", 1);
        let checkpoint = parse_checkpoint(tampered.as_bytes()).unwrap();
        assert_eq!(
            verify_checkpoint(&checkpoint, ORIGIN, &signer.log_key()),
            Err(CheckpointError::BadSignature(SignatureError::Invalid))
        );
        let other_root = B64.encode(crate::sha256(b"other"));
        let tampered = text.replacen(&B64.encode(head().root_hash), &other_root, 1);
        let checkpoint = parse_checkpoint(tampered.as_bytes()).unwrap();
        assert!(matches!(
            verify_checkpoint(&checkpoint, ORIGIN, &signer.log_key()),
            Err(CheckpointError::BadSignature(_))
        ));
    }

    #[test]
    fn foreign_signatures_are_ignored_but_not_enough() {
        let signer = LogSigner::generate();
        let stranger = LogSigner::generate();
        // Only a stranger signed (same origin name, other key): no signature from our log.
        let foreign_only = parse_checkpoint(signed(&stranger).as_bytes()).unwrap();
        let err = verify_checkpoint(&foreign_only, ORIGIN, &signer.log_key()).unwrap_err();
        assert_eq!(
            err,
            CheckpointError::NoSignature { key_id: hex::encode(rfc6962_note_key_id(ORIGIN, &signer.log_id())) }
        );
        // A witness cosignature before ours is skipped.
        let ours = signed(&signer);
        let (body, our_line) = ours.split_once("\n\n").unwrap();
        let witness = format!("\u{2014} witness.example {}\n", B64.encode([9u8; 72]));
        let both = format!("{body}\n\n{witness}{our_line}");
        let checkpoint = parse_checkpoint(both.as_bytes()).unwrap();
        assert_eq!(checkpoint.signatures.len(), 2);
        verify_checkpoint(&checkpoint, ORIGIN, &signer.log_key()).unwrap();
        // Our key ID under another name does not count.
        let renamed = ours.replacen(&format!("\u{2014} {ORIGIN} "), "\u{2014} someone.else ", 1);
        let checkpoint = parse_checkpoint(renamed.as_bytes()).unwrap();
        assert!(matches!(
            verify_checkpoint(&checkpoint, ORIGIN, &signer.log_key()),
            Err(CheckpointError::NoSignature { .. })
        ));
    }

    #[test]
    fn extension_lines_are_kept_and_signed() {
        let signer = LogSigner::generate();
        let text = signed(&signer);
        let (body, sigs) = text.split_once("\n\n").unwrap();
        let with_ext = format!("{body}\nextension one\nextension two\n\n{sigs}");
        let checkpoint = parse_checkpoint(with_ext.as_bytes()).unwrap();
        assert_eq!(checkpoint.extensions, vec!["extension one", "extension two"]);
        assert!(checkpoint.body.ends_with("extension two\n"));
        // The RFC 6962 signature covers only the tree head, so it still verifies.
        verify_checkpoint(&checkpoint, ORIGIN, &signer.log_key()).unwrap();
    }

    #[test]
    fn malformed_notes_are_rejected() {
        let signer = LogSigner::generate();
        let good = signed(&signer);
        let root = B64.encode(head().root_hash);
        let sig_line = good.split_once("\n\n").unwrap().1;
        let cases: Vec<(String, &str)> = vec![
            (String::new(), "empty"),
            ("\n".into(), "only a newline"),
            (good.trim_end_matches('\n').into(), "no final newline"),
            (good.replace('\n', "\r\n"), "CRLF"),
            (format!("{ORIGIN}\n123456\n{root}\n"), "no blank line"),
            (format!("{ORIGIN}\n123456\n{root}\n\n"), "no signatures"),
            (format!("\n123456\n{root}\n\n{sig_line}"), "empty origin"),
            (format!("{ORIGIN}\n0123456\n{root}\n\n{sig_line}"), "leading zero"),
            (format!("{ORIGIN}\n+123456\n{root}\n\n{sig_line}"), "sign"),
            (format!("{ORIGIN}\n99999999999999999999\n{root}\n\n{sig_line}"), "overflow"),
            (format!("{ORIGIN}\n\n{root}\n\n{sig_line}"), "blank size"),
            (format!("{ORIGIN}\n123456\n\n{sig_line}"), "missing root"),
            (format!("{ORIGIN}\n123456\n{}\n\n{sig_line}", B64.encode([0u8; 31])), "short root"),
            (format!("{ORIGIN}\n123456\n{}\n\n{sig_line}", &root[..root.len() - 1]), "bad padding"),
            (format!("{ORIGIN}\n123456\n{root}\n\n- {ORIGIN} AAAA\n"), "ascii dash"),
            (format!("{ORIGIN}\n123456\n{root}\n\n{sig_line}\n"), "blank line in signatures"),
            (format!("{ORIGIN}\t\n123456\n{root}\n\n{sig_line}"), "control character"),
        ];
        for (text, what) in cases {
            assert!(
                matches!(parse_checkpoint(text.as_bytes()), Err(CheckpointError::Malformed(_))),
                "{what}: {text:?} parsed"
            );
        }
        assert!(parse_checkpoint(&[0xff, 0xfe, b'\n', b'\n']).is_err());
        let many = format!("{ORIGIN}\n1\n{root}\n\n{}", sig_line.repeat(101));
        assert!(parse_checkpoint(many.as_bytes()).is_err());
        let hundred = format!("{ORIGIN}\n1\n{root}\n\n{}", sig_line.repeat(100));
        assert_eq!(parse_checkpoint(hundred.as_bytes()).unwrap().signatures.len(), 100);
        // Size zero is canonical.
        let zero = format!("{ORIGIN}\n0\n{root}\n\n{sig_line}");
        assert_eq!(parse_checkpoint(zero.as_bytes()).unwrap().tree_size, 0);
    }

    #[test]
    fn unusable_signature_lines_are_skipped() {
        let signer = LogSigner::generate();
        let good = signed(&signer);
        let (body, line) = good.split_once("\n\n").unwrap();
        for junk in [
            format!("\u{2014} {ORIGIN}{}\n", B64.encode(b"signature")),
            format!("\u{2014} {ORIGIN} notbase64!\n"),
            format!("\u{2014} {ORIGIN} {}\n", B64.encode([1u8, 2, 3, 4])),
            format!("\u{2014}  {}\n", B64.encode([1u8; 40])),
        ] {
            let text = format!("{body}\n\n{junk}{line}");
            let checkpoint = parse_checkpoint(text.as_bytes()).unwrap();
            assert_eq!(checkpoint.signatures.len(), 1, "{junk:?}");
            verify_checkpoint(&checkpoint, ORIGIN, &signer.log_key()).unwrap();
            // Alone, such a line leaves no signature to verify.
            let alone = parse_checkpoint(format!("{body}\n\n{junk}").as_bytes()).unwrap();
            assert!(verify_checkpoint(&alone, ORIGIN, &signer.log_key()).is_err());
        }
    }

    #[test]
    fn malformed_log_signature_blob_is_reported() {
        let signer = LogSigner::generate();
        let key_id = rfc6962_note_key_id(ORIGIN, &signer.log_id());
        let root = B64.encode(head().root_hash);
        for blob_tail in [vec![0u8; 5], {
            let mut v = 1u64.to_be_bytes().to_vec();
            v.extend_from_slice(&[4, 3, 0, 9, 1]);
            v
        }] {
            let mut blob = key_id.to_vec();
            blob.extend_from_slice(&blob_tail);
            let text = format!("{ORIGIN}\n1\n{root}\n\n\u{2014} {ORIGIN} {}\n", B64.encode(blob));
            let checkpoint = parse_checkpoint(text.as_bytes()).unwrap();
            assert!(matches!(checkpoint.rfc6962_signature(&signer.log_id()), Err(CheckpointError::Malformed(_))));
        }
    }

    #[test]
    fn truncations_never_panic() {
        let signer = LogSigner::generate();
        let text = signed(&signer);
        let bytes = text.as_bytes();
        for cut in 0..bytes.len() {
            // Every strict prefix lacks the final signature line's end: it must not parse into
            // a checkpoint our key verifies.
            if let Ok(c) = parse_checkpoint(&bytes[..cut]) {
                assert!(verify_checkpoint(&c, ORIGIN, &signer.log_key()).is_err(), "cut {cut}");
            }
        }
    }

    #[test]
    fn origin_from_urls() {
        assert_eq!(origin_from_url("https://log.example/2025h1/"), "log.example/2025h1");
        assert_eq!(origin_from_url("https://log.example/2025h1"), "log.example/2025h1");
        assert_eq!(origin_from_url("HTTP://log.example/"), "log.example");
        assert_eq!(
            origin_from_url("https://sycamore.ct.letsencrypt.org/2024h2/"),
            "sycamore.ct.letsencrypt.org/2024h2"
        );
        assert_eq!(origin_from_url("log.example/x/"), "log.example/x");
    }

    #[test]
    fn key_id_depends_on_origin_and_log_id() {
        let a = rfc6962_note_key_id(ORIGIN, &[1; 32]);
        assert_ne!(a, rfc6962_note_key_id("other", &[1; 32]));
        assert_ne!(a, rfc6962_note_key_id(ORIGIN, &[2; 32]));
        let mut input = ORIGIN.as_bytes().to_vec();
        input.extend_from_slice(&[0x0a, 0x05]);
        input.extend_from_slice(&[1; 32]);
        assert_eq!(a, crate::sha256(&input)[..4]);
    }
}
