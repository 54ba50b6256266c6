//! Syntax and reservation checks on dNSName and iPAddress values (BR 7.1.2.7.12, RFC 5280
//! 4.2.1.6, RFC 1034 3.5 preferred name syntax, IANA special-purpose address registries).

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// The labels of a name, split on `.` (an empty name has one empty label).
fn labels(name: &str) -> std::str::Split<'_, char> {
    name.split('.')
}

/// True when a label other than a whole-label `*` in the leftmost position has a character
/// outside letters, digits and hyphen, or starts or ends with a hyphen. `_` and `*` are not
/// counted here: the underscore and wildcard lints report them.
pub(crate) fn has_bad_label_character(name: &str) -> Option<&str> {
    labels(name).find(|label| {
        let bad_char = label.bytes().any(|b| !(b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'*')));
        bad_char || label.starts_with('-') || label.ends_with('-')
    })
}

/// The first label longer than 63 octets.
pub(crate) fn long_label(name: &str) -> Option<&str> {
    labels(name).find(|label| label.len() > 63)
}

/// True when the name is empty, or has an empty label (leading, trailing or double dot).
pub(crate) fn has_empty_label(name: &str) -> bool {
    labels(name).any(str::is_empty)
}

/// True when a label other than the leftmost contains `*`.
pub(crate) fn wildcard_not_leftmost(name: &str) -> bool {
    labels(name).skip(1).any(|label| label.contains('*'))
}

/// True when the leftmost label contains `*` but is not exactly `*` (a partial-label wildcard).
pub(crate) fn partial_wildcard(name: &str) -> bool {
    labels(name).next().is_some_and(|first| first.contains('*') && first != "*")
}

/// True when the name is an IPv4 or IPv6 address written as text.
pub(crate) fn is_ip_text(name: &str) -> bool {
    name.parse::<IpAddr>().is_ok()
}

/// True when the rightmost label is not a top-level domain on the Public Suffix List (an
/// Internal Name in BR terms). `.onion` (RFC 7686, allowed by BR Appendix B) is not internal.
/// One trailing dot (the absolute form) is ignored: the empty-label lint reports it.
pub(crate) fn is_internal_name(name: &str) -> bool {
    let name = name.strip_suffix('.').unwrap_or(name);
    let tld = name.rsplit('.').next().unwrap_or(name);
    if tld.is_empty() {
        return true;
    }
    if tld.eq_ignore_ascii_case("onion") {
        return false;
    }
    let known = |tld: &str| psl::suffix(tld.as_bytes()).is_some_and(|s| s.is_known());
    if tld.bytes().any(|b| b.is_ascii_uppercase()) { !known(&tld.to_ascii_lowercase()) } else { !known(tld) }
}

/// Why an address is reserved (IANA IPv4/IPv6 special-purpose registries, multicast, and the
/// other ranges BR "Reserved IP Address" covers), or `None` for a public address.
pub(crate) fn reserved_ip(ip: IpAddr) -> Option<&'static str> {
    match ip {
        IpAddr::V4(v4) => reserved_v4(v4),
        IpAddr::V6(v6) => reserved_v6(v6),
    }
}

fn in_v4(ip: Ipv4Addr, net: [u8; 4], prefix: u32) -> bool {
    let mask = if prefix == 0 { 0 } else { u32::MAX << (32 - prefix) };
    u32::from(ip) & mask == u32::from(Ipv4Addr::from(net)) & mask
}

fn reserved_v4(ip: Ipv4Addr) -> Option<&'static str> {
    const RANGES: &[([u8; 4], u32, &str)] = &[
        ([0, 0, 0, 0], 8, "this network (0.0.0.0/8)"),
        ([10, 0, 0, 0], 8, "private (10.0.0.0/8)"),
        ([100, 64, 0, 0], 10, "shared address space (100.64.0.0/10)"),
        ([127, 0, 0, 0], 8, "loopback (127.0.0.0/8)"),
        ([169, 254, 0, 0], 16, "link-local (169.254.0.0/16)"),
        ([172, 16, 0, 0], 12, "private (172.16.0.0/12)"),
        ([192, 0, 0, 0], 24, "IETF protocol assignments (192.0.0.0/24)"),
        ([192, 0, 2, 0], 24, "documentation (192.0.2.0/24)"),
        ([192, 88, 99, 0], 24, "6to4 relay anycast (192.88.99.0/24)"),
        ([192, 168, 0, 0], 16, "private (192.168.0.0/16)"),
        ([198, 18, 0, 0], 15, "benchmarking (198.18.0.0/15)"),
        ([198, 51, 100, 0], 24, "documentation (198.51.100.0/24)"),
        ([203, 0, 113, 0], 24, "documentation (203.0.113.0/24)"),
        ([224, 0, 0, 0], 4, "multicast (224.0.0.0/4)"),
        ([240, 0, 0, 0], 4, "reserved (240.0.0.0/4)"),
    ];
    RANGES.iter().find(|(net, prefix, _)| in_v4(ip, *net, *prefix)).map(|(_, _, why)| *why)
}

