//! static-ct-api tile naming: `tile/<L>/<N>[.p/<W>]` and `tile/data/<N>[.p/<W>]`.
//!
//! `N` is written in groups of three decimal digits, every group but the last prefixed with
//! `x` (`1234067` → `x001/x234/067`, `5` → `005`). A partial tile of `W` entries
//! (`1 ≤ W < 256`) adds `.p/<W>`. [`parse_tile_path`] is the exact inverse of the two path
//! builders: it accepts only the canonical spelling.

/// Entries (or hashes) in a full tile.
pub const TILE_WIDTH: u64 = 256;

/// Encode a tile index as 3-digit groups: 1234067 → `x001/x234/067`.
pub fn encode_index(n: u64) -> String {
    let mut groups = Vec::new();
    let mut rest = n;
    loop {
        groups.push(rest % 1000);
        rest /= 1000;
        if rest == 0 {
            break;
        }
    }
    let mut out = String::new();
    for (i, group) in groups.iter().rev().enumerate() {
        if i > 0 {
            out.push('/');
        }
        if i + 1 < groups.len() {
            out.push('x');
        }
        out.push_str(&format!("{group:03}"));
    }
    out
}

/// The `.p/<W>` suffix for a width; empty for a full tile (`width >= 256`). Callers pass
/// widths in `1..=256`.
fn width_suffix(width: u64) -> String {
    if width >= TILE_WIDTH { String::new() } else { format!(".p/{width}") }
}

/// Path of a hash tile at `level`, index `n`; `width` < 256 gives a partial tile `.p/<W>`.
/// Widths of 256 or more mean a full tile; `width` should not be 0.
pub fn hash_tile_path(level: u8, n: u64, width: u64) -> String {
    format!("tile/{level}/{}{}", encode_index(n), width_suffix(width))
}

/// Path of a data tile. Widths of 256 or more mean a full tile; `width` should not be 0.
pub fn data_tile_path(n: u64, width: u64) -> String {
    format!("tile/data/{}{}", encode_index(n), width_suffix(width))
}

/// A canonical decimal number (no sign, no leading zeros except `0`) that fits in `u64`.
fn parse_decimal(s: &str) -> Option<u64> {
    let canonical = !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()) && (s == "0" || !s.starts_with('0'));
    if canonical { s.parse().ok() } else { None }
}

/// Parse the `N[.p/W]` part of a tile path.
fn parse_index_and_width(s: &str) -> Option<(u64, u64)> {
    let (index_part, width) = match s.split_once(".p/") {
        Some((index, width)) => {
            let width = parse_decimal(width)?;
            if width == 0 || width >= TILE_WIDTH {
                return None;
            }
            (index, width)
        }
        None => (s, TILE_WIDTH),
    };
    let groups: Vec<&str> = index_part.split('/').collect();
    let (last, leading) = groups.split_last()?;
    let mut n: u64 = 0;
    for (i, group) in leading.iter().enumerate() {
        let digits = group.strip_prefix('x')?;
        let value = three_digits(digits)?;
        if i == 0 && value == 0 {
            // `x000/...` is not how any index is written.
            return None;
        }
        n = n.checked_mul(1000)?.checked_add(value)?;
    }
    n = n.checked_mul(1000)?.checked_add(three_digits(last)?)?;
    Some((n, width))
}

/// Exactly three ASCII digits.
fn three_digits(s: &str) -> Option<u64> {
    if s.len() == 3 && s.bytes().all(|b| b.is_ascii_digit()) { s.parse().ok() } else { None }
}

/// Parse a tile path back to (level or None for data, index, width). Used by the test log.
/// Full tiles have width 256. Anything but the canonical spelling produced by
/// [`hash_tile_path`] / [`data_tile_path`] is rejected (`None`), including a leading `/`,
/// non-canonical levels or widths, `W = 0` and `W ≥ 256`.
pub fn parse_tile_path(path: &str) -> Option<(Option<u8>, u64, u64)> {
    let rest = path.strip_prefix("tile/")?;
    let (level_part, index_part) = rest.split_once('/')?;
    let level = if level_part == "data" { None } else { Some(u8::try_from(parse_decimal(level_part)?).ok()?) };
    let (n, width) = parse_index_and_width(index_part)?;
    Some((level, n, width))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn index_encoding() {
        assert_eq!(encode_index(0), "000");
        assert_eq!(encode_index(5), "005");
        assert_eq!(encode_index(999), "999");
        assert_eq!(encode_index(1000), "x001/000");
        assert_eq!(encode_index(1234067), "x001/x234/067");
        assert_eq!(encode_index(u64::MAX), "x018/x446/x744/x073/x709/x551/615");
    }

    #[test]
    fn paths() {
        assert_eq!(hash_tile_path(0, 1234067, 256), "tile/0/x001/x234/067");
        assert_eq!(hash_tile_path(3, 5, 10), "tile/3/005.p/10");
        assert_eq!(data_tile_path(1234067, 256), "tile/data/x001/x234/067");
        assert_eq!(data_tile_path(3, 255), "tile/data/003.p/255");
        assert_eq!(data_tile_path(3, 1), "tile/data/003.p/1");
        assert_eq!(data_tile_path(3, 1000), "tile/data/003");
    }

    #[test]
    fn parse_roundtrip() {
        let indices = [0u64, 1, 7, 999, 1000, 1001, 123_456, 1_234_067, 999_999_999, u64::MAX];
        for n in indices {
            for width in [1u64, 2, 10, 128, 255, 256] {
                let data = data_tile_path(n, width);
                assert_eq!(parse_tile_path(&data), Some((None, n, width)), "{data}");
                for level in [0u8, 1, 5, 63, 255] {
                    let hash = hash_tile_path(level, n, width);
                    assert_eq!(parse_tile_path(&hash), Some((Some(level), n, width)), "{hash}");
                }
            }
        }
        // Every index below 3000 round-trips.
        for n in 0..3000 {
            assert_eq!(parse_tile_path(&data_tile_path(n, 256)), Some((None, n, 256)));
        }
    }

    #[test]
    fn parse_rejects_malformed() {
        for bad in [
            "",
            "tile",
            "tile/",
            "tile/0",
            "tile/0/",
            "/tile/0/000",
            "xtile/0/000",
            "tiles/0/000",
            "tile/names/000",
            "tile/00/000",
            "tile/256/000",
            "tile/-1/000",
            "tile/+1/000",
            "tile/0/00",
            "tile/0/0000",
            "tile/0/1",
            "tile/0/x001",
            "tile/0/001/002",
            "tile/0/x1/002",
            "tile/0/x000/002",
            "tile/0/y001/002",
            "tile/0/x001/x002",
            "tile/0/x001//002",
            "tile/0/000/",
            "tile/0/000.p",
            "tile/0/000.p/",
            "tile/0/000.p/0",
            "tile/0/000.p/256",
            "tile/0/000.p/300",
            "tile/0/000.p/010",
            "tile/0/000.p/1x",
            "tile/0/000.p/1/2",
            "tile/data/000.p/+1",
            "tile/data/00a",
            "tile/data/x018/x446/x744/x073/x709/x551/616",
            "tile/data/x999/x999/x999/x999/x999/x999/x999/999",
            "tile/data/000 ",
            " tile/data/000",
        ] {
            assert_eq!(parse_tile_path(bad), None, "{bad:?}");
        }
    }
}
