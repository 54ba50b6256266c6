//! A minimal, strict DER TLV walker and encoder.
//!
//! It knows only tags, lengths and nesting, not ASN.1 types. It is strict where DER is
//! strict about framing: single-byte tags only (X.509 never needs high tag numbers), no
//! indefinite lengths, minimal length encodings, and content that fits in the input. Every
//! function returns a [`DerError`] instead of panicking, whatever the input bytes.

/// Why a TLV could not be read.
#[derive(Debug, thiserror::Error, PartialEq, Eq, Clone)]
pub enum DerError {
    #[error("input ended inside a TLV header at offset {0}")]
    TruncatedHeader(usize),
    #[error("TLV at offset {offset} declares {declared} content bytes but only {available} remain")]
    TruncatedContent { offset: usize, declared: usize, available: usize },
    #[error("high-tag-number form at offset {0} is not supported")]
    HighTagNumber(usize),
    #[error("indefinite length at offset {0} is not DER")]
    IndefiniteLength(usize),
    #[error("non-minimal length encoding at offset {0}")]
    NonMinimalLength(usize),
    #[error("length at offset {0} does not fit in 32 bits")]
    LengthTooLarge(usize),
    #[error("expected tag 0x{expected:02x}, found 0x{found:02x}")]
    UnexpectedTag { expected: u8, found: u8 },
    #[error("expected tag 0x{0:02x}, found end of input")]
    Missing(u8),
    #[error("{0} unexpected bytes after the last element")]
    TrailingData(usize),
}

/// Tag byte of a universal SEQUENCE (constructed).
pub const TAG_SEQUENCE: u8 = 0x30;
/// Tag byte of a universal SET (constructed).
pub const TAG_SET: u8 = 0x31;
/// Tag byte of an INTEGER.
pub const TAG_INTEGER: u8 = 0x02;
/// Tag byte of a BIT STRING.
pub const TAG_BIT_STRING: u8 = 0x03;
/// Tag byte of an OCTET STRING.
pub const TAG_OCTET_STRING: u8 = 0x04;
/// Tag byte of an OBJECT IDENTIFIER.
pub const TAG_OID: u8 = 0x06;
/// Tag byte of a BOOLEAN.
pub const TAG_BOOLEAN: u8 = 0x01;

/// One tag-length-value element, borrowed from the input.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Tlv<'a> {
    /// The single identifier octet (class, constructed bit and tag number).
    pub tag: u8,
    /// The content octets.
    pub content: &'a [u8],
    /// The whole element: header and content.
    pub raw: &'a [u8],
}

/// Read one TLV from the front of `input`; return it and the bytes after it.
pub fn read_tlv(input: &[u8]) -> Result<(Tlv<'_>, &[u8]), DerError> {
    read_tlv_at(input, 0)
}

/// [`read_tlv`], with `base` added to the offsets reported in errors.
fn read_tlv_at(input: &[u8], base: usize) -> Result<(Tlv<'_>, &[u8]), DerError> {
    let (&tag, rest) = input.split_first().ok_or(DerError::TruncatedHeader(base))?;
    if tag & 0x1f == 0x1f {
        return Err(DerError::HighTagNumber(base));
    }
    let (&first, mut rest) = rest.split_first().ok_or(DerError::TruncatedHeader(base))?;
    let len = if first < 0x80 {
        usize::from(first)
    } else if first == 0x80 {
        return Err(DerError::IndefiniteLength(base));
    } else {
        let count = usize::from(first & 0x7f);
        if count > 4 {
            return Err(DerError::LengthTooLarge(base));
        }
        let (bytes, after) = rest.split_at_checked(count).ok_or(DerError::TruncatedHeader(base))?;
        rest = after;
        if bytes.first() == Some(&0) {
            return Err(DerError::NonMinimalLength(base));
        }
        let len = bytes.iter().fold(0usize, |acc, &b| (acc << 8) | usize::from(b));
        if len < 0x80 {
            return Err(DerError::NonMinimalLength(base));
        }
        len
    };
    let header_len = input.len() - rest.len();
    let (content, after) = rest.split_at_checked(len).ok_or(DerError::TruncatedContent {
        offset: base,
        declared: len,
        available: rest.len(),
    })?;
    let raw = input.get(..header_len + len).ok_or(DerError::TruncatedHeader(base))?;
    Ok((Tlv { tag, content, raw }, after))
}

/// A cursor over consecutive TLVs (the content of a SEQUENCE, SET or explicit tag).
#[derive(Debug, Clone)]
pub struct Reader<'a> {
    rest: &'a [u8],
    offset: usize,
}

impl<'a> Reader<'a> {
    /// A reader over `input`.
    pub fn new(input: &'a [u8]) -> Self {
        Reader { rest: input, offset: 0 }
    }

    /// Whether every element has been read.
    pub fn is_empty(&self) -> bool {
        self.rest.is_empty()
    }

