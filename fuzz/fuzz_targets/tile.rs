//! static-ct-api data tiles (concatenated `TileLeaf`s) and tile paths. Whatever decodes must
//! re-encode to the same bytes.

#![no_main]

use ctwatch_ct::{tile, wire};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(leaves) = wire::decode_data_tile(data) {
        let encoded: Vec<u8> = leaves.iter().flat_map(wire::TileLeaf::encode).collect();
        assert_eq!(encoded, data, "data tile does not round-trip");
        for leaf in &leaves {
            let _ = leaf.entry.leaf_hash();
            let _ = leaf.entry.leaf_index_extension();
        }
    }
    if let Ok(leaf) = wire::decode_tile_leaf(data) {
        assert_eq!(leaf.encode(), data, "TileLeaf does not round-trip");
    }
    if let Ok(path) = std::str::from_utf8(data) {
        let _ = tile::parse_tile_path(path);
    }
});
