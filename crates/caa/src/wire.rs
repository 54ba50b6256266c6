//! A minimal DNS message codec for CAA queries (RFC 1035 §4, RFC 6891 for EDNS).
//!
//! This is the fallback path used when the resolver library rejects a CAA response (its CAA
//! parser refuses tags it considers invalid, which fails the whole message). It builds one
//! query and reads the header, the answer section (CAA and CNAME records) and the SOA in the
//! authority section. It is pure and never panics on hostile input: every read is bounds
//! checked and compression pointers may only point backwards.

use crate::rdata::{CaaRecord, RdataError};

/// The CAA record type (RFC 8659 §7.2).
pub const TYPE_CAA: u16 = 257;
const TYPE_CNAME: u16 = 5;
const TYPE_SOA: u16 = 6;
const TYPE_OPT: u16 = 41;
const CLASS_IN: u16 = 1;

/// The UDP payload size advertised in EDNS (the DNS Flag Day 2020 value).
pub const EDNS_PAYLOAD: u16 = 1232;

/// Response codes that matter to a CAA lookup.
pub mod rcode {
    /// No error.
    pub const NOERROR: u8 = 0;
    /// Server failure.
    pub const SERVFAIL: u8 = 2;
    /// The name does not exist.
    pub const NXDOMAIN: u8 = 3;
}

/// Why a DNS message could not be built or read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WireError {
    /// The message ended inside a field.
    #[error("DNS message truncated while reading {what} at offset {offset}")]
    Truncated {
        /// The field being read.
        what: &'static str,
        /// Where reading started.
        offset: usize,
    },
    /// A compressed name was malformed (forward or looping pointer, reserved label type, too
    /// long).
    #[error("bad domain name at offset {offset}: {reason}")]
    BadName {
        /// Where the name started.
        offset: usize,
        /// What was wrong.
        reason: &'static str,
    },
    /// The response does not belong to the query (ID or question mismatch, not a response).
    #[error("response does not match the query: {0}")]
    Mismatch(&'static str),
    /// A CAA record's RDATA could not be split into flags, tag and value.
    #[error("CAA record for {owner}: {source}")]
    Rdata {
        /// The record's owner name.
        owner: String,
        /// The RDATA problem.
        source: RdataError,
    },
    /// A query name that cannot be encoded (empty label, label over 63 octets, name over 255).
    #[error("cannot encode query name {name:?}: {reason}")]
    BadQueryName {
        /// The name.
        name: String,
        /// What was wrong.
        reason: &'static str,
    },
}

/// A record from the answer section that a CAA lookup cares about.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AnswerRecord {
    /// A CAA record.
    Caa {
        /// Owner name, lower-case without a trailing dot.
        owner: String,
        /// TTL in seconds.
        ttl: u32,
        /// The record.
        record: CaaRecord,
    },
    /// A CNAME record.
    Cname {
        /// Owner name, lower-case without a trailing dot.
        owner: String,
        /// TTL in seconds.
        ttl: u32,
        /// Target name, lower-case without a trailing dot.
        target: String,
    },
}

/// The parts of a response a CAA lookup reads.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Response {
    /// The message ID.
    pub id: u16,
    /// The TC bit: the answer did not fit and must be asked again over TCP.
    pub truncated: bool,
    /// The AD bit: the resolver validated the answer with DNSSEC.
    pub authentic_data: bool,
    /// The response code (lower four bits; extended RCODEs are not needed here).
    pub rcode: u8,
    /// CAA and CNAME records of the answer section, in order.
    pub answers: Vec<AnswerRecord>,
    /// The negative-caching TTL from an SOA in the authority section (RFC 2308 §5: the lower
    /// of the SOA's TTL and its MINIMUM field), if there is one.
    pub negative_ttl: Option<u32>,
}