    /// The tag of the next element, if any, without consuming it.
    pub fn peek_tag(&self) -> Option<u8> {
        self.rest.first().copied()
    }

    /// Read the next element, whatever its tag.
    pub fn read_any(&mut self) -> Result<Tlv<'a>, DerError> {
        let (tlv, rest) = read_tlv_at(self.rest, self.offset)?;
        self.offset += tlv.raw.len();
        self.rest = rest;
        Ok(tlv)
    }

    /// Read the next element, which must have tag `tag`.
    pub fn read(&mut self, tag: u8) -> Result<Tlv<'a>, DerError> {
        match self.peek_tag() {
            None => Err(DerError::Missing(tag)),
            Some(found) if found != tag => Err(DerError::UnexpectedTag { expected: tag, found }),
            Some(_) => self.read_any(),
        }
    }

    /// Read the next element if it has tag `tag`; leave the reader unchanged otherwise.
    pub fn read_optional(&mut self, tag: u8) -> Result<Option<Tlv<'a>>, DerError> {
        if self.peek_tag() == Some(tag) { self.read(tag).map(Some) } else { Ok(None) }
    }

    /// Fail if anything is left.
    pub fn finish(&self) -> Result<(), DerError> {
        if self.rest.is_empty() { Ok(()) } else { Err(DerError::TrailingData(self.rest.len())) }
    }
}

impl<'a> Iterator for Reader<'a> {
    type Item = Result<Tlv<'a>, DerError>;

    /// Yields each remaining element; after an error the reader is emptied so iteration stops.
    fn next(&mut self) -> Option<Self::Item> {
        if self.rest.is_empty() {
            return None;
        }
        let item = self.read_any();
        if item.is_err() {
            self.rest = &[];
        }
        Some(item)
    }
}

/// Append a DER header for `tag` with `len` content bytes (minimal length form).
pub fn write_header(out: &mut Vec<u8>, tag: u8, len: usize) {
    out.push(tag);
    if len < 0x80 {
        // The guard keeps the cast lossless.
        out.push(len as u8);
        return;
    }
    let bytes = len.to_be_bytes();
    let skip = bytes.iter().take_while(|&&b| b == 0).count();
    let significant = bytes.get(skip..).unwrap_or_default();
    // At most size_of::<usize>() bytes, so the count fits in the low 7 bits.
    out.push(0x80 | significant.len() as u8);
    out.extend_from_slice(significant);
}

/// The size of a DER header for `len` content bytes.
pub fn header_len(len: usize) -> usize {
    if len < 0x80 { 2 } else { 2 + (usize::BITS - len.leading_zeros()).div_ceil(8) as usize }
}

/// Append a whole TLV: header for `tag` and then `content`.
pub fn write_tlv(out: &mut Vec<u8>, tag: u8, content: &[u8]) {
    write_header(out, tag, content.len());
    out.extend_from_slice(content);
}

