//! static-ct-api tile naming: `tile/<L>/<N>[.p/<W>]` and `tile/data/<N>[.p/<W>]`.

/// Entries (or hashes) in a full tile.
pub const TILE_WIDTH: u64 = 256;

/// Encode a tile index as 3-digit groups: 1234067 → `x001/x234/067`.
pub fn encode_index(n: u64) -> String {
    todo!()
}

/// Path of a hash tile at `level`, index `n`; `width` < 256 gives a partial tile `.p/<W>`.
pub fn hash_tile_path(level: u8, n: u64, width: u64) -> String {
    todo!()
}

/// Path of a data tile.
pub fn data_tile_path(n: u64, width: u64) -> String {
    todo!()
}

/// Parse a tile path back to (level or None for data, index, width). Used by the test log.
pub fn parse_tile_path(path: &str) -> Option<(Option<u8>, u64, u64)> {
    todo!()
}
