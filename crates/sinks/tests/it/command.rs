//! The command hook with /bin/sh: environment and JSON file, failures and timeouts.

use crate::support::{SharedStore, new_finding, worker};
use ctwatch_store::Severity;
use std::path::Path;

/// A hook that writes its CTWATCH_ environment and a copy of the JSON file into `$1`.
const RECORDING_HOOK: &str = r#"env | grep '^CTWATCH_' | sort > "$1/env-$CTWATCH_FINDING_ID"; cp "$CTWATCH_FINDING_JSON" "$1/json-$CTWATCH_FINDING_ID""#;

fn command_config(script: &str, arg: &Path, timeout_secs: f64) -> String {
    format!(
        "[[sink]]\ntype = \"command\"\nname = \"hook\"\ncommand = \"/bin/sh\"\nargs = [\"-c\", {script:?}, \"sh\", {arg:?}]\n\
         timeout_secs = {timeout_secs}\nmin_severity = \"info\"\n",
        script = script,
        arg = arg.display().to_string(),
    )
}

#[tokio::test]
async fn hook_gets_the_finding_in_env_and_a_json_file() {
    let out = tempfile::tempdir().unwrap();
    let store = SharedStore::new();
    let found = store.record(&[
        new_finding("caa_conflict:x", "caa_conflict", Severity::Error, Some("HiPKI"), 1_000),
        new_finding("surge:y", "issuance_surge", Severity::Critical, None, 1_100),
    ]);
    let mut worker = worker(&command_config(RECORDING_HOOK, out.path(), 10.0), &store);
    let stats = worker.pass().await.unwrap();
    assert_eq!((stats.delivered(), stats.failed()), (2, 0), "{stats:?}");

    let first = found[0].id;
    let env = std::fs::read_to_string(out.path().join(format!("env-{first}"))).unwrap();
    let vars: std::collections::BTreeMap<&str, &str> = env.lines().filter_map(|l| l.split_once('=')).collect();
    assert_eq!(vars["CTWATCH_FINDING_ID"], first.to_string());
    assert_eq!(vars["CTWATCH_FINDING_KIND"], "caa_conflict");
    assert_eq!(vars["CTWATCH_FINDING_SEVERITY"], "error");
    assert_eq!(vars["CTWATCH_FINDING_STATUS"], "open");
    assert_eq!(vars["CTWATCH_FINDING_CA"], "HiPKI");
    assert_eq!(vars["CTWATCH_FINDING_KEY"], "caa_conflict:x");
    assert_eq!(vars["CTWATCH_FINDING_CERTIFICATE_COUNT"], "0");
    assert_eq!(vars["CTWATCH_FINDING_LAST_SEEN"], "1000");
    assert_eq!(vars["CTWATCH_FINDING_DELIVERY"], "caa_conflict:x:1000:open");
    // The JSON file is the finding, and it is removed after the hook ran.
    let json: serde_json::Value =
        serde_json::from_slice(&std::fs::read(out.path().join(format!("json-{first}"))).unwrap()).unwrap();
    assert_eq!(json, serde_json::to_value(&found[0]).unwrap());
    assert!(!Path::new(vars["CTWATCH_FINDING_JSON"]).exists());

    let second = std::fs::read_to_string(out.path().join(format!("env-{}", found[1].id))).unwrap();
    assert!(second.contains("CTWATCH_FINDING_CA=\n"), "{second}");
    assert!(second.contains("CTWATCH_FINDING_SEVERITY=critical\n"), "{second}");

    // Acknowledged: the next pass runs nothing.
    std::fs::remove_file(out.path().join(format!("env-{first}"))).unwrap();
    assert_eq!(worker.pass().await.unwrap().delivered(), 0);
    assert!(!out.path().join(format!("env-{first}")).exists());
}

#[tokio::test]
async fn nonzero_exit_keeps_the_finding_pending_with_stderr_in_the_error() {
    let out = tempfile::tempdir().unwrap();
    let store = SharedStore::new();
    let found = store.record(&[new_finding("k", "lint_violation", Severity::Error, None, 1_000)]);
    let mut worker = worker(&command_config("echo \"pager said no\" >&2; exit 3", out.path(), 10.0), &store);
    let stats = worker.pass().await.unwrap();
    assert_eq!(stats.failed(), 1);
    let error = stats.sinks[0].first_error.clone().unwrap();
    assert!(error.contains("exit status: 3") && error.contains("pager said no"), "{error}");
    assert_eq!(store.pending("hook"), [found[0].id]);
}

#[tokio::test]
async fn a_hook_running_past_its_timeout_is_killed_and_the_finding_stays_pending() {
    let out = tempfile::tempdir().unwrap();
    let store = SharedStore::new();
    let found = store.record(&[new_finding("k", "lint_violation", Severity::Error, None, 1_000)]);
    // `exec` so that the shell itself is the sleeping process the sink kills.
    let mut worker = worker(&command_config("exec sleep 30", out.path(), 0.2), &store);
    let started = std::time::Instant::now();
    let stats = worker.pass().await.unwrap();
    assert!(started.elapsed() < std::time::Duration::from_secs(20));
    let error = stats.sinks[0].first_error.clone().unwrap();
    assert!(error.contains("did not finish within 0.2 s"), "{error}");
    assert_eq!(store.pending("hook"), [found[0].id]);
}

#[tokio::test]
async fn a_missing_program_is_an_error_not_an_acknowledgement() {
    let store = SharedStore::new();
    let found = store.record(&[new_finding("k", "lint_violation", Severity::Error, None, 1_000)]);
    let mut worker =
        worker("[[sink]]\ntype = \"command\"\nname = \"hook\"\ncommand = \"/nonexistent/ctwatch-hook\"\n", &store);
    let stats = worker.pass().await.unwrap();
    assert!(stats.sinks[0].first_error.as_deref().unwrap().contains("cannot start"), "{stats:?}");
    assert_eq!(store.pending("hook"), [found[0].id]);
}