/// Encodes a CAA query for `name` (lower-case, no trailing dot) with recursion desired and an
/// EDNS OPT record advertising [`EDNS_PAYLOAD`].
pub fn build_query(id: u16, name: &str) -> Result<Vec<u8>, WireError> {
    let mut out = Vec::with_capacity(32 + name.len());
    out.extend_from_slice(&id.to_be_bytes());
    out.extend_from_slice(&[0x01, 0x00]); // RD
    out.extend_from_slice(&[0, 1, 0, 0, 0, 0, 0, 1]); // QD=1, AN=0, NS=0, AR=1
    encode_name(name, &mut out)?;
    out.extend_from_slice(&TYPE_CAA.to_be_bytes());
    out.extend_from_slice(&CLASS_IN.to_be_bytes());
    // OPT: root owner, type 41, class = payload size, TTL = extended RCODE/version/flags, no data.
    out.push(0);
    out.extend_from_slice(&TYPE_OPT.to_be_bytes());
    out.extend_from_slice(&EDNS_PAYLOAD.to_be_bytes());
    out.extend_from_slice(&[0, 0, 0, 0, 0, 0]);
    Ok(out)
}

fn encode_name(name: &str, out: &mut Vec<u8>) -> Result<(), WireError> {
    let bad = |reason| WireError::BadQueryName { name: name.to_string(), reason };
    let trimmed = name.strip_suffix('.').unwrap_or(name);
    let start = out.len();
    if !trimmed.is_empty() {
        for label in trimmed.split('.') {
            let len = u8::try_from(label.len())
                .ok()
                .filter(|l| (1..=63).contains(l))
                .ok_or_else(|| bad(if label.is_empty() { "empty label" } else { "label longer than 63 octets" }))?;
            out.push(len);
            out.extend_from_slice(label.as_bytes());
        }
    }
    out.push(0);
    if out.len() - start > 255 {
        return Err(bad("name longer than 255 octets"));
    }
    Ok(())
}

/// Parses a response to a query built by [`build_query`] for `qname` with message ID `id`.
pub fn parse_response(msg: &[u8], id: u16, qname: &str) -> Result<Response, WireError> {
    let mut r = Reader { msg, pos: 0 };
    let got_id = r.u16("header")?;
    let flags = r.u16("header")?;
    let qd = r.u16("header")?;
    let an = r.u16("header")?;
    let ns = r.u16("header")?;
    let _ar = r.u16("header")?;
    if got_id != id {
        return Err(WireError::Mismatch("message ID differs"));
    }
    if flags & 0x8000 == 0 {
        return Err(WireError::Mismatch("QR bit not set"));
    }
    let truncated = flags & 0x0200 != 0;
    let authentic_data = flags & 0x0020 != 0;
    let rcode = (flags & 0x000f) as u8;
    let want = qname.strip_suffix('.').unwrap_or(qname).to_ascii_lowercase();
    for i in 0..qd {
        let name = r.name()?;
        let qtype = r.u16("question")?;
        let _qclass = r.u16("question")?;
        if i == 0 && (name != want || qtype != TYPE_CAA) {
            return Err(WireError::Mismatch("question section differs"));
        }
    }
    let mut answers = Vec::new();
    let mut negative_ttl = None;
    let total = u32::from(an) + u32::from(ns);
    for i in 0..total {
        let in_answer = i < u32::from(an);
        let owner = r.name()?;
        let rtype = r.u16("record header")?;
        let class = r.u16("record header")?;
        let ttl = r.u32("record header")?;
        let rdlen = usize::from(r.u16("record header")?);
        let rdata_start = r.pos;
        let rdata = r.take(rdlen, "RDATA")?;
        if class != CLASS_IN {
            continue;
        }
        match (in_answer, rtype) {
            (true, TYPE_CAA) => {
                let record =
                    CaaRecord::from_rdata(rdata).map_err(|source| WireError::Rdata { owner: owner.clone(), source })?;
                answers.push(AnswerRecord::Caa { owner, ttl, record });
            }
            (true, TYPE_CNAME) => {
                let mut sub = Reader { msg, pos: rdata_start };
                let target = sub.name()?;
                answers.push(AnswerRecord::Cname { owner, ttl, target });
            }
            (false, TYPE_SOA) => {
                let mut sub = Reader { msg, pos: rdata_start };
                let _mname = sub.name()?;
                let _rname = sub.name()?;
                let mut fields = [0u32; 5];
                for f in &mut fields {
                    *f = sub.u32("SOA fields")?;
                }
                if sub.pos > rdata_start + rdlen {
                    return Err(WireError::Truncated { what: "SOA RDATA", offset: rdata_start });
                }
                negative_ttl = Some(ttl.min(fields[4]));
            }
            _ => {}
        }
    }
    Ok(Response { id, truncated, authentic_data, rcode, answers, negative_ttl })
}

