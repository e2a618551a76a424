//! The `tandem media` driver: builds the relay from the configuration, serves NG over UDP, samples and
//! serves metrics, and shuts everything down in order.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use tandem_media_bridge::ng::{
    self, Delete, DeleteReply, Ignored, List, MediaControl, NgError, NgServer, NgServerConfig,
    Query, SdpReply, SdpRequest, StatsWatch,
};
use tandem_media_bridge::session::{RelayControl, SessionError};
use tandem_media_bridge::{DataPlaneConfig, DtlsCertificate, DtlsConfig, MediaRelay, RelayConfig};
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

use super::config::MediaConfig;
use super::metrics::{self, MediaMetrics};

/// Why the relay could not start.
#[derive(Debug, thiserror::Error)]
pub enum MediaError {
    /// The per-process DTLS certificate could not be made.
    #[error("DTLS certificate: {0}")]
    Dtls(#[from] tandem_media_bridge::DtlsError),
    /// The relay rejected its configuration or its threads did not start.
    #[error("media relay: {0}")]
    Relay(#[from] tandem_media_bridge::Error),
    /// A listener could not be bound.
    #[error("{what} {addr}: {source}")]
    Bind {
        /// Which listener.
        what: &'static str,
        /// Where.
        addr: SocketAddr,
        /// The error.
        source: std::io::Error,
    },
}

/// The relay's NG adapter, counting each command by name and result.
#[derive(Debug, Clone)]
pub struct MeteredControl {
    inner: RelayControl,
    metrics: Arc<MediaMetrics>,
}

impl MeteredControl {
    /// Count the commands `inner` executes into `metrics`.
    pub fn new(inner: RelayControl, metrics: Arc<MediaMetrics>) -> Self {
        MeteredControl { inner, metrics }
    }

    fn count<T>(
        &self,
        name: &'static str,
        result: Result<T, SessionError>,
    ) -> Result<T, SessionError> {
        self.metrics.command(name, result.is_ok());
        if let Err(error) = &result {
            tracing::info!(command = name, %error, "NG command failed");
        }
        result
    }
}

impl MediaControl for MeteredControl {
    type Error = SessionError;

    async fn offer(&self, request: SdpRequest) -> Result<SdpReply, SessionError> {
        let result = self.inner.offer(request).await;
        self.count("offer", result)
    }

    async fn answer(&self, request: SdpRequest) -> Result<SdpReply, SessionError> {
        let result = self.inner.answer(request).await;
        self.count("answer", result)
    }

    async fn delete(&self, request: Delete) -> Result<DeleteReply, SessionError> {
        let result = self.inner.delete(request).await;
        self.count("delete", result)
    }

    async fn query(&self, request: Query) -> Result<ng::CallStats, SessionError> {
        let result = self.inner.query(request).await;
        self.count("query", result)
    }

    async fn list(&self, request: List) -> Result<Vec<Bytes>, SessionError> {
        let result = self.inner.list(request).await;
        self.count("list", result)
    }

    fn ignored(&self, peer: SocketAddr, command: &'static str, ignored: &[Ignored]) {
        self.inner.ignored(peer, command, ignored);
    }

    fn rejected(&self, peer: SocketAddr, error: &NgError) {
        self.metrics.command("invalid", false);
        self.inner.rejected(peer, error);
    }
}

/// A running `tandem media`: stop it with [`RunningMedia::stop`].
pub struct RunningMedia {
    ng_addr: SocketAddr,
    metrics_addr: Option<SocketAddr>,
    relay: Arc<MediaRelay>,
    metrics: Arc<MediaMetrics>,
    ng_stats: StatsWatch,
    stop: Option<oneshot::Sender<()>>,
    ng_task: Option<JoinHandle<std::io::Result<()>>>,
    background: Vec<JoinHandle<()>>,
}

impl std::fmt::Debug for RunningMedia {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RunningMedia")
            .field("ng_addr", &self.ng_addr)
            .field("metrics_addr", &self.metrics_addr)
            .finish_non_exhaustive()
    }
}

/// Generate the DTLS certificate, start the relay's threads, bind NG and metrics, and serve.
pub async fn start(config: MediaConfig) -> Result<RunningMedia, MediaError> {
    let m = &config.media;
    let certificate = DtlsCertificate::generate()?;
    let fingerprint = certificate.fingerprint().clone();
    let mut relay_config = RelayConfig::new(config.advertised())
        .with_ports(m.port_min..=m.port_max)
        .with_fingerprint(fingerprint.clone());
    relay_config.media_timeout = config.media_timeout();
    relay_config.max_calls = m.max_calls;
    let mut data_plane = DataPlaneConfig::new()
        .with_workers(m.workers)
        .with_bind(m.bind)
        .with_dtls(DtlsConfig::new(certificate)?);
    data_plane.stats_interval = config.stats_interval();
    data_plane.batch_window = config.batch_window();
    data_plane.io = config.io();
    let relay = Arc::new(MediaRelay::start(relay_config, data_plane)?);
    let metrics = Arc::new(MediaMetrics::default());

    let control = MeteredControl::new(relay.control(), Arc::clone(&metrics));
    let ng_config = NgServerConfig {
        bind: m.ng,
        ..NgServerConfig::default()
    };
    let server = NgServer::bind(ng_config, Arc::new(control))
        .await
        .map_err(|source| MediaError::Bind {
            what: "NG",
            addr: m.ng,
            source,
        })?;
    let ng_addr = server.local_addr().map_err(|source| MediaError::Bind {
        what: "NG",
        addr: m.ng,
        source,
    })?;
    let ng_stats = server.stats();
    let (stop_tx, stop_rx) = oneshot::channel::<()>();
    let ng_task = tokio::spawn(server.run_until(async {
        let _ = stop_rx.await;
    }));

    let mut background = Vec::new();
    let sampler = {
        let relay = Arc::clone(&relay);
        let metrics = Arc::clone(&metrics);
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(Duration::from_secs(1));
            loop {
                tick.tick().await;
                metrics.sample(&relay);
            }
        })
    };
    background.push(sampler);
    let mut metrics_addr = None;
    if let Some(addr) = m.metrics {
        let listener = metrics::bind(addr)
            .await
            .map_err(|source| MediaError::Bind {
                what: "metrics",
                addr,
                source,
            })?;
        metrics_addr = listener.local_addr().ok();
        let render: Arc<dyn Fn() -> String + Send + Sync> = {
            let relay = Arc::clone(&relay);
            let metrics = Arc::clone(&metrics);
            let ng_stats = ng_stats.clone();
            Arc::new(move || metrics.render(&relay, &ng_stats.current()))
        };
        background.push(tokio::spawn(metrics::serve(listener, render)));
    }
    tracing::info!(
        ng = %ng_addr,
        metrics = ?metrics_addr,
        bind = %m.bind,
        advertise = %config.advertised(),
        ports = %format!("{}-{}", m.port_min, m.port_max),
        workers = relay.worker_count(),
        io_uring_workers = relay.workers_by_io().io_uring,
        epoll_workers = relay.workers_by_io().epoll,
        fingerprint = %fingerprint,
        "media relay running"
    );
    Ok(RunningMedia {
        ng_addr,
        metrics_addr,
        relay,
        metrics,
        ng_stats,
        stop: Some(stop_tx),
        ng_task: Some(ng_task),
        background,
    })
}

