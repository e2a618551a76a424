//! Runtime administration of the proxy's dispatcher: where the destination list comes from (a
//! `dispatcher.list` file, the inline list, or a database table), reloading it without dropping calls
//! (SIGHUP, `POST /dispatcher/reload`), and the state of every destination as JSON (`GET /dispatcher`).
//!
//! The proxy loop owns the [`Dispatcher`]; this module never touches it from another task. Loading (file or
//! database I/O) happens in the admin task, then the checked list goes to the loop as an [`AdminCommand`],
//! which [`AdminCommand::apply`] runs between two events. [`Dispatcher::reload`] keeps the state of the
//! destinations that remain, and transactions already forwarded keep the destination they were sent to
//! (their selections stay valid), so a reload drops nothing.

use super::config::DispatcherSection;
use serde_json::{Value, json};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Instant;
use tandem_dispatcher::{
    Candidate, Dispatcher, DispatcherList, ReloadSummary, Selection, Snapshot,
};
use tandem_sip_core::{Method, Request, Response};
use tokio::sync::{Mutex, mpsc, oneshot};

/// Where the destination list is read from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ListSource {
    /// The `destinations` text of the configuration (reloading re-reads the same text).
    Inline(String),
    /// A `dispatcher.list` file, re-read at each reload.
    File(PathBuf),
    /// A PostgreSQL `dispatcher` table (`postgres://…` URL). The proxy only reads it (no DDL): the table
    /// must exist (Kamailio's, or one `tandem_dispatcher::source::PostgresSource::connect` created).
    Postgres(String),
    /// An SQLite `dispatcher` table (`sqlite:PATH`); the proxy runs no DDL, the table must exist.
    Sqlite(PathBuf),
}

impl ListSource {
    /// The source the `[dispatcher]` section names: `source` (a database), else `list` (a file), else the
    /// inline `destinations` (possibly empty). Naming both `source` and `list` is an error.
    pub fn from_config(section: &DispatcherSection) -> Result<ListSource, String> {
        match (&section.source, &section.list) {
            (Some(_), Some(_)) => Err("[dispatcher] names both `source` and `list`".into()),
            (Some(url), None) => ListSource::parse_url(url),
            (None, Some(path)) => Ok(ListSource::File(path.clone())),
            (None, None) => Ok(ListSource::Inline(
                section.destinations.clone().unwrap_or_default(),
            )),
        }
    }

    fn parse_url(url: &str) -> Result<ListSource, String> {
        if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            Ok(ListSource::Postgres(url.to_owned()))
        } else if let Some(path) = url.strip_prefix("sqlite:") {
            let path = path.strip_prefix("//").unwrap_or(path);
            if path.is_empty() {
                return Err("[dispatcher] source `sqlite:` needs a file path".into());
            }
            Ok(ListSource::Sqlite(PathBuf::from(path)))
        } else {
            Err(format!(
                "[dispatcher] source {url:?}: expected postgres://… or sqlite:PATH"
            ))
        }
    }

    /// A description without credentials, for logs and the JSON view.
    pub fn describe(&self) -> String {
        match self {
            ListSource::Inline(_) => "inline".into(),
            ListSource::File(path) => format!("file:{}", path.display()),
            ListSource::Postgres(url) => {
                // Keep only host, port and database: the user part may carry a password.
                let rest = url.split_once("://").map_or(url.as_str(), |(_, r)| r);
                let rest = rest.rsplit_once('@').map_or(rest, |(_, r)| r);
                let rest = rest.split_once('?').map_or(rest, |(r, _)| r);
                format!("postgres://{rest}")
            }
            ListSource::Sqlite(path) => format!("sqlite:{}", path.display()),
        }
    }

    /// Read and check the list.
    pub async fn load(&self) -> Result<DispatcherList, String> {
        match self {
            ListSource::Inline(text) => DispatcherList::parse(text).map_err(|e| e.to_string()),
            ListSource::File(path) => {
                let text = tokio::fs::read_to_string(path)
                    .await
                    .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
                DispatcherList::parse(&text).map_err(|e| format!("{}: {e}", path.display()))
            }
            ListSource::Postgres(url) => {
                let source = tandem_dispatcher::source::PostgresSource::connect_existing(url)
                    .await
                    .map_err(|e| e.to_string())?;
                let list = source.load().await.map_err(|e| e.to_string());
                source.pool().close().await;
                list
            }
            ListSource::Sqlite(path) => {
                let source = tandem_dispatcher::source::SqliteSource::open_existing(path)
                    .await
                    .map_err(|e| e.to_string())?;
                let list = source.load().await.map_err(|e| e.to_string());
                source.pool().close().await;
                list
            }
        }
    }
}

/// A request to the proxy loop, which owns the dispatcher.
#[derive(Debug)]
pub enum AdminCommand {
    /// Swap in a new list and report what changed.
    Reload(DispatcherList, oneshot::Sender<ReloadSummary>),
    /// Report the state of every destination.
    Snapshot(oneshot::Sender<Snapshot>),
}

