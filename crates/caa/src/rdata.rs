//! CAA resource-record data (RFC 8659 §4.1) and `issue` / `issuewild` values (§4.2).
//!
//! This module is pure: it works on bytes and knows nothing about DNS transport. It parses
//! RDATA itself instead of relying on a DNS library's CAA type, because such parsers commonly
//! reject tags that RFC 8659 allows a domain owner to publish (longer than 15 octets, or with
//! characters outside `[A-Za-z0-9]`), and one odd record must never break the evaluation of a
//! whole RRset.

use std::fmt;

/// The critical flag (bit 0 of the flags octet, value 128).
pub const CRITICAL_FLAG: u8 = 0x80;

/// One CAA resource record: the raw flags, tag and value octets.
///
/// The tag keeps its original case and bytes; comparisons elsewhere are ASCII
/// case-insensitive as RFC 8659 §4.1 requires.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct CaaRecord {
    /// The flags octet; only [`CRITICAL_FLAG`] has a meaning, the other bits are reserved.
    pub flags: u8,
    /// The property tag octets, as published.
    pub tag: Vec<u8>,
    /// The property value octets, as published.
    pub value: Vec<u8>,
}

/// Why CAA RDATA could not be split into flags, tag and value.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RdataError {
    /// The RDATA is shorter than the two fixed octets (flags and tag length).
    #[error("CAA RDATA is {len} octets long; expected at least 2 (flags and tag length)")]
    TooShort {
        /// The RDATA length found.
        len: usize,
    },
    /// The tag length octet points past the end of the RDATA.
    #[error("CAA tag length {tag_len} exceeds the {available} octets left in the RDATA")]
    TagOverrun {
        /// The tag length octet.
        tag_len: usize,
        /// The octets remaining after the two fixed octets.
        available: usize,
    },
}

impl CaaRecord {
    /// Builds a record from its parts.
    pub fn new(flags: u8, tag: impl Into<Vec<u8>>, value: impl Into<Vec<u8>>) -> Self {
        Self { flags, tag: tag.into(), value: value.into() }
    }

    /// Parses wire-format CAA RDATA: flags (1 octet), tag length (1 octet), tag, value.
    ///
    /// Any tag length and any tag octets are accepted (a zero-length tag simply never matches
    /// a known property); only RDATA that cannot be split at all is an error.
    pub fn from_rdata(rdata: &[u8]) -> Result<Self, RdataError> {
        let (&flags, rest) = rdata.split_first().ok_or(RdataError::TooShort { len: rdata.len() })?;
        let (&tag_len, rest) = rest.split_first().ok_or(RdataError::TooShort { len: rdata.len() })?;
        let tag_len = usize::from(tag_len);
        if tag_len > rest.len() {
            return Err(RdataError::TagOverrun { tag_len, available: rest.len() });
        }
        let (tag, value) = rest.split_at(tag_len);
        Ok(Self { flags, tag: tag.to_vec(), value: value.to_vec() })
    }

    /// Serialises the record back to wire-format RDATA.
    ///
    /// A tag longer than 255 octets cannot be represented and is truncated to 255 octets;
    /// records built by [`CaaRecord::from_rdata`] never have one.
    pub fn to_rdata(&self) -> Vec<u8> {
        let tag = self.tag.get(..self.tag.len().min(255)).unwrap_or(&self.tag);
        let mut out = Vec::with_capacity(2 + tag.len() + self.value.len());
        out.push(self.flags);
        out.push(u8::try_from(tag.len()).unwrap_or(u8::MAX));
        out.extend_from_slice(tag);
        out.extend_from_slice(&self.value);
        out
    }

    /// Whether the critical flag is set.
    pub fn is_critical(&self) -> bool {
        self.flags & CRITICAL_FLAG != 0
    }

    /// Whether the tag equals `name`, ignoring ASCII case.
    pub fn tag_is(&self, name: &str) -> bool {
        self.tag.eq_ignore_ascii_case(name.as_bytes())
    }

    /// The tag as text (lower-cased; octets that are not printable ASCII are `\DDD`-escaped).
    pub fn tag_text(&self) -> String {
        let mut out = String::with_capacity(self.tag.len());
        for &b in &self.tag {
            if b.is_ascii_graphic() && b != b'\\' && b != b'"' {
                out.push(char::from(b.to_ascii_lowercase()));
            } else {
                out.push_str(&format!("\\{b:03}"));
            }
        }
        out
    }

    /// The value as text, with quotes and backslashes escaped and other non-printable octets
    /// written as `\DDD` (RFC 1035 §5.1 character-string escapes), without surrounding quotes.
    pub fn value_text(&self) -> String {
        escape_character_string(&self.value)
    }
}

