//! C2SP signed-note checkpoints: parsing, then verification against the fixed test key (the
//! seed corpus holds checkpoints that key really signed, so the success path is reachable).

#![no_main]

use ctwatch_ct::checkpoint;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(parsed) = checkpoint::parse_checkpoint(data) else { return };
    let key = ctwatch_fuzz::checkpoint_key();
    let _ = parsed.rfc6962_signature(&key.log_id);
    let _ = checkpoint::verify_checkpoint(&parsed, ctwatch_fuzz::CHECKPOINT_ORIGIN, key);
    if let Ok(sth) = checkpoint::verify_checkpoint(&parsed, &parsed.origin, key) {
        assert_eq!(sth.head.tree_size, parsed.tree_size);
        assert_eq!(sth.head.root_hash, parsed.root_hash);
    }
});
