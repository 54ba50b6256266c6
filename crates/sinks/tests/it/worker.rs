//! The worker's delivery state with scripted sinks: acknowledged findings are not sent again,
//! refused ones stay pending, changes and re-sends go out again.

use crate::support::{SharedStore, new_finding};
use ctwatch_sinks::worker::{SinkWorker, WorkerOptions};
use ctwatch_sinks::{BoxFuture, Sink, SinkError};
use ctwatch_store::{Finding, FindingStatus, Severity, Store};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// What a scripted sink answers.
#[derive(Debug, Clone, Copy)]
enum Answer {
    /// Acknowledge everything.
    Ack,
    /// Refuse everything.
    Refuse,
    /// Acknowledge findings with an even id only.
    EvenIds,
    /// Return no results at all.
    Nothing,
}

/// What a scripted sink was sent: (finding id, last_seen, status) per delivery, in order.
type Sent = Arc<Mutex<Vec<(i64, i64, FindingStatus)>>>;

/// A sink that records what it was sent and answers per script.
#[derive(Debug)]
struct ScriptedSink {
    name: String,
    answer: Answer,
    resend: Option<Duration>,
    sent: Sent,
    /// Told the id of every finding delivered, when set.
    notify: Option<tokio::sync::mpsc::UnboundedSender<i64>>,
}

impl ScriptedSink {
    fn new(name: &str, answer: Answer) -> (Self, Sent) {
        let sent = Arc::new(Mutex::new(Vec::new()));
        (ScriptedSink { name: name.into(), answer, resend: None, sent: sent.clone(), notify: None }, sent)
    }
}

impl Sink for ScriptedSink {
    fn name(&self) -> &str {
        &self.name
    }

    fn deliver<'a>(&'a self, findings: &'a [Finding], _now: i64) -> BoxFuture<'a, Vec<Result<(), SinkError>>> {
        let results = findings
            .iter()
            .map(|f| {
                self.sent.lock().unwrap().push((f.id, f.last_seen, f.status));
                if let Some(notify) = &self.notify {
                    let _ = notify.send(f.id);
                }
                let ok = match self.answer {
                    Answer::Ack => true,
                    Answer::Refuse | Answer::Nothing => false,
                    Answer::EvenIds => f.id % 2 == 0,
                };
                if ok {
                    Ok(())
                } else {
                    Err(SinkError::Status { url: "test".into(), status: 500, attempts: 1, body: "refused".into() })
                }
            })
            .collect::<Vec<_>>();
        let results = if matches!(self.answer, Answer::Nothing) { Vec::new() } else { results };
        Box::pin(async move { results })
    }

    fn resend_interval(&self) -> Option<Duration> {
        self.resend
    }
}

fn worker_with(
    store: &SharedStore,
    sink: ScriptedSink,
    min_severity: Severity,
    batch_size: usize,
) -> SinkWorker<SharedStore> {
    let options = WorkerOptions { batch_size, ..WorkerOptions::default() };
    let mut worker = SinkWorker::new(store.clone(), &options);
    worker.add_sink(Box::new(sink), min_severity);
    worker
}

#[tokio::test]
async fn acknowledged_findings_are_sent_once_and_again_after_a_change() {
    let store = SharedStore::new();
    let found = store.record(&[
        new_finding("a", "caa_conflict", Severity::Error, Some("HiPKI"), 100),
        new_finding("b", "caa_indeterminate", Severity::Info, Some("HiPKI"), 100),
        new_finding("c", "issuance_surge", Severity::Critical, Some("HiPKI"), 100),
    ]);
    let (sink, sent) = ScriptedSink::new("scripted", Answer::Ack);
    let mut worker = worker_with(&store, sink, Severity::Warning, 100);

    let stats = worker.pass_at(1_000).await.unwrap();
    assert_eq!((stats.delivered(), stats.skipped(), stats.failed()), (2, 1, 0));
    assert_eq!(
        *sent.lock().unwrap(),
        [(found[0].id, 100, FindingStatus::Open), (found[2].id, 100, FindingStatus::Open)]
    );
    assert!(store.pending("scripted").is_empty());

    // A second pass delivers nothing new; neither does a restart (state is in the store).
    let stats = worker.pass_at(1_010).await.unwrap();
    assert_eq!((stats.delivered(), stats.skipped()), (0, 0));
    let (sink, sent_after_restart) = ScriptedSink::new("scripted", Answer::Ack);
    let mut restarted = worker_with(&store, sink, Severity::Warning, 100);
    assert_eq!(restarted.pass_at(1_020).await.unwrap().delivered(), 0);
    assert!(sent_after_restart.lock().unwrap().is_empty());

    // Seen again, and resolved: both delivered again with their new state.
    store.record(&[new_finding("a", "caa_conflict", Severity::Error, Some("HiPKI"), 200)]);
    store.sync(|s| s.set_finding_status(found[2].id, FindingStatus::Resolved).unwrap());
    let stats = restarted.pass_at(1_030).await.unwrap();
    assert_eq!(stats.delivered(), 2);
    assert_eq!(
        *sent_after_restart.lock().unwrap(),
        [(found[0].id, 200, FindingStatus::Open), (found[2].id, 100, FindingStatus::Resolved)]
    );
}