fn in_v6(ip: Ipv6Addr, net: [u16; 8], prefix: u32) -> bool {
    let mask = if prefix == 0 { 0 } else { u128::MAX << (128 - prefix) };
    u128::from(ip) & mask == u128::from(Ipv6Addr::from(net)) & mask
}

fn reserved_v6(ip: Ipv6Addr) -> Option<&'static str> {
    const RANGES: &[([u16; 8], u32, &str)] = &[
        ([0, 0, 0, 0, 0, 0, 0, 0], 128, "unspecified (::/128)"),
        ([0, 0, 0, 0, 0, 0, 0, 1], 128, "loopback (::1/128)"),
        ([0, 0, 0, 0, 0, 0xffff, 0, 0], 96, "IPv4-mapped (::ffff:0:0/96)"),
        ([0x64, 0xff9b, 0, 0, 0, 0, 0, 0], 96, "IPv4/IPv6 translation (64:ff9b::/96)"),
        ([0x64, 0xff9b, 1, 0, 0, 0, 0, 0], 48, "local-use translation (64:ff9b:1::/48)"),
        ([0x100, 0, 0, 0, 0, 0, 0, 0], 64, "discard-only (100::/64)"),
        ([0x2001, 0, 0, 0, 0, 0, 0, 0], 23, "IETF protocol assignments (2001::/23)"),
        ([0x2001, 0xdb8, 0, 0, 0, 0, 0, 0], 32, "documentation (2001:db8::/32)"),
        ([0x2002, 0, 0, 0, 0, 0, 0, 0], 16, "6to4 (2002::/16)"),
        ([0x3fff, 0, 0, 0, 0, 0, 0, 0], 20, "documentation (3fff::/20)"),
        ([0xfc00, 0, 0, 0, 0, 0, 0, 0], 7, "unique local (fc00::/7)"),
        ([0xfe80, 0, 0, 0, 0, 0, 0, 0], 10, "link-local (fe80::/10)"),
        ([0xff00, 0, 0, 0, 0, 0, 0, 0], 8, "multicast (ff00::/8)"),
    ];
    RANGES.iter().find(|(net, prefix, _)| in_v6(ip, *net, *prefix)).map(|(_, _, why)| *why)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn label_syntax() {
        assert_eq!(has_bad_label_character("www.example.com"), None);
        assert_eq!(has_bad_label_character("*.ex-ample.com"), None);
        assert_eq!(has_bad_label_character("a_b.example.com"), None, "underscores are another lint's");
        assert_eq!(has_bad_label_character("-a.example.com"), Some("-a"));
        assert_eq!(has_bad_label_character("a-.example.com"), Some("a-"));
        assert_eq!(has_bad_label_character("a b.example.com"), Some("a b"));
        assert_eq!(has_bad_label_character("caf\u{e9}.example.com"), Some("caf\u{e9}"));
        assert_eq!(long_label(&format!("{}.com", "a".repeat(63))), None);
        assert!(long_label(&format!("{}.com", "a".repeat(64))).is_some());
        assert!(has_empty_label("a..b") && has_empty_label(".a") && has_empty_label("a.") && has_empty_label(""));
        assert!(!has_empty_label("a.b"));
    }

    #[test]
    fn wildcards_and_ip_text() {
        assert!(!wildcard_not_leftmost("*.example.com"));
        assert!(wildcard_not_leftmost("www.*.example.com"));
        assert!(!partial_wildcard("*.example.com"));
        assert!(partial_wildcard("w*.example.com") && partial_wildcard("**.example.com"));
        assert!(is_ip_text("192.0.2.1") && is_ip_text("2001:db8::1"));
        assert!(!is_ip_text("192.0.2.1.example") && !is_ip_text("example.com"));
    }

    #[test]
    fn internal_names() {
        assert!(!is_internal_name("example.com"));
        assert!(!is_internal_name("example.CO.UK"));
        assert!(!is_internal_name("foo.onion"));
        assert!(is_internal_name("server.local"));
        assert!(is_internal_name("intranet"));
        assert!(!is_internal_name("example.com."));
        assert!(is_internal_name("example.com.."));
        assert!(is_internal_name("."));
        assert!(is_internal_name("host.notarealtld"));
    }

    #[test]
    fn reserved_addresses() {
        let r = |s: &str| reserved_ip(s.parse().unwrap());
        assert_eq!(r("10.1.2.3"), Some("private (10.0.0.0/8)"));
        assert_eq!(r("172.31.255.255"), Some("private (172.16.0.0/12)"));
        assert_eq!(r("172.32.0.1"), None);
        assert_eq!(r("8.8.8.8"), None);
        assert!(r("255.255.255.255").is_some() && r("127.0.0.1").is_some());
        assert_eq!(r("2606:4700::1111"), None);
        assert!(r("fe80::1").is_some() && r("::1").is_some() && r("fd00::1").is_some() && r("::").is_some());
    }
}