/// Presentation format, e.g. `0 issue "letsencrypt.org"`: the tag as published (escaped where
/// needed) and the value in quotes.
impl fmt::Display for CaaRecord {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} ", self.flags)?;
        if self.tag.is_empty() {
            f.write_str("\"\"")?;
        }
        for &b in &self.tag {
            if b.is_ascii_graphic() && b != b'\\' && b != b'"' {
                write!(f, "{}", char::from(b))?;
            } else {
                write!(f, "\\{b:03}")?;
            }
        }
        write!(f, " \"{}\"", escape_character_string(&self.value))
    }
}

fn escape_character_string(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len());
    for &b in bytes {
        match b {
            b'"' => out.push_str("\\\""),
            b'\\' => out.push_str("\\\\"),
            0x20..=0x7e => out.push(char::from(b)),
            _ => out.push_str(&format!("\\{b:03}")),
        }
    }
    out
}

/// A parsed `issue` or `issuewild` property value (RFC 8659 §4.2).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IssueValue {
    /// The issuer domain name, ASCII-lower-cased with a trailing dot removed; `None` when the
    /// value names no issuer (`;` or empty), which authorises nobody.
    pub issuer: Option<String>,
    /// The parameters in order, keys ASCII-lower-cased, values as published.
    pub parameters: Vec<(String, String)>,
}

impl IssueValue {
    /// The value of the first parameter whose key equals `key` (keys are stored lower-case).
    pub fn parameter(&self, key: &str) -> Option<&str> {
        self.parameters.iter().find(|(k, _)| k.eq_ignore_ascii_case(key)).map(|(_, v)| v.as_str())
    }
}

/// Why an `issue` / `issuewild` value does not follow the RFC 8659 §4.2 grammar.
///
/// A value that does not parse authorises nobody.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IssueValueError {
    /// An octet that the grammar does not allow at this position.
    #[error("unexpected {found} at offset {offset} of the issue value; expected {expected}")]
    Unexpected {
        /// The offset of the offending octet.
        offset: usize,
        /// A description of the offending octet.
        found: String,
        /// What the grammar allows there.
        expected: &'static str,
    },
    /// The value ended where the grammar requires more.
    #[error("issue value ends early; expected {expected}")]
    UnexpectedEnd {
        /// What the grammar requires there.
        expected: &'static str,
    },
}

/// Parses an `issue` / `issuewild` value:
/// `*WSP [issuer-domain-name *WSP] [";" *WSP [parameters *WSP]]`.
///
/// Two tolerances go beyond the grammar, because both are common in published records and
/// carry no ambiguity: one trailing dot on the issuer domain name (`letsencrypt.org.`), and a
/// trailing `;` after the last parameter.
pub fn parse_issue_value(value: &[u8]) -> Result<IssueValue, IssueValueError> {
    let mut p = Cursor { bytes: value, pos: 0 };
    p.skip_wsp();
    let mut issuer = None;
    if p.peek().is_some_and(|b| b.is_ascii_alphanumeric()) {
        issuer = Some(p.domain_name()?);
        p.skip_wsp();
    }
    let mut parameters = Vec::new();
    match p.peek() {
        None => return Ok(IssueValue { issuer, parameters }),
        Some(b';') => p.pos += 1,
        Some(_) => {
            let expected = if issuer.is_some() {
                "';' or the end after the issuer domain name"
            } else {
                "an issuer domain name or ';'"
            };
            return Err(p.unexpected(expected));
        }
    }
    p.skip_wsp();
    while p.peek().is_some() {
        let key = p.label_run("a parameter tag")?.to_ascii_lowercase();
        p.skip_wsp();
        p.expect(b'=', "'=' after the parameter tag")?;
        p.skip_wsp();
        let start = p.pos;
        while p.peek().is_some_and(|b| matches!(b, 0x21..=0x3a | 0x3c..=0x7e)) {
            p.pos += 1;
        }
        let val = String::from_utf8_lossy(value.get(start..p.pos).unwrap_or_default()).into_owned();
        parameters.push((key, val));
        p.skip_wsp();
        match p.peek() {
            None => break,
            Some(b';') => {
                p.pos += 1;
                p.skip_wsp();
            }
            Some(_) => return Err(p.unexpected("';' or the end after a parameter value")),
        }
    }
    Ok(IssueValue { issuer, parameters })
}

/// Normalises a CA's CAA identifier for comparison: trimmed, ASCII-lower-cased, one trailing
/// dot removed.
pub fn normalize_identifier(id: &str) -> String {
    let id = id.trim();
    id.strip_suffix('.').unwrap_or(id).to_ascii_lowercase()
}

struct Cursor<'a> {
    bytes: &'a [u8],
    pos: usize,
}

