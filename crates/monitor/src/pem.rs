//! Certificates from files: PEM blocks anywhere in the text, or a single DER certificate.

use base64::Engine as _;

/// Every `CERTIFICATE` PEM block in `bytes`, decoded; if there is none and the bytes look like
/// DER (a SEQUENCE), the bytes themselves. Blocks whose base64 is invalid are skipped.
pub fn certificates_in(bytes: &[u8]) -> Vec<Vec<u8>> {
    const BEGIN: &str = "-----BEGIN CERTIFICATE-----";
    const END: &str = "-----END CERTIFICATE-----";
    let text = String::from_utf8_lossy(bytes);
    let mut out = Vec::new();
    let mut rest: &str = &text;
    while let Some(start) = rest.find(BEGIN) {
        let after = &rest[start + BEGIN.len()..];
        let Some(end) = after.find(END) else { break };
        let b64: String = after[..end].chars().filter(|c| !c.is_whitespace()).collect();
        if let Ok(der) = base64::engine::general_purpose::STANDARD.decode(b64) {
            out.push(der);
        }
        rest = &after[end + END.len()..];
    }
    if out.is_empty() && bytes.first() == Some(&0x30) {
        out.push(bytes.to_vec());
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_blocks_among_text_and_falls_back_to_der() {
        let pem = "junk\n-----BEGIN CERTIFICATE-----\nMAMCAQE=\n-----END CERTIFICATE-----\nmore\n-----BEGIN CERTIFICATE-----\r\nMAMCAQI=\r\n-----END CERTIFICATE-----";
        assert_eq!(certificates_in(pem.as_bytes()), vec![vec![0x30, 3, 2, 1, 1], vec![0x30, 3, 2, 1, 2]]);
        assert_eq!(certificates_in(&[0x30, 0]), vec![vec![0x30, 0]]);
        assert!(certificates_in(b"nothing here").is_empty());
        assert!(certificates_in(b"-----BEGIN CERTIFICATE-----\nMAMC").is_empty());
    }
}