impl RunningMedia {
    /// Where the NG server listens.
    pub fn ng_addr(&self) -> SocketAddr {
        self.ng_addr
    }

    /// Where `/metrics` is served, if anywhere.
    pub fn metrics_addr(&self) -> Option<SocketAddr> {
        self.metrics_addr
    }

    /// The metrics (NG commands by result, sampled traffic).
    pub fn metrics(&self) -> &Arc<MediaMetrics> {
        &self.metrics
    }

    /// The Prometheus exposition now.
    pub fn render_metrics(&self) -> String {
        self.metrics.render(&self.relay, &self.ng_stats.current())
    }

    /// Resolves if the NG server stops by itself (a socket error); pending forever otherwise.
    pub async fn wait(&mut self) -> std::io::Result<()> {
        match self.ng_task.as_mut() {
            Some(task) => {
                let outcome = task.await;
                self.ng_task = None;
                match outcome {
                    Ok(result) => result,
                    Err(e) => Err(std::io::Error::other(e)),
                }
            }
            None => std::future::pending().await,
        }
    }

    /// Stop serving NG, stop the metrics, then stop the workers and close every media socket.
    pub async fn stop(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(task) = self.ng_task.take() {
            match task.await {
                Ok(Err(error)) => tracing::warn!(%error, "NG server failed"),
                Err(error) => tracing::warn!(%error, "NG server task failed"),
                Ok(Ok(())) => {}
            }
        }
        for task in self.background.drain(..) {
            task.abort();
            let _ = task.await;
        }
        let sample = self.metrics.sample(&self.relay);
        tracing::info!(
            sessions = sample.sessions,
            relayed_packets = sample.totals.relayed_packets,
            "stopping media workers"
        );
        let relay = self.relay;
        // Joining the worker threads blocks: do it off the async workers.
        let _ = tokio::task::spawn_blocking(move || match Arc::try_unwrap(relay) {
            Ok(relay) => relay.shutdown(),
            Err(shared) => drop(shared),
        })
        .await;
    }
}
