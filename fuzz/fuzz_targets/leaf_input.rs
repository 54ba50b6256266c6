//! RFC 6962 `leaf_input` (`MerkleTreeLeaf`) and `extra_data` decoding, as served by
//! get-entries. Whatever decodes must re-encode to the same bytes (the decoders are strict).

#![no_main]

use ctwatch_ct::wire::{self, EntryType};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(entry) = wire::decode_leaf_input(data) {
        assert_eq!(entry.encode_leaf_input(), data, "leaf_input does not round-trip");
        let _ = entry.leaf_hash();
        let _ = entry.leaf_index_extension();
    }
    if let Ok(entry) = wire::decode_timestamped_entry(data) {
        assert_eq!(entry.encode(), data, "TimestampedEntry does not round-trip");
    }
    for entry_type in [EntryType::X509, EntryType::Precert] {
        if let Ok(extra) = wire::decode_extra_data(entry_type, data) {
            assert_eq!(wire::encode_extra_data(entry_type, &extra), data, "extra_data does not round-trip");
        }
    }
});
