//! The `ctwatch` command: parses arguments, sets up logging and calls the libraries.

#![forbid(unsafe_code)]

mod backfill;
mod bench;
mod bench_api;
mod bench_caa;
mod bench_many;
mod bench_rate;
mod ccadb;
mod cli;
mod demo;
mod findings;
mod notify;
mod report;
mod status;
mod tools;
mod usage;

use std::process::ExitCode;

fn main() -> ExitCode {
    match cli::run() {
        Ok(code) => code,
        Err(e) => {
            eprintln!("ctwatch: error: {e:#}");
            ExitCode::from(1)
        }
    }
}