impl AdminCommand {
    /// Run the command on the loop's dispatcher (a dropped requester is not an error).
    pub fn apply(self, dispatcher: &mut Dispatcher, now: Instant) {
        match self {
            AdminCommand::Reload(list, reply) => {
                let summary = dispatcher.reload(list, now);
                tracing::info!(
                    kept = summary.kept,
                    added = summary.added,
                    removed = summary.removed,
                    "dispatcher list reloaded"
                );
                let _ = reply.send(summary);
            }
            AdminCommand::Snapshot(reply) => {
                let _ = reply.send(dispatcher.snapshot());
            }
        }
    }
}

/// Count an answered dispatched INVITE on the destination that answered (the call load shown by `GET
/// /dispatcher` and used by the call-load algorithm and `maxload`).
pub fn call_answered(
    dispatcher: &mut Dispatcher,
    selection: &Selection,
    response: &Response,
    now: Instant,
) {
    let is_invite = response
        .headers()
        .cseq()
        .and_then(Result::ok)
        .is_some_and(|cseq| cseq.method == Method::Invite);
    let call_id = response.headers().call_id().and_then(Result::ok);
    if let (true, Some(call_id), Some(candidate)) = (is_invite, call_id, selection.current()) {
        // A full call-load table only means this call is not counted.
        let _ = dispatcher.call_started(call_id.as_bytes(), Candidate::id(candidate), now);
    }
}

/// Stop counting the call a BYE ends (nothing happens for calls that were not counted).
pub fn call_ended(dispatcher: &mut Dispatcher, request: &Request) {
    if *request.method() != Method::Bye {
        return;
    }
    if let Some(Ok(call_id)) = request.headers().call_id() {
        dispatcher.call_ended(call_id.as_bytes());
    }
}

/// The handle the HTTP endpoint and the signal task use: loads lists and talks to the proxy loop.
#[derive(Debug, Clone)]
pub struct Admin {
    source: ListSource,
    commands: mpsc::Sender<AdminCommand>,
    /// Serialises reloads, so two concurrent ones apply in the order they loaded.
    reloading: Arc<Mutex<()>>,
}

/// What a reload did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ReloadOutcome {
    /// The new list is live.
    Reloaded(ReloadSummary),
    /// The list could not be loaded or was rejected; the old one stays live.
    Rejected(String),
    /// The proxy loop is gone.
    Stopped,
}

impl Admin {
    /// An admin handle for `source`, and the receiver the proxy loop drains.
    pub fn new(source: ListSource) -> (Admin, mpsc::Receiver<AdminCommand>) {
        let (commands, receiver) = mpsc::channel(16);
        let admin = Admin {
            source,
            commands,
            reloading: Arc::new(Mutex::new(())),
        };
        (admin, receiver)
    }

    /// Where the list comes from.
    pub fn source(&self) -> &ListSource {
        &self.source
    }

    /// Load the list from its source and, if it is valid, make it live. A bad list leaves the old one.
    pub async fn reload(&self) -> ReloadOutcome {
        let _serial = self.reloading.lock().await;
        let list = match self.source.load().await {
            Ok(list) => list,
            Err(e) => {
                tracing::warn!(error = %e, source = %self.source.describe(), "dispatcher reload rejected");
                return ReloadOutcome::Rejected(e);
            }
        };
        let (tx, rx) = oneshot::channel();
        if self
            .commands
            .send(AdminCommand::Reload(list, tx))
            .await
            .is_err()
        {
            return ReloadOutcome::Stopped;
        }
        rx.await
            .map_or(ReloadOutcome::Stopped, ReloadOutcome::Reloaded)
    }

    /// The state of every set and destination, from the proxy loop (`None` once it stopped).
    pub async fn snapshot(&self) -> Option<Snapshot> {
        let (tx, rx) = oneshot::channel();
        self.commands.send(AdminCommand::Snapshot(tx)).await.ok()?;
        rx.await.ok()
    }

    /// `GET /dispatcher`: the JSON document.
    pub async fn state_json(&self) -> Option<Value> {
        let snapshot = self.snapshot().await?;
        Some(snapshot_json(&snapshot, &self.source.describe()))
    }

    /// `POST /dispatcher/reload`: the HTTP status and JSON body.
    pub async fn reload_json(&self) -> (u16, Value) {
        match self.reload().await {
            ReloadOutcome::Reloaded(s) => (
                200,
                json!({"reloaded": true, "kept": s.kept, "added": s.added, "removed": s.removed}),
            ),
            ReloadOutcome::Rejected(e) => (422, json!({"reloaded": false, "error": e})),
            ReloadOutcome::Stopped => (503, json!({"reloaded": false, "error": "proxy stopped"})),
        }
    }

    /// Reload on every SIGHUP until the proxy loop stops (Unix only; elsewhere this returns at once).
    pub async fn reload_on_sighup(self) {
        #[cfg(unix)]
        {
            use tokio::signal::unix::{SignalKind, signal};
            let mut hangups = match signal(SignalKind::hangup()) {
                Ok(s) => s,
                Err(e) => {
                    tracing::warn!(error = %e, "no SIGHUP handler: reload through HTTP only");
                    return;
                }
            };
            while hangups.recv().await.is_some() {
                tracing::info!("SIGHUP: reloading the dispatcher list");
                if self.reload().await == ReloadOutcome::Stopped {
                    return;
                }
            }
        }
    }
}