impl Cursor<'_> {
    fn peek(&self) -> Option<u8> {
        self.bytes.get(self.pos).copied()
    }

    fn skip_wsp(&mut self) {
        while matches!(self.peek(), Some(b' ' | b'\t')) {
            self.pos += 1;
        }
    }

    fn unexpected(&self, expected: &'static str) -> IssueValueError {
        match self.peek() {
            None => IssueValueError::UnexpectedEnd { expected },
            Some(b) => IssueValueError::Unexpected { offset: self.pos, found: describe_octet(b), expected },
        }
    }

    fn expect(&mut self, want: u8, expected: &'static str) -> Result<(), IssueValueError> {
        if self.peek() == Some(want) {
            self.pos += 1;
            Ok(())
        } else {
            Err(self.unexpected(expected))
        }
    }

    /// Reads `(ALPHA / DIGIT) *( *("-") (ALPHA / DIGIT))`, the shape of both a label and a
    /// parameter tag.
    fn label_run(&mut self, what: &'static str) -> Result<String, IssueValueError> {
        let start = self.pos;
        if !self.peek().is_some_and(|b| b.is_ascii_alphanumeric()) {
            return Err(self.unexpected(what));
        }
        self.pos += 1;
        loop {
            let mut look = self.pos;
            while self.bytes.get(look) == Some(&b'-') {
                look += 1;
            }
            match self.bytes.get(look) {
                Some(b) if b.is_ascii_alphanumeric() => self.pos = look + 1,
                _ if look > self.pos => {
                    // Hyphens not followed by a letter or digit end the run illegally.
                    self.pos = look;
                    return Err(self.unexpected("a letter or digit after '-'"));
                }
                _ => break,
            }
        }
        Ok(String::from_utf8_lossy(self.bytes.get(start..self.pos).unwrap_or_default()).into_owned())
    }

    fn domain_name(&mut self) -> Result<String, IssueValueError> {
        let mut name = self.label_run("a domain label")?;
        while self.peek() == Some(b'.') {
            self.pos += 1;
            if !self.peek().is_some_and(|b| b.is_ascii_alphanumeric()) {
                // A single trailing dot is tolerated; anything else after a dot must be a label.
                if matches!(self.peek(), None | Some(b' ' | b'\t' | b';')) {
                    break;
                }
                return Err(self.unexpected("a domain label after '.'"));
            }
            name.push('.');
            name.push_str(&self.label_run("a domain label")?);
        }
        Ok(name.to_ascii_lowercase())
    }
}