struct Reader<'a> {
    msg: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize, what: &'static str) -> Result<&'a [u8], WireError> {
        let end = self.pos.checked_add(n).ok_or(WireError::Truncated { what, offset: self.pos })?;
        let s = self.msg.get(self.pos..end).ok_or(WireError::Truncated { what, offset: self.pos })?;
        self.pos = end;
        Ok(s)
    }

    fn u16(&mut self, what: &'static str) -> Result<u16, WireError> {
        let b = self.take(2, what)?;
        Ok(u16::from_be_bytes([b.first().copied().unwrap_or(0), b.get(1).copied().unwrap_or(0)]))
    }

    fn u32(&mut self, what: &'static str) -> Result<u32, WireError> {
        let hi = self.u16(what)?;
        let lo = self.u16(what)?;
        Ok(u32::from(hi) << 16 | u32::from(lo))
    }

    /// Reads a possibly compressed name; returns it lower-cased, dot-separated, without a
    /// trailing dot (the root is the empty string). Octets outside printable ASCII and `.`
    /// inside labels are written as `\DDD`.
    fn name(&mut self) -> Result<String, WireError> {
        let start = self.pos;
        let bad = |reason| WireError::BadName { offset: start, reason };
        let mut out = String::new();
        let mut pos = self.pos;
        let mut resume: Option<usize> = None;
        let mut wire_len = 0usize;
        loop {
            let len = *self.msg.get(pos).ok_or(WireError::Truncated { what: "name", offset: pos })?;
            match len & 0xc0 {
                0x00 => {
                    if len == 0 {
                        pos += 1;
                        break;
                    }
                    let label = self
                        .msg
                        .get(pos + 1..pos + 1 + usize::from(len))
                        .ok_or(WireError::Truncated { what: "name label", offset: pos })?;
                    wire_len += 1 + label.len();
                    if wire_len > 255 {
                        return Err(bad("name longer than 255 octets"));
                    }
                    if !out.is_empty() {
                        out.push('.');
                    }
                    for &b in label {
                        if b.is_ascii_graphic() && b != b'.' && b != b'\\' {
                            out.push(char::from(b.to_ascii_lowercase()));
                        } else {
                            out.push_str(&format!("\\{b:03}"));
                        }
                    }
                    pos += 1 + usize::from(len);
                }
                0xc0 => {
                    let lo =
                        *self.msg.get(pos + 1).ok_or(WireError::Truncated { what: "name pointer", offset: pos })?;
                    let target = usize::from(len & 0x3f) << 8 | usize::from(lo);
                    // Pointers must go strictly backwards, which also rules out loops.
                    if target >= pos {
                        return Err(bad("compression pointer does not point backwards"));
                    }
                    if resume.is_none() {
                        resume = Some(pos + 2);
                    }
                    pos = target;
                }
                _ => return Err(bad("reserved label type")),
            }
        }
        self.pos = resume.unwrap_or(pos);
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Builds a response by hand: header, the question, then the given raw answer records and
    /// authority records.
    fn response(id: u16, flags: u16, qname: &str, answers: &[Vec<u8>], authority: &[Vec<u8>]) -> Vec<u8> {
        let mut m = Vec::new();
        m.extend_from_slice(&id.to_be_bytes());
        m.extend_from_slice(&flags.to_be_bytes());
        m.extend_from_slice(&1u16.to_be_bytes());
        m.extend_from_slice(&(answers.len() as u16).to_be_bytes());
        m.extend_from_slice(&(authority.len() as u16).to_be_bytes());
        m.extend_from_slice(&0u16.to_be_bytes());
        encode_name(qname, &mut m).unwrap();
        m.extend_from_slice(&TYPE_CAA.to_be_bytes());
        m.extend_from_slice(&CLASS_IN.to_be_bytes());
        for a in answers.iter().chain(authority) {
            m.extend_from_slice(a);
        }
        m
    }

    /// A record whose owner is a compression pointer to the question name (offset 12).
    fn rr_ptr(rtype: u16, ttl: u32, rdata: &[u8]) -> Vec<u8> {
        let mut r = vec![0xc0, 12];
        r.extend_from_slice(&rtype.to_be_bytes());
        r.extend_from_slice(&CLASS_IN.to_be_bytes());
        r.extend_from_slice(&ttl.to_be_bytes());
        r.extend_from_slice(&(rdata.len() as u16).to_be_bytes());
        r.extend_from_slice(rdata);
        r
    }

    fn rr_named(owner: &str, rtype: u16, ttl: u32, rdata: &[u8]) -> Vec<u8> {
        let mut r = Vec::new();
        encode_name(owner, &mut r).unwrap();
        r.extend_from_slice(&rtype.to_be_bytes());
        r.extend_from_slice(&CLASS_IN.to_be_bytes());
        r.extend_from_slice(&ttl.to_be_bytes());
        r.extend_from_slice(&(rdata.len() as u16).to_be_bytes());
        r.extend_from_slice(rdata);
        r
    }

    #[test]
    fn query_encoding() {
        let q = build_query(0x1234, "Ex.ample").unwrap();
        assert_eq!(&q[..12], &[0x12, 0x34, 1, 0, 0, 1, 0, 0, 0, 0, 0, 1]);
        assert_eq!(&q[12..22], b"\x02Ex\x05ample\x00");
        assert_eq!(&q[22..26], &[1, 1, 0, 1]);
        assert_eq!(&q[26..], &[0, 0, 41, 0x04, 0xd0, 0, 0, 0, 0, 0, 0]);
        assert_eq!(build_query(1, "a.").unwrap(), build_query(1, "a").unwrap());
    }

    #[test]
    fn query_name_limits() {
        assert!(build_query(1, "a..b").is_err());
        assert!(build_query(1, &"a".repeat(64)).is_err());
        let long = vec!["a".repeat(63); 4].join(".");
        assert!(build_query(1, &long).is_err());
        let ok = vec!["a".repeat(63); 3].join(".");
        assert!(build_query(1, &ok).is_ok());
    }

    #[test]
    fn parses_caa_with_long_tag_cname_and_flags() {
        let mut caa = vec![0u8, 22];
        caa.extend_from_slice(b"thisisaverylongtagname");
        caa.extend_from_slice(b"x");
        let mut cname_target = Vec::new();
        encode_name("t.example", &mut cname_target).unwrap();
        let msg = response(
            7,
            0x81a0, // QR, RD, RA, AD
            "a.example",
            &[rr_ptr(TYPE_CNAME, 60, &cname_target), rr_named("T.example", TYPE_CAA, 300, &caa)],
            &[],
        );
        let r = parse_response(&msg, 7, "A.Example.").unwrap();
        assert!(r.authentic_data);
        assert!(!r.truncated);
        assert_eq!(r.rcode, rcode::NOERROR);
        assert_eq!(
            r.answers,
            vec![
                AnswerRecord::Cname { owner: "a.example".into(), ttl: 60, target: "t.example".into() },
                AnswerRecord::Caa {
                    owner: "t.example".into(),
                    ttl: 300,
                    record: CaaRecord::new(0, "thisisaverylongtagname", "x")
                },
            ]
        );
    }

    #[test]
    fn negative_answer_takes_soa_minimum() {
        let mut soa = Vec::new();
        encode_name("ns.example", &mut soa).unwrap();
        soa.extend_from_slice(&[0xc0, 12]); // rname compressed
        for v in [1u32, 2, 3, 4, 120] {
            soa.extend_from_slice(&v.to_be_bytes());
        }
        let msg = response(9, 0x8183, "x.example", &[], &[rr_named("example", TYPE_SOA, 3600, &soa)]);
        let r = parse_response(&msg, 9, "x.example").unwrap();
        assert_eq!(r.rcode, rcode::NXDOMAIN);
        assert_eq!(r.negative_ttl, Some(120));
        let msg = response(9, 0x8180, "x.example", &[], &[rr_named("example", TYPE_SOA, 30, &soa)]);
        assert_eq!(parse_response(&msg, 9, "x.example").unwrap().negative_ttl, Some(30));
    }

    #[test]
    fn truncation_flag() {
        let msg = response(3, 0x8380, "a.example", &[], &[]);
        assert!(parse_response(&msg, 3, "a.example").unwrap().truncated);
    }

    #[test]
    fn rejects_mismatches() {
        let msg = response(3, 0x8180, "a.example", &[], &[]);
        assert_eq!(parse_response(&msg, 4, "a.example"), Err(WireError::Mismatch("message ID differs")));
        assert_eq!(parse_response(&msg, 3, "b.example"), Err(WireError::Mismatch("question section differs")));
        let msg = response(3, 0x0100, "a.example", &[], &[]);
        assert_eq!(parse_response(&msg, 3, "a.example"), Err(WireError::Mismatch("QR bit not set")));
    }

    #[test]
    fn bad_rdata_is_an_error() {
        let msg = response(3, 0x8180, "a.example", &[rr_ptr(TYPE_CAA, 1, &[0, 9, b'a'])], &[]);
        assert!(matches!(parse_response(&msg, 3, "a.example"), Err(WireError::Rdata { .. })));
    }

    #[test]
    fn hostile_names_do_not_panic() {
        // A pointer to itself.
        let mut msg = response(3, 0x8180, "a.example", &[], &[]);
        msg[7] = 1; // one answer
        msg.extend_from_slice(&[0xc0, (msg.len()) as u8]);
        assert!(matches!(parse_response(&msg, 3, "a.example"), Err(WireError::BadName { .. })));
        // Reserved label type.
        let mut msg = response(3, 0x8180, "a.example", &[], &[]);
        msg[7] = 1;
        msg.push(0x80);
        assert!(matches!(parse_response(&msg, 3, "a.example"), Err(WireError::BadName { .. })));
    }

    #[test]
    fn every_prefix_of_a_response_is_handled() {
        let mut caa = vec![128u8, 5];
        caa.extend_from_slice(b"issueca.example");
        let mut soa = Vec::new();
        encode_name("ns.example", &mut soa).unwrap();
        soa.extend_from_slice(&[0xc0, 12]);
        soa.extend_from_slice(&[0; 20]);
        let msg =
            response(5, 0x8180, "a.example", &[rr_ptr(TYPE_CAA, 5, &caa)], &[rr_named("example", TYPE_SOA, 5, &soa)]);
        assert!(parse_response(&msg, 5, "a.example").is_ok());
        for cut in 0..msg.len() {
            assert!(parse_response(&msg[..cut], 5, "a.example").is_err(), "prefix {cut}");
        }
        // Flipping every byte must never panic either.
        for i in 0..msg.len() {
            let mut m = msg.clone();
            m[i] ^= 0xff;
            let _ = parse_response(&m, 5, "a.example");
        }
    }
}
