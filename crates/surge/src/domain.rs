//! Registered domains and public suffixes of certificate names.
//!
//! Certificates name hosts (`www.kcc.gov.tw`, `*.example.co.uk`); surges are explained by who owns
//! those hosts, so names are grouped by their *registered domain* (the public suffix plus one label,
//! `kcc.gov.tw`, `example.co.uk`) and by the *public suffix* itself (`gov.tw`, `co.uk`), both taken
//! from the Public Suffix List bundled in the `psl` crate (ICANN and private sections).

/// Longest DNS name, in octets of its presentation form without the trailing dot.
const MAX_NAME_LEN: usize = 253;

/// Longest DNS label, in octets.
const MAX_LABEL_LEN: usize = 63;

/// Returns the registered domain of a DNS name from a certificate, or `None` when it has none.
///
/// The name is normalised first: ASCII letters are lowercased, one leading wildcard label (`*.`)
/// and one trailing dot are removed. `None` is returned for names that are not plausible host
/// names (empty labels, characters other than letters, digits, `-` and `_`, labels over 63 octets,
/// names over 253 octets, non-ASCII text — IDNs appear in certificates as `xn--` A-labels), for IP
/// addresses (a final label made only of digits, or any `:`), and for names that are themselves a
/// public suffix (`gov.tw`, `*.gov.tw`, `com`).
///
/// ```
/// use ctwatch_surge::registered_domain;
/// assert_eq!(registered_domain("WWW.Kcc.Gov.TW.").as_deref(), Some("kcc.gov.tw"));
/// assert_eq!(registered_domain("*.example.co.uk").as_deref(), Some("example.co.uk"));
/// assert_eq!(registered_domain("*.gov.tw"), None);
/// assert_eq!(registered_domain("192.0.2.1"), None);
/// ```
pub fn registered_domain(dns_name: &str) -> Option<String> {
    let name = normalise(dns_name)?;
    psl::domain_str(&name).map(str::to_owned)
}

/// Returns the public suffix of a DNS name from a certificate (`gov.tw` for `www.kcc.gov.tw`).
///
/// The name is normalised and rejected exactly as in [`registered_domain`], except that a name which
/// is itself a public suffix returns itself. Names under a top-level domain missing from the list
/// get their last label as suffix (the list's default rule).
pub fn public_suffix(dns_name: &str) -> Option<String> {
    let name = normalise(dns_name)?;
    psl::suffix_str(&name).map(str::to_owned)
}

/// Returns the distinct registered domains of a certificate's DNS names, sorted.
///
/// Names without a registered domain (see [`registered_domain`]) are skipped.
pub fn registered_domains<I, S>(dns_names: I) -> Vec<String>
where
    I: IntoIterator<Item = S>,
    S: AsRef<str>,
{
    let mut domains: Vec<String> = dns_names.into_iter().filter_map(|name| registered_domain(name.as_ref())).collect();
    domains.sort_unstable();
    domains.dedup();
    domains
}