fn describe_octet(b: u8) -> String {
    if b.is_ascii_graphic() { format!("'{}'", char::from(b)) } else { format!("octet 0x{b:02x}") }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn issue(v: &str) -> Result<IssueValue, IssueValueError> {
        parse_issue_value(v.as_bytes())
    }

    #[test]
    fn rdata_round_trip() {
        let raw = b"\x80\x05issueletsencrypt.org";
        let r = CaaRecord::from_rdata(raw).unwrap();
        assert_eq!(r.flags, 128);
        assert!(r.is_critical());
        assert_eq!(r.tag, b"issue");
        assert_eq!(r.value, b"letsencrypt.org");
        assert_eq!(r.to_rdata(), raw);
        assert_eq!(r.to_string(), "128 issue \"letsencrypt.org\"");
    }

    #[test]
    fn rdata_tolerates_unusual_tags() {
        let long = b"thisisaverylongtagname";
        let mut raw = vec![0, long.len() as u8];
        raw.extend_from_slice(long);
        raw.extend_from_slice(b"v");
        let r = CaaRecord::from_rdata(&raw).unwrap();
        assert_eq!(r.tag, long);
        assert_eq!(r.value, b"v");

        let odd = CaaRecord::from_rdata(b"\x00\x06x-y_z\x01\"\\").unwrap();
        assert_eq!(odd.tag, b"x-y_z\x01");
        assert_eq!(odd.to_string(), "0 x-y_z\\001 \"\\\"\\\\\"");
        assert_eq!(odd.tag_text(), "x-y_z\\001");

        let empty_tag = CaaRecord::from_rdata(b"\x00\x00abc").unwrap();
        assert!(empty_tag.tag.is_empty());
        assert_eq!(empty_tag.value, b"abc");
        assert_eq!(empty_tag.to_string(), "0 \"\" \"abc\"");

        let no_value = CaaRecord::from_rdata(b"\x00\x05issue").unwrap();
        assert!(no_value.value.is_empty());
    }

    #[test]
    fn rdata_errors() {
        assert_eq!(CaaRecord::from_rdata(b""), Err(RdataError::TooShort { len: 0 }));
        assert_eq!(CaaRecord::from_rdata(b"\x00"), Err(RdataError::TooShort { len: 1 }));
        assert_eq!(CaaRecord::from_rdata(b"\x00\x09issue"), Err(RdataError::TagOverrun { tag_len: 9, available: 5 }));
    }

    #[test]
    fn tag_comparison_ignores_case() {
        let r = CaaRecord::new(0, "IsSuE", "x");
        assert!(r.tag_is("issue"));
        assert!(!r.tag_is("issuewild"));
        assert_eq!(r.tag_text(), "issue");
    }

    #[test]
    fn value_escapes_non_printables() {
        let r = CaaRecord::new(0, "issue", vec![b'a', 0, 0xff, b' ']);
        assert_eq!(r.value_text(), "a\\000\\255 ");
    }

    #[test]
    fn issue_plain_and_whitespace() {
        assert_eq!(
            issue("letsencrypt.org").unwrap(),
            IssueValue { issuer: Some("letsencrypt.org".into()), parameters: vec![] }
        );
        assert_eq!(issue(" \tLetsEncrypt.ORG \t").unwrap().issuer.as_deref(), Some("letsencrypt.org"));
        assert_eq!(issue("ca-1.example").unwrap().issuer.as_deref(), Some("ca-1.example"));
        assert_eq!(issue("a--b.example").unwrap().issuer.as_deref(), Some("a--b.example"));
        assert_eq!(issue("GTLSCA-G1").unwrap().issuer.as_deref(), Some("gtlsca-g1"));
    }

    #[test]
    fn issue_trailing_dot_tolerated() {
        assert_eq!(issue("letsencrypt.org.").unwrap().issuer.as_deref(), Some("letsencrypt.org"));
        assert_eq!(issue("letsencrypt.org. ; a=b").unwrap().issuer.as_deref(), Some("letsencrypt.org"));
        assert_eq!(issue("letsencrypt.org.;a=b").unwrap().parameter("a"), Some("b"));
        assert!(issue("letsencrypt.org..").is_err());
        assert!(issue("letsencrypt..org").is_err());
    }

    #[test]
    fn issue_deny_all_forms() {
        for v in [";", "", "  ", " ; ", ";  accounturi=x", "; a=b; c=d"] {
            assert_eq!(issue(v).unwrap().issuer, None, "{v:?}");
        }
    }

    #[test]
    fn issue_parameters() {
        let v = issue("ca.example; accounturi=https://ca.example/acct/1 ; validationmethods=dns-01,http-01").unwrap();
        assert_eq!(v.issuer.as_deref(), Some("ca.example"));
        assert_eq!(
            v.parameters,
            vec![
                ("accounturi".to_string(), "https://ca.example/acct/1".to_string()),
                ("validationmethods".to_string(), "dns-01,http-01".to_string())
            ]
        );
        assert_eq!(issue("ca.example;Key = Value").unwrap().parameter("key"), Some("Value"));
        assert_eq!(issue("ca.example; k=").unwrap().parameter("k"), Some(""));
        // A trailing ';' after the last parameter is tolerated.
        assert_eq!(issue("ca.example; k=v;").unwrap().parameters.len(), 1);
        assert_eq!(issue("ca.example; k=v ; ").unwrap().parameters.len(), 1);
    }

    #[test]
    fn issue_malformed_values() {
        let bad = [
            "-ca.example",
            "ca.example-",
            "ca-.example",
            "ca_example.com",
            "ca.example extra",
            "ca.example; k",
            "ca.example; k v",
            "ca.example; k=v w",
            "ca.example; =v",
            "ca.example; k-=v",
            "ca.example; k=v;; j=w",
            "ca.example,other.example",
            "\"ca.example\"",
            "ca.example; k=\u{e9}",
            "caf\u{e9}.example",
            ".ca.example",
        ];
        for v in bad {
            assert!(issue(v).is_err(), "{v:?} should not parse");
        }
        assert!(parse_issue_value(b"ca.example\x00").is_err());
        assert!(parse_issue_value(&[0xff]).is_err());
    }

    #[test]
    fn issue_error_messages_say_where() {
        let e = issue("ca.example extra").unwrap_err();
        assert_eq!(
            e.to_string(),
            "unexpected 'e' at offset 11 of the issue value; expected ';' or the end after the issuer domain name"
        );
        let e = issue("ca.example; k").unwrap_err();
        assert!(matches!(e, IssueValueError::UnexpectedEnd { .. }), "{e:?}");
    }

    #[test]
    fn identifiers_normalise() {
        assert_eq!(normalize_identifier(" PKI.HiNet.net. "), "pki.hinet.net");
        assert_eq!(normalize_identifier("letsencrypt.org"), "letsencrypt.org");
    }
}
