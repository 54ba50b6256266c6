//! The `[[sink]]` configuration: parsed strictly (`deny_unknown_fields`), then validated into
//! [`SinkSpec`]s so that sinks never re-check user input.
//!
//! ```toml
//! [[sink]]
//! type = "alertmanager"
//! url = "http://127.0.0.1:9093"          # Alertmanager's base URL
//! api_base = "https://ctwatch.example"   # optional: links to findings in ctwatch's API
//! min_severity = "warning"               # default "warning"
//! resend_interval_secs = 60              # default 60
//!
//! [[sink]]
//! type = "webhook"
//! url = "https://hooks.example/ctwatch"
//! secret_file = "/etc/ctwatch/webhook.secret"   # or secret = "..."
//! max_attempts = 4                       # per pass; default 4
//! backoff_secs = 1                       # first retry delay, doubling; default 1
//!
//! [[sink]]
//! type = "command"
//! command = "/usr/local/bin/page-oncall"
//! args = ["--team", "pki"]
//! timeout_secs = 30                      # default 30 (10 for HTTP sinks)
//! ```
//!
//! Each sink's delivery state is kept under its `name`, which defaults to `<type>:<url>` or
//! `command:<command>`: pointing a sink somewhere else starts its delivery state afresh.

use crate::RetryPolicy;
use crate::alertmanager::AlertmanagerOptions;
use crate::command::CommandOptions;
use crate::webhook::WebhookOptions;
use ctwatch_store::Severity;
use serde::Deserialize;
use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// Default minimum severity a sink is sent.
pub const DEFAULT_MIN_SEVERITY: Severity = Severity::Warning;
/// Default timeout of one HTTP request.
pub const DEFAULT_HTTP_TIMEOUT: Duration = Duration::from_secs(10);
/// Default timeout of one command run.
pub const DEFAULT_COMMAND_TIMEOUT: Duration = Duration::from_secs(30);
/// Default interval of Alertmanager re-sends.
pub const DEFAULT_RESEND_INTERVAL: Duration = Duration::from_secs(60);

/// Configuration errors; `key` names the offending entry, e.g. `sink[2].url`.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("{key}: {detail}")]
    Invalid { key: String, detail: String },
    #[error("{key}: cannot read {path}: {source}")]
    SecretFile {
        key: String,
        path: String,
        #[source]
        source: std::io::Error,
    },
}

/// A configuration file's (or section's) sinks: `[[sink]]` entries.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SinksConfig {
    #[serde(default, rename = "sink")]
    pub sinks: Vec<SinkConfig>,
}

/// What kind of sink a `[[sink]]` is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SinkType {
    Alertmanager,
    Webhook,
    Command,
}

impl SinkType {
    fn as_str(self) -> &'static str {
        match self {
            SinkType::Alertmanager => "alertmanager",
            SinkType::Webhook => "webhook",
            SinkType::Command => "command",
        }
    }
}

/// One `[[sink]]` as written.
#[derive(Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SinkConfig {
    /// `"alertmanager"`, `"webhook"` or `"command"`.
    #[serde(rename = "type")]
    pub kind: SinkType,
    /// The delivery-state key (default `<type>:<url>` or `command:<command>`). Unique.
    pub name: Option<String>,
    /// Alertmanager's base URL, or the webhook's URL.
    pub url: Option<String>,
    /// Webhook: the HMAC-SHA256 key.
    pub secret: Option<String>,
    /// Webhook: a file holding the key (surrounding whitespace is ignored). Relative paths are
    /// relative to the configuration file.
    pub secret_file: Option<PathBuf>,
    /// Command: the program. A relative path with a `/` is relative to the configuration file;
    /// a bare name is looked up in `PATH`.
    pub command: Option<PathBuf>,
    /// Command: its arguments.
    #[serde(default)]
    pub args: Vec<String>,
    /// Timeout of one request or run (default 10 s for HTTP sinks, 30 s for commands).
    pub timeout_secs: Option<f64>,
    /// Findings below this severity are not sent (default `"warning"`).
    pub min_severity: Option<Severity>,
    /// HTTP sinks: attempts per finding and pass (default 4).
    pub max_attempts: Option<u32>,
    /// HTTP sinks: delay before the first retry, doubling with each retry, with jitter
    /// (default 1 s).
    pub backoff_secs: Option<f64>,
    /// HTTP sinks: the largest delay between attempts (default 30 s).
    pub max_backoff_secs: Option<f64>,
    /// Alertmanager: how often open findings are re-sent (default 60 s).
    pub resend_interval_secs: Option<f64>,
    /// Alertmanager: ctwatch's API base URL for the `link` annotation (overrides the daemon's
    /// default).
    pub api_base: Option<String>,
}