/// Lowercases a name, strips one leading `*.` and one trailing `.`, and checks its syntax.
fn normalise(dns_name: &str) -> Option<String> {
    let name = dns_name.strip_suffix('.').unwrap_or(dns_name);
    let name = name.strip_prefix("*.").unwrap_or(name);
    if name.is_empty() || name.len() > MAX_NAME_LEN {
        return None;
    }
    let name = name.to_ascii_lowercase();
    let mut last_label = "";
    for label in name.split('.') {
        let valid_chars = label.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'_');
        if label.is_empty() || label.len() > MAX_LABEL_LEN || !valid_chars {
            return None;
        }
        last_label = label;
    }
    // Top-level domains are never all digits; such a name is an IPv4 address or garbage.
    if last_label.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    Some(name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ordinary_names() {
        assert_eq!(registered_domain("www.example.com").as_deref(), Some("example.com"));
        assert_eq!(registered_domain("example.com").as_deref(), Some("example.com"));
        assert_eq!(registered_domain("a.b.c.example.co.uk").as_deref(), Some("example.co.uk"));
        assert_eq!(registered_domain("www.kcc.gov.tw").as_deref(), Some("kcc.gov.tw"));
        assert_eq!(registered_domain("117-56-73-149.rpb.gov.tw").as_deref(), Some("rpb.gov.tw"));
        assert_eq!(registered_domain("qec.kh.edu.tw").as_deref(), Some("kh.edu.tw"));
        assert_eq!(registered_domain("_acme-challenge.example.org").as_deref(), Some("example.org"));
    }

    #[test]
    fn normalisation() {
        assert_eq!(registered_domain("WWW.EXAMPLE.COM").as_deref(), Some("example.com"));
        assert_eq!(registered_domain("www.example.com.").as_deref(), Some("example.com"));
        assert_eq!(registered_domain("*.example.com").as_deref(), Some("example.com"));
        assert_eq!(registered_domain("*.www.example.com").as_deref(), Some("example.com"));
    }

    #[test]
    fn public_suffixes_have_no_registered_domain() {
        for name in ["gov.tw", "*.gov.tw", "com", "*.com", "co.uk", "github.io", "tw."] {
            assert_eq!(registered_domain(name), None, "{name}");
        }
        assert_eq!(public_suffix("gov.tw").as_deref(), Some("gov.tw"));
        assert_eq!(public_suffix("www.kcc.gov.tw").as_deref(), Some("gov.tw"));
        assert_eq!(public_suffix("*.example.co.uk").as_deref(), Some("co.uk"));
    }

    #[test]
    fn private_section_suffixes_count() {
        assert_eq!(registered_domain("alice.github.io").as_deref(), Some("alice.github.io"));
        assert_eq!(public_suffix("alice.github.io").as_deref(), Some("github.io"));
    }

    #[test]
    fn rejects_non_host_names() {
        for name in [
            "",
            ".",
            "*.",
            "*",
            "192.0.2.1",
            "10.0.0.1.",
            "2001:db8::1",
            "a..example.com",
            ".example.com",
            "exa mple.com",
            "foo.*.example.com",
            "**.example.com",
            "b\u{fc}cher.de",
            "localhost",
        ] {
            assert_eq!(registered_domain(name), None, "{name:?}");
        }
        let long_label = format!("{}.com", "a".repeat(64));
        assert_eq!(registered_domain(&long_label), None);
        let long_name = format!("{}example.com", "abcdefghi.".repeat(25));
        assert!(long_name.len() > MAX_NAME_LEN);
        assert_eq!(registered_domain(&long_name), None);
    }

    #[test]
    fn unknown_tld_uses_default_rule() {
        assert_eq!(registered_domain("host.corp.internalzz").as_deref(), Some("corp.internalzz"));
    }

    #[test]
    fn distinct_sorted_domains() {
        let names = ["www.b.com", "B.com", "*.a.com", "a.com", "gov.tw", "198.51.100.7"];
        assert_eq!(registered_domains(names), vec!["a.com".to_string(), "b.com".to_string()]);
    }

    /// Properties over many generated names: never panics, idempotent, case/dot/wildcard
    /// invariant, and the result is a label-aligned tail of the input that contains its suffix.
    #[test]
    fn properties_over_generated_names() {
        const LABELS: [&str; 14] =
            ["www", "A", "gov", "tw", "com", "co", "uk", "github", "io", "xn--bcher-kva", "x-y", "_dmarc", "9", "Edu"];
        let mut state: u64 = 0x9e37_79b9_7f4a_7c15;
        let mut next = move || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state
        };
        for _ in 0..5000 {
            let n = 1 + (next() % 5) as usize;
            let labels: Vec<&str> = (0..n).map(|_| LABELS[(next() % LABELS.len() as u64) as usize]).collect();
            let name = labels.join(".");
            let lower = name.to_ascii_lowercase();
            let result = registered_domain(&name);
            assert_eq!(result, registered_domain(&format!("{}.", name.to_ascii_uppercase())), "{name}");
            assert_eq!(result, registered_domain(&format!("*.{name}")), "{name}");
            if let Some(domain) = &result {
                assert_eq!(registered_domain(domain).as_ref(), Some(domain), "{name}");
                assert!(lower == *domain || lower.ends_with(&format!(".{domain}")), "{name} -> {domain}");
                let suffix = public_suffix(domain).unwrap();
                assert!(domain.ends_with(&format!(".{suffix}")), "{domain} vs {suffix}");
                assert_eq!(registered_domain(&suffix), None, "{suffix}");
            }
        }
        // Arbitrary bytes never panic.
        for _ in 0..5000 {
            let len = (next() % 20) as usize;
            let bytes: Vec<u8> = (0..len).map(|_| (next() % 128) as u8).collect();
            let text = String::from_utf8_lossy(&bytes);
            let _ = registered_domain(&text);
            let _ = public_suffix(&text);
        }
    }
}