/// The JSON view of a snapshot: every set, and per destination its URI, flags, priority, weight,
/// attributes, state, probe counters and latency statistics (milliseconds), and active call load.
pub fn snapshot_json(snapshot: &Snapshot, source: &str) -> Value {
    let sets: Vec<Value> = snapshot
        .sets
        .iter()
        .map(|set| {
            let destinations: Vec<Value> = set
                .destinations
                .iter()
                .map(|d| {
                    json!({
                        "id": d.id,
                        "uri": d.uri,
                        "flags": d.flags,
                        "priority": d.priority,
                        "weight": d.weight,
                        "rweight": d.rweight,
                        "maxload": d.maxload,
                        "duid": d.duid,
                        "attrs": d.attrs,
                        "state": d.state.as_str(),
                        "takes_traffic": d.state.takes_traffic(),
                        "probing": d.probing,
                        "active_calls": d.active_calls,
                        "consecutive_failures": d.consecutive_failures,
                        "probes_sent": d.probes_sent,
                        "probes_failed": d.probes_failed,
                        "traffic_failures": d.traffic_failures,
                        "last_probe_status": d.last_probe_status,
                        "latency_ms": {
                            "count": d.latency.count,
                            "avg": d.latency.mean_ms,
                            "ewma": d.latency.ewma_ms,
                            "min": d.latency.min_ms,
                            "max": d.latency.max_ms,
                            "last": d.latency.last_ms,
                            "std_dev": d.latency.std_dev_ms,
                        },
                    })
                })
                .collect();
            json!({"id": set.id, "destinations": destinations})
        })
        .collect();
    json!({
        "source": source,
        "sets": sets,
        "tracked_calls": snapshot.tracked_calls,
        "probes_in_flight": snapshot.probes_in_flight,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn section(source: Option<&str>, list: Option<&str>) -> DispatcherSection {
        DispatcherSection {
            source: source.map(str::to_owned),
            list: list.map(PathBuf::from),
            ..DispatcherSection::default()
        }
    }

    #[test]
    fn the_source_is_the_database_the_file_or_the_inline_list() {
        assert_eq!(
            ListSource::from_config(&section(Some("postgres://u:pw@db:5432/kamailio"), None)),
            Ok(ListSource::Postgres(
                "postgres://u:pw@db:5432/kamailio".into()
            ))
        );
        assert_eq!(
            ListSource::from_config(&section(Some("sqlite:/var/lib/tandem/d.db"), None)),
            Ok(ListSource::Sqlite("/var/lib/tandem/d.db".into()))
        );
        assert_eq!(
            ListSource::from_config(&section(None, Some("dispatcher.list"))),
            Ok(ListSource::File("dispatcher.list".into()))
        );
        assert_eq!(
            ListSource::from_config(&section(None, None)),
            Ok(ListSource::Inline(String::new()))
        );
        assert!(ListSource::from_config(&section(Some("postgres://db/x"), Some("f"))).is_err());
        assert!(ListSource::from_config(&section(Some("mysql://db/x"), None)).is_err());
        assert!(ListSource::from_config(&section(Some("sqlite:"), None)).is_err());
    }

    #[test]
    fn descriptions_hide_credentials() {
        let source =
            ListSource::Postgres("postgres://u:secret@db:5432/kamailio?sslmode=require".into());
        assert_eq!(source.describe(), "postgres://db:5432/kamailio");
    }

    #[tokio::test]
    async fn a_bad_list_is_rejected_and_nothing_is_sent_to_the_loop() {
        let (admin, mut commands) = Admin::new(ListSource::Inline("1 not-a-uri\n".into()));
        assert!(matches!(admin.reload().await, ReloadOutcome::Rejected(_)));
        assert!(commands.try_recv().is_err());
    }

    #[tokio::test]
    async fn reload_and_state_go_through_the_loop() {
        let text = "1 sip:127.0.0.1:5080 0 5 weight=70;duid=a\n";
        let (admin, mut commands) = Admin::new(ListSource::Inline(text.into()));
        let mut dispatcher = Dispatcher::new(
            DispatcherList::new(),
            tandem_dispatcher::DispatcherConfig::default(),
            Instant::now(),
        );
        let worker = tokio::spawn(async move {
            for _ in 0..2 {
                if let Some(command) = commands.recv().await {
                    command.apply(&mut dispatcher, Instant::now());
                }
            }
        });
        let (status, body) = admin.reload_json().await;
        assert_eq!(status, 200, "{body}");
        assert_eq!(body["added"], 1);
        let state = admin.state_json().await.expect("loop answers");
        let d = &state["sets"][0]["destinations"][0];
        assert_eq!(d["uri"], "sip:127.0.0.1:5080");
        assert_eq!(d["priority"], 5);
        assert_eq!(d["weight"], 70);
        assert_eq!(d["attrs"], "weight=70;duid=a");
        assert!(d["state"].is_string());
        assert_eq!(state["source"], "inline");
        worker.await.expect("worker");
    }
}