impl std::fmt::Debug for SinkConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SinkConfig")
            .field("kind", &self.kind)
            .field("name", &self.name)
            .field("url", &self.url)
            .field("secret", &self.secret.as_ref().map(|_| "<redacted>"))
            .field("secret_file", &self.secret_file)
            .field("command", &self.command)
            .field("args", &self.args)
            .field("timeout_secs", &self.timeout_secs)
            .field("min_severity", &self.min_severity)
            .field("max_attempts", &self.max_attempts)
            .field("backoff_secs", &self.backoff_secs)
            .field("max_backoff_secs", &self.max_backoff_secs)
            .field("resend_interval_secs", &self.resend_interval_secs)
            .field("api_base", &self.api_base)
            .finish()
    }
}

/// A validated sink.
#[derive(Debug, Clone)]
pub struct SinkSpec {
    pub min_severity: Severity,
    pub target: SinkTarget,
}

/// What a validated sink delivers to.
#[derive(Debug, Clone)]
pub enum SinkTarget {
    Alertmanager(AlertmanagerOptions),
    Webhook(WebhookOptions),
    Command(CommandOptions),
}

impl SinkSpec {
    /// The sink's name.
    pub fn name(&self) -> &str {
        match &self.target {
            SinkTarget::Alertmanager(o) => &o.name,
            SinkTarget::Webhook(o) => &o.name,
            SinkTarget::Command(o) => &o.name,
        }
    }
}

impl SinksConfig {
    /// Validate every sink. `base_dir` is the configuration file's directory (for relative
    /// paths); `api_base` is the daemon's default for alert links. Reads secret files.
    pub fn validate(&self, base_dir: &Path, api_base: Option<&str>) -> Result<Vec<SinkSpec>, ConfigError> {
        let mut names = HashSet::new();
        let mut specs = Vec::with_capacity(self.sinks.len());
        for (i, sink) in self.sinks.iter().enumerate() {
            let spec = sink.validate(&format!("sink[{}]", i + 1), base_dir, api_base)?;
            if !names.insert(spec.name().to_string()) {
                return Err(ConfigError::Invalid {
                    key: format!("sink[{}].name", i + 1),
                    detail: format!("another sink is already named {:?}; give one a distinct `name`", spec.name()),
                });
            }
            specs.push(spec);
        }
        Ok(specs)
    }
}

