//! Tests against real CT data from `../shared/data` (skipped, with a message, when absent).
//!
//! One integration test binary: each module covers one part of the crate.

mod checkpoints;
mod log_lists;
mod rfc6962_entries;
mod static_tiles;
