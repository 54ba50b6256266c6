//! A command hook: for each finding, run a configured program (without a shell) with the
//! finding in environment variables and its JSON in a temporary file. Exit status 0 is the
//! acknowledgement; any other status, a failure to start, or running past the timeout leaves
//! the finding pending for the next pass.
//!
//! Environment of the program (on top of ctwatch's own):
//!
//! | variable | value |
//! |---|---|
//! | `CTWATCH_FINDING_ID` | the finding's id |
//! | `CTWATCH_FINDING_KIND` | e.g. `caa_conflict` |
//! | `CTWATCH_FINDING_SEVERITY` | `info`, `warning`, `error` or `critical` |
//! | `CTWATCH_FINDING_STATUS` | `open`, `acknowledged` or `resolved` |
//! | `CTWATCH_FINDING_CA` | the watched CA's name (empty when none) |
//! | `CTWATCH_FINDING_ISSUER` | the issuer (empty when none) |
//! | `CTWATCH_FINDING_KEY` | the finding's stable key |
//! | `CTWATCH_FINDING_CERTIFICATE_COUNT` | distinct certificates linked to it |
//! | `CTWATCH_FINDING_FIRST_SEEN`, `CTWATCH_FINDING_LAST_SEEN` | Unix seconds |
//! | `CTWATCH_FINDING_DELIVERY` | the dedup key (see [`crate::webhook::delivery_id`]) |
//! | `CTWATCH_FINDING_JSON` | path of a file holding the finding's JSON, removed afterwards |
//!
//! Standard input and output are discarded; the end of standard error is kept in the error
//! message. On timeout the program is killed (its own children are not).

use crate::alertmanager::{severity_name, status_name};
use crate::{BoxFuture, Sink, SinkError, truncate};
use ctwatch_store::Finding;
use std::io::Write as _;
use std::path::PathBuf;
use std::process::Stdio;
use std::time::Duration;

/// How much of a failing command's standard error is kept.
const STDERR_BYTES: usize = 1024;

/// Settings of a [`CommandSink`].
#[derive(Debug, Clone)]
pub struct CommandOptions {
    /// The sink's name (the delivery-state key).
    pub name: String,
    /// The program to run (a path, or a name looked up in `PATH`).
    pub program: PathBuf,
    /// Its arguments.
    pub args: Vec<String>,
    /// How long one run may take before it is killed.
    pub timeout: Duration,
}

/// Runs a program per finding.
#[derive(Debug)]
pub struct CommandSink {
    options: CommandOptions,
}

impl CommandSink {
    /// A sink running `options.program`.
    pub fn new(options: CommandOptions) -> Self {
        CommandSink { options }
    }

    fn command_name(&self) -> String {
        self.options.program.display().to_string()
    }

    fn error(&self, message: impl std::fmt::Display) -> SinkError {
        SinkError::Command { command: self.command_name(), message: message.to_string() }
    }

    async fn deliver_one(&self, finding: &Finding) -> Result<(), SinkError> {
        let json = serde_json::to_vec_pretty(finding)
            .map_err(|e| SinkError::Encode { finding_id: finding.id, detail: e.to_string() })?;
        // Removed when dropped, after the program has finished (or been killed).
        let mut file = tempfile::Builder::new()
            .prefix("ctwatch-finding-")
            .suffix(".json")
            .tempfile()
            .map_err(|e| self.error(format_args!("cannot create the finding's JSON file: {e}")))?;
        file.write_all(&json)
            .and_then(|()| file.flush())
            .map_err(|e| self.error(format_args!("cannot write {}: {e}", file.path().display())))?;

        let child = tokio::process::Command::new(&self.options.program)
            .args(&self.options.args)
            .env("CTWATCH_FINDING_ID", finding.id.to_string())
            .env("CTWATCH_FINDING_KIND", &finding.kind)
            .env("CTWATCH_FINDING_SEVERITY", severity_name(finding.severity))
            .env("CTWATCH_FINDING_STATUS", status_name(finding.status))
            .env("CTWATCH_FINDING_CA", finding.ca.as_deref().unwrap_or(""))
            .env("CTWATCH_FINDING_ISSUER", finding.issuer.as_deref().unwrap_or(""))
            .env("CTWATCH_FINDING_KEY", &finding.key)
            .env("CTWATCH_FINDING_CERTIFICATE_COUNT", finding.certificate_count.to_string())
            .env("CTWATCH_FINDING_FIRST_SEEN", finding.first_seen.to_string())
            .env("CTWATCH_FINDING_LAST_SEEN", finding.last_seen.to_string())
            .env("CTWATCH_FINDING_DELIVERY", crate::webhook::delivery_id(finding))
            .env("CTWATCH_FINDING_JSON", file.path())
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .map_err(|e| self.error(format_args!("cannot start: {e}")))?;
        // On timeout the future, and with it the child, is dropped: `kill_on_drop` kills it.
        let output = match tokio::time::timeout(self.options.timeout, child.wait_with_output()).await {
            Ok(Ok(output)) => output,
            Ok(Err(e)) => return Err(self.error(format_args!("waiting for it failed: {e}"))),
            Err(_) => {
                return Err(SinkError::CommandTimeout {
                    command: self.command_name(),
                    seconds: self.options.timeout.as_secs_f64(),
                });
            }
        };
        drop(file);
        if output.status.success() {
            return Ok(());
        }
        let stderr = String::from_utf8_lossy(&output.stderr);
        let stderr = stderr.trim();
        // Keep the end, where programs usually say what went wrong.
        let start = stderr.len().saturating_sub(STDERR_BYTES);
        let tail =
            (start..stderr.len()).find(|&i| stderr.is_char_boundary(i)).and_then(|i| stderr.get(i..)).unwrap_or("");
        Err(SinkError::CommandFailed {
            command: self.command_name(),
            status: output.status.to_string(),
            stderr: truncate(tail, STDERR_BYTES),
        })
    }

    async fn deliver_all(&self, findings: &[Finding]) -> Vec<Result<(), SinkError>> {
        let mut results = Vec::with_capacity(findings.len());
        for finding in findings {
            results.push(self.deliver_one(finding).await);
        }
        results
    }
}

impl Sink for CommandSink {
    fn name(&self) -> &str {
        &self.options.name
    }

    fn deliver<'a>(&'a self, findings: &'a [Finding], _now: i64) -> BoxFuture<'a, Vec<Result<(), SinkError>>> {
        Box::pin(self.deliver_all(findings))
    }
}