impl SinkConfig {
    /// Validate this sink; `key` is how errors name it (e.g. `sink[1]`).
    pub fn validate(&self, key: &str, base_dir: &Path, api_base: Option<&str>) -> Result<SinkSpec, ConfigError> {
        let invalid = |field: &str, detail: String| ConfigError::Invalid { key: format!("{key}.{field}"), detail };
        let kind = self.kind.as_str();
        // Options that only some types take.
        let allowed: &[&str] = match self.kind {
            SinkType::Alertmanager => &["url", "api_base", "resend_interval_secs", "http"],
            SinkType::Webhook => &["url", "secret", "http"],
            SinkType::Command => &["command"],
        };
        let set = [
            ("url", self.url.is_some(), "url"),
            ("secret", self.secret.is_some(), "secret"),
            ("secret", self.secret_file.is_some(), "secret_file"),
            ("command", self.command.is_some(), "command"),
            ("command", !self.args.is_empty(), "args"),
            ("http", self.max_attempts.is_some(), "max_attempts"),
            ("http", self.backoff_secs.is_some(), "backoff_secs"),
            ("http", self.max_backoff_secs.is_some(), "max_backoff_secs"),
            ("resend_interval_secs", self.resend_interval_secs.is_some(), "resend_interval_secs"),
            ("api_base", self.api_base.is_some(), "api_base"),
        ];
        for (group, present, field) in set {
            if present && !allowed.contains(&group) {
                return Err(invalid(field, format!("not an option of type = \"{kind}\"")));
            }
        }

        let min_severity = self.min_severity.unwrap_or(DEFAULT_MIN_SEVERITY);
        let default_timeout =
            if self.kind == SinkType::Command { DEFAULT_COMMAND_TIMEOUT } else { DEFAULT_HTTP_TIMEOUT };
        let timeout = seconds(self.timeout_secs, default_timeout, false).map_err(|d| invalid("timeout_secs", d))?;
        let name = |default: String| -> Result<String, ConfigError> {
            match &self.name {
                Some(name) if name.trim().is_empty() => Err(invalid("name", "must not be empty".into())),
                Some(name) => Ok(name.clone()),
                None => Ok(default),
            }
        };
        let url = || -> Result<String, ConfigError> {
            let url = self.url.as_deref().ok_or_else(|| invalid("url", format!("required for type = \"{kind}\"")))?;
            http_url(url).map_err(|d| invalid("url", d))?;
            Ok(url.to_string())
        };
        let retry = || -> Result<RetryPolicy, ConfigError> {
            let defaults = RetryPolicy::default();
            let max_attempts = self.max_attempts.unwrap_or(defaults.max_attempts);
            if max_attempts == 0 {
                return Err(invalid("max_attempts", "must be at least 1".into()));
            }
            Ok(RetryPolicy {
                max_attempts,
                initial_backoff: seconds(self.backoff_secs, defaults.initial_backoff, true)
                    .map_err(|d| invalid("backoff_secs", d))?,
                max_backoff: seconds(self.max_backoff_secs, defaults.max_backoff, true)
                    .map_err(|d| invalid("max_backoff_secs", d))?,
            })
        };

        let target = match self.kind {
            SinkType::Alertmanager => {
                let url = url()?;
                let api_base = match self.api_base.as_deref().or(api_base) {
                    Some(base) => {
                        http_url(base).map_err(|d| invalid("api_base", d))?;
                        Some(base.to_string())
                    }
                    None => None,
                };
                SinkTarget::Alertmanager(AlertmanagerOptions {
                    name: name(format!("alertmanager:{url}"))?,
                    url,
                    api_base,
                    resend_interval: seconds(self.resend_interval_secs, DEFAULT_RESEND_INTERVAL, false)
                        .map_err(|d| invalid("resend_interval_secs", d))?,
                    timeout,
                    retry: retry()?,
                })
            }
            SinkType::Webhook => {
                let url = url()?;
                let secret = match (&self.secret, &self.secret_file) {
                    (Some(secret), None) => secret.as_bytes().to_vec(),
                    (None, Some(file)) => {
                        let path = base_dir.join(file);
                        let text = std::fs::read(&path).map_err(|source| ConfigError::SecretFile {
                            key: format!("{key}.secret_file"),
                            path: path.display().to_string(),
                            source,
                        })?;
                        text.trim_ascii().to_vec()
                    }
                    (Some(_), Some(_)) => {
                        return Err(invalid("secret", "give either secret or secret_file, not both".into()));
                    }
                    (None, None) => {
                        return Err(invalid("secret", "a webhook needs secret or secret_file to sign with".into()));
                    }
                };
                if secret.is_empty() {
                    return Err(invalid("secret", "the signing secret is empty".into()));
                }
                SinkTarget::Webhook(WebhookOptions {
                    name: name(format!("webhook:{url}"))?,
                    url,
                    secret,
                    timeout,
                    retry: retry()?,
                })
            }
            SinkType::Command => {
                let command = self
                    .command
                    .as_ref()
                    .filter(|c| !c.as_os_str().is_empty())
                    .ok_or_else(|| invalid("command", "required for type = \"command\"".into()))?;
                // A bare name is looked up in PATH; a relative path is relative to the config.
                let program = if command.is_relative() && command.components().count() > 1 {
                    base_dir.join(command)
                } else {
                    command.clone()
                };
                SinkTarget::Command(CommandOptions {
                    name: name(format!("command:{}", command.display()))?,
                    program,
                    args: self.args.clone(),
                    timeout,
                })
            }
        };
        Ok(SinkSpec { min_severity, target })
    }
}

/// Seconds from the configuration as a duration: finite, not negative, and above zero unless
/// `zero_ok`.
fn seconds(value: Option<f64>, default: Duration, zero_ok: bool) -> Result<Duration, String> {
    let Some(value) = value else {
        return Ok(default);
    };
    if !value.is_finite() || value < 0.0 || (!zero_ok && value == 0.0) {
        let bound = if zero_ok { "at least 0" } else { "above 0" };
        return Err(format!("must be a number of seconds {bound}, found {value}"));
    }
    Duration::try_from_secs_f64(value).map_err(|e| format!("{value} seconds: {e}"))
}