/// Format a BER/DER OBJECT IDENTIFIER content as dotted decimal. Arcs too large for `u64`
/// or a truncated last arc give `None`.
pub fn oid_to_string(content: &[u8]) -> Option<String> {
    use std::fmt::Write;
    let mut out = String::with_capacity(content.len() * 3);
    let mut value: u64 = 0;
    let mut first = true;
    let mut pending = false;
    for &b in content {
        if value > (u64::MAX >> 7) {
            return None;
        }
        value = (value << 7) | u64::from(b & 0x7f);
        pending = true;
        if b & 0x80 == 0 {
            if first {
                let (a, rest) = match value {
                    0..40 => (0, value),
                    40..80 => (1, value - 40),
                    _ => (2, value - 80),
                };
                let _ = write!(out, "{a}.{rest}");
                first = false;
            } else {
                let _ = write!(out, ".{value}");
            }
            value = 0;
            pending = false;
        }
    }
    if pending || first { None } else { Some(out) }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_and_long_lengths() {
        let (tlv, rest) = read_tlv(&[0x04, 0x02, 0xaa, 0xbb, 0xcc]).unwrap();
        assert_eq!(tlv.tag, 0x04);
        assert_eq!(tlv.content, &[0xaa, 0xbb]);
        assert_eq!(tlv.raw, &[0x04, 0x02, 0xaa, 0xbb]);
        assert_eq!(rest, &[0xcc]);

        let mut long = vec![0x04, 0x81, 0x80];
        long.extend(std::iter::repeat_n(7u8, 0x80));
        let (tlv, rest) = read_tlv(&long).unwrap();
        assert_eq!(tlv.content.len(), 0x80);
        assert!(rest.is_empty());

        let mut longer = vec![0x30, 0x82, 0x01, 0x00];
        longer.extend(std::iter::repeat_n(0u8, 0x100));
        assert_eq!(read_tlv(&longer).unwrap().0.content.len(), 0x100);
    }

    #[test]
    fn rejects_non_der_framing() {
        assert_eq!(read_tlv(&[]), Err(DerError::TruncatedHeader(0)));
        assert_eq!(read_tlv(&[0x30]), Err(DerError::TruncatedHeader(0)));
        assert_eq!(read_tlv(&[0x30, 0x80, 0, 0]), Err(DerError::IndefiniteLength(0)));
        assert_eq!(read_tlv(&[0x1f, 0x01, 0x00]), Err(DerError::HighTagNumber(0)));
        assert_eq!(read_tlv(&[0x04, 0x81, 0x05, 1, 2, 3, 4, 5]), Err(DerError::NonMinimalLength(0)));
        assert_eq!(read_tlv(&[0x04, 0x82, 0x00, 0x85]), Err(DerError::NonMinimalLength(0)));
        assert_eq!(read_tlv(&[0x04, 0x85, 1, 0, 0, 0, 0]), Err(DerError::LengthTooLarge(0)));
        assert_eq!(read_tlv(&[0x04, 0x82, 0x01]), Err(DerError::TruncatedHeader(0)));
        assert_eq!(
            read_tlv(&[0x04, 0x03, 1, 2]),
            Err(DerError::TruncatedContent { offset: 0, declared: 3, available: 2 })
        );
        // A huge declared length must not overflow or allocate.
        assert!(matches!(read_tlv(&[0x04, 0x84, 0xff, 0xff, 0xff, 0xff]), Err(DerError::TruncatedContent { .. })));
    }

    #[test]
    fn reader_tags_and_offsets() {
        let input = [0x02, 0x01, 0x05, 0xa0, 0x00, 0x04, 0x01];
        let mut r = Reader::new(&input);
        assert_eq!(r.read(TAG_INTEGER).unwrap().content, &[5]);
        assert_eq!(r.read_optional(0xa1).unwrap(), None);
        assert!(r.read_optional(0xa0).unwrap().is_some());
        assert_eq!(r.read(TAG_SEQUENCE), Err(DerError::UnexpectedTag { expected: 0x30, found: 0x04 }));
        assert_eq!(r.read(TAG_OCTET_STRING), Err(DerError::TruncatedContent { offset: 5, declared: 1, available: 0 }));
        assert_eq!(r.finish(), Err(DerError::TrailingData(2)));
        let mut empty = Reader::new(&[]);
        assert_eq!(empty.read(TAG_OID), Err(DerError::Missing(TAG_OID)));
        assert!(empty.finish().is_ok());
    }

    #[test]
    fn iterator_stops_after_error() {
        let items: Vec<_> = Reader::new(&[0x05, 0x00, 0x04, 0x05, 0x00]).collect();
        assert_eq!(items.len(), 2);
        assert!(items[0].is_ok());
        assert!(items[1].is_err());
    }

    #[test]
    fn header_round_trip_at_every_length_class() {
        for len in [0usize, 1, 0x7f, 0x80, 0xff, 0x100, 0xffff, 0x10000, 0xff_ffff, 0x100_0000] {
            let mut out = Vec::new();
            write_header(&mut out, 0x30, len);
            assert_eq!(out.len(), header_len(len), "len {len}");
            out.resize(out.len() + len, 0);
            let (tlv, rest) = read_tlv(&out).unwrap();
            assert_eq!(tlv.content.len(), len);
            assert!(rest.is_empty());
        }
    }

    #[test]
    fn every_truncation_of_nested_tlv_fails() {
        let mut inner = Vec::new();
        write_tlv(&mut inner, TAG_OCTET_STRING, &[9u8; 200]);
        write_tlv(&mut inner, TAG_INTEGER, &[1]);
        let mut outer = Vec::new();
        write_tlv(&mut outer, TAG_SEQUENCE, &inner);
        for cut in 0..outer.len() {
            assert!(read_tlv(&outer[..cut]).is_err(), "cut {cut}");
        }
        let (seq, _) = read_tlv(&outer).unwrap();
        let parts: Result<Vec<_>, _> = Reader::new(seq.content).collect();
        assert_eq!(parts.unwrap().len(), 2);
    }

    #[test]
    fn oids() {
        assert_eq!(oid_to_string(&[0x55, 0x04, 0x03]).as_deref(), Some("2.5.4.3"));
        assert_eq!(
            oid_to_string(&[0x2b, 0x06, 0x01, 0x04, 0x01, 0xd6, 0x79, 0x02, 0x04, 0x03]).as_deref(),
            Some("1.3.6.1.4.1.11129.2.4.3")
        );
        assert_eq!(oid_to_string(&[0x67, 0x81, 0x0c, 0x01, 0x02, 0x01]).as_deref(), Some("2.23.140.1.2.1"));
        assert_eq!(oid_to_string(&[0x00]).as_deref(), Some("0.0"));
        assert_eq!(oid_to_string(&[]), None);
        assert_eq!(oid_to_string(&[0x55, 0x84]), None);
        assert_eq!(oid_to_string(&[0xff; 12]), None);
    }
}