#[tokio::test]
async fn a_sink_that_never_acknowledges_keeps_findings_pending() {
    let store = SharedStore::new();
    let found = store.record(&[
        new_finding("a", "lint_violation", Severity::Error, Some("CFCA"), 100),
        new_finding("b", "lint_violation", Severity::Error, Some("CFCA"), 100),
    ]);
    let (sink, sent) = ScriptedSink::new("down", Answer::Refuse);
    let mut worker = worker_with(&store, sink, Severity::Info, 100);
    for pass in 0..3 {
        let stats = worker.pass_at(1_000 + pass).await.unwrap();
        assert_eq!((stats.delivered(), stats.failed()), (0, 2));
        assert!(stats.sinks[0].first_error.as_deref().unwrap().contains("HTTP 500"));
    }
    // Every pass tried both again; both are still pending.
    assert_eq!(sent.lock().unwrap().len(), 6);
    assert_eq!(store.pending("down"), [found[0].id, found[1].id]);

    // A sink that answers nothing at all did not acknowledge anything either.
    let (sink, _) = ScriptedSink::new("silent", Answer::Nothing);
    let mut worker = worker_with(&store, sink, Severity::Info, 100);
    assert_eq!(worker.pass_at(2_000).await.unwrap().failed(), 2);
    assert_eq!(store.pending("silent"), [found[0].id, found[1].id]);
}

#[tokio::test]
async fn refused_findings_do_not_block_the_ones_after_them() {
    let store = SharedStore::new();
    let keys: Vec<String> = (0..7).map(|i| format!("k{i}")).collect();
    let found = store
        .record(&keys.iter().map(|k| new_finding(k, "lint_violation", Severity::Error, None, 100)).collect::<Vec<_>>());
    let (sink, _) = ScriptedSink::new("picky", Answer::EvenIds);
    // Batches of two: refused findings come back at the head of every batch.
    let mut worker = worker_with(&store, sink, Severity::Info, 2);
    let stats = worker.pass_at(1_000).await.unwrap();
    let even: Vec<i64> = found.iter().map(|f| f.id).filter(|id| id % 2 == 0).collect();
    let odd: Vec<i64> = found.iter().map(|f| f.id).filter(|id| id % 2 != 0).collect();
    assert_eq!(stats.delivered(), even.len() as u64);
    assert_eq!(store.pending("picky"), odd);
}

#[tokio::test]
async fn open_findings_are_resent_after_the_interval_and_resolved_ones_are_not() {
    let store = SharedStore::new();
    let found = store.record(&[
        new_finding("open", "caa_conflict", Severity::Error, None, 100),
        new_finding("done", "caa_conflict", Severity::Error, None, 100),
        new_finding("quiet", "caa_indeterminate", Severity::Info, None, 100),
    ]);
    let (mut sink, sent) = ScriptedSink::new("am", Answer::Ack);
    sink.resend = Some(Duration::from_secs(60));
    let mut worker = worker_with(&store, sink, Severity::Warning, 100);
    assert_eq!(worker.pass_at(1_000).await.unwrap().delivered(), 2);
    store.sync(|s| s.set_finding_status(found[1].id, FindingStatus::Resolved).unwrap());
    assert_eq!(worker.pass_at(1_030).await.unwrap().delivered(), 1);
    sent.lock().unwrap().clear();

    // Not yet due at 1059 (delivered at 1000); due at 1061. The resolved one was acknowledged
    // at 1030 and is never re-sent; the skipped one is not sent.
    let stats = worker.pass_at(1_059).await.unwrap();
    assert_eq!((stats.delivered(), stats.resent()), (0, 0));
    let stats = worker.pass_at(1_061).await.unwrap();
    assert_eq!((stats.delivered(), stats.resent(), stats.skipped()), (0, 1, 0));
    assert_eq!(*sent.lock().unwrap(), [(found[0].id, 100, FindingStatus::Open)]);
    assert_eq!(worker.pass_at(1_100).await.unwrap().resent(), 0);
    assert_eq!(worker.pass_at(1_122).await.unwrap().resent(), 1);
}

#[tokio::test]
async fn run_delivers_until_cancelled() {
    let store = SharedStore::new();
    let found = store.record(&[new_finding("a", "caa_conflict", Severity::Error, None, 100)]);
    let (mut sink, _) = ScriptedSink::new("run", Answer::Ack);
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    sink.notify = Some(tx);
    let worker = worker_with(&store, sink, Severity::Warning, 100);
    let shutdown = tokio_util::sync::CancellationToken::new();
    let task = tokio::spawn(worker.run(Duration::from_secs(3600), shutdown.clone()));
    assert_eq!(rx.recv().await, Some(found[0].id));
    // Cancelled while waiting for the next pass: the task ends at once.
    shutdown.cancel();
    tokio::time::timeout(Duration::from_secs(10), task).await.unwrap().unwrap();
}