/// Check that `text` is an absolute http(s) URL.
fn http_url(text: &str) -> Result<(), String> {
    let url = reqwest::Url::parse(text).map_err(|e| format!("{text:?} is not a URL: {e}"))?;
    match url.scheme() {
        "http" | "https" if url.host().is_some() => Ok(()),
        "http" | "https" => Err(format!("{text:?} has no host")),
        other => Err(format!("{text:?} has scheme {other:?}, expected http or https")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> SinksConfig {
        toml::from_str(text).unwrap()
    }

    fn error(text: &str) -> String {
        parse(text).validate(Path::new("/etc/ctwatch"), None).unwrap_err().to_string()
    }

    #[test]
    fn full_example_validates() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("hook.secret"), "s3cret\n").unwrap();
        let config = parse(
            r#"
            [[sink]]
            type = "alertmanager"
            url = "http://127.0.0.1:9093/"
            min_severity = "error"
            resend_interval_secs = 30

            [[sink]]
            type = "webhook"
            url = "https://hooks.example/ctwatch"
            secret_file = "hook.secret"
            max_attempts = 2
            backoff_secs = 0.5

            [[sink]]
            type = "command"
            command = "hooks/page.sh"
            args = ["--team", "pki"]
            timeout_secs = 5
            "#,
        );
        let specs = config.validate(dir.path(), Some("http://ctwatch.example:9800")).unwrap();
        assert_eq!(specs.len(), 3);
        let [am, hook, cmd] = &specs[..] else { panic!("three sinks") };
        assert_eq!(am.min_severity, Severity::Error);
        let SinkTarget::Alertmanager(am) = &am.target else { panic!("alertmanager") };
        assert_eq!(am.name, "alertmanager:http://127.0.0.1:9093/");
        assert_eq!(am.api_base.as_deref(), Some("http://ctwatch.example:9800"));
        assert_eq!(am.resend_interval, Duration::from_secs(30));
        assert_eq!(hook.min_severity, Severity::Warning);
        let SinkTarget::Webhook(hook) = &hook.target else { panic!("webhook") };
        assert_eq!(hook.secret, b"s3cret");
        assert_eq!(hook.retry.max_attempts, 2);
        assert_eq!(hook.retry.initial_backoff, Duration::from_millis(500));
        assert_eq!(hook.timeout, DEFAULT_HTTP_TIMEOUT);
        let SinkTarget::Command(cmd) = &cmd.target else { panic!("command") };
        assert_eq!(cmd.program, dir.path().join("hooks/page.sh"));
        assert_eq!(cmd.name, "command:hooks/page.sh");
        assert_eq!(cmd.timeout, Duration::from_secs(5));
    }

    #[test]
    fn bare_command_names_stay_for_path_lookup() {
        let specs = parse("[[sink]]\ntype = \"command\"\ncommand = \"logger\"\n")
            .validate(Path::new("/etc/ctwatch"), None)
            .unwrap();
        let SinkTarget::Command(cmd) = &specs[0].target else { panic!("command") };
        assert_eq!(cmd.program, Path::new("logger"));
        assert_eq!(cmd.timeout, DEFAULT_COMMAND_TIMEOUT);
    }

    #[test]
    fn mistakes_are_named() {
        assert!(toml::from_str::<SinksConfig>("[[sink]]\ntype = \"email\"\n").is_err());
        assert!(toml::from_str::<SinksConfig>("[[sink]]\ntype = \"webhook\"\nurll = \"x\"\n").is_err());
        assert_eq!(error("[[sink]]\ntype = \"alertmanager\"\n"), "sink[1].url: required for type = \"alertmanager\"");
        assert!(error("[[sink]]\ntype = \"webhook\"\nurl = \"ftp://x/\"\nsecret = \"k\"\n").contains("scheme \"ftp\""));
        assert_eq!(
            error("[[sink]]\ntype = \"webhook\"\nurl = \"http://x/\"\n"),
            "sink[1].secret: a webhook needs secret or secret_file to sign with"
        );
        assert!(error("[[sink]]\ntype = \"webhook\"\nurl = \"http://x/\"\nsecret = \"\"\n").contains("empty"));
        assert_eq!(
            error("[[sink]]\ntype = \"command\"\ncommand = \"x\"\nurl = \"http://x/\"\n"),
            "sink[1].url: not an option of type = \"command\""
        );
        assert_eq!(
            error("[[sink]]\ntype = \"webhook\"\nurl = \"http://x/\"\nsecret = \"k\"\nresend_interval_secs = 5\n"),
            "sink[1].resend_interval_secs: not an option of type = \"webhook\""
        );
        assert!(
            error("[[sink]]\ntype = \"command\"\ncommand = \"x\"\ntimeout_secs = 0\n")
                .starts_with("sink[1].timeout_secs")
        );
        assert!(
            error("[[sink]]\ntype = \"alertmanager\"\nurl = \"http://x/\"\nmax_attempts = 0\n")
                .starts_with("sink[1].max_attempts")
        );
        let duplicate =
            "[[sink]]\ntype = \"command\"\ncommand = \"x\"\n[[sink]]\ntype = \"command\"\ncommand = \"x\"\n";
        assert!(error(duplicate).starts_with("sink[2].name: another sink is already named \"command:x\""));
        let missing =
            "[[sink]]\ntype = \"webhook\"\nurl = \"http://x/\"\nsecret_file = \"/nonexistent/ctwatch.secret\"\n";
        assert!(error(missing).starts_with("sink[1].secret_file: cannot read /nonexistent/ctwatch.secret"));
    }

    #[test]
    fn debug_hides_the_secret() {
        let config = parse("[[sink]]\ntype = \"webhook\"\nurl = \"http://x/\"\nsecret = \"hunter2\"\n");
        let text = format!("{config:?}");
        assert!(!text.contains("hunter2"), "{text}");
    }
}
