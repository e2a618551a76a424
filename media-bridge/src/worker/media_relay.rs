//! [`MediaRelay`]: the control plane ([`Relay`] behind a mutex) joined to worker threads that move packets.

use std::collections::HashMap;
use std::hash::{DefaultHasher, Hash, Hasher};
use std::net::{IpAddr, Ipv4Addr, SocketAddr, UdpSocket};
use std::path::PathBuf;
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, Sender};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use super::WorkerError;
use super::forwarder::{ControlMessage, IoRequest, Worker, WorkerCommand, WorkerReport, wake};
use super::port_claim::{ClaimedPorts, SocketClaim};
use super::recorder::{self, RecorderHandle, RecorderMessage};
use super::relayed_stream::StreamSettings;
use super::stream_stats::StreamStats;
use crate::dtls::DtlsConfig;
use crate::session::{
    DtmfRequest, MediaUpdate, Relay, RelayConfig, RelayControl, SessionError, StreamId,
};

/// [`DataPlaneConfig::batch_window`] by default.
const DEFAULT_BATCH_WINDOW: Duration = Duration::from_micros(500);

/// How a worker waits for and moves datagrams.
#[non_exhaustive]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum MediaIo {
    /// io_uring when the kernel offers it (Linux 6.1 or later, io_uring not disabled), else epoll. The
    /// environment variable `TANDEM_MEDIA_IO` (`epoll`, `io_uring`) overrides the choice.
    #[default]
    Auto,
    /// One io_uring per worker: multishot receives into a provided buffer ring, the sends of a pass
    /// submitted together, and one `io_uring_enter` per wake-up (see `docs/media-hot-path.md`). A worker
    /// whose ring cannot be created falls back to epoll and logs a warning.
    IoUring,
    /// `epoll_wait` for readiness, `recvmmsg` per ready socket, `sendmmsg` per destination socket (the only
    /// back end outside Linux).
    Epoll,
}

impl MediaIo {
    /// Whether this kernel lets this process create a ring set up like the workers' (single issuer,
    /// deferred task work: Linux 6.1 or later, io_uring not disabled by `kernel.io_uring_disabled` or a
    /// seccomp filter), so that [`MediaIo::Auto`] gets io_uring. Creates and drops a small ring.
    pub fn io_uring_offered() -> bool {
        #[cfg(target_os = "linux")]
        {
            io_uring::IoUring::<io_uring::squeue::Entry>::builder()
                .setup_single_issuer()
                .setup_defer_taskrun()
                .build(8)
                .is_ok()
        }
        #[cfg(not(target_os = "linux"))]
        {
            false
        }
    }

    /// Parses `auto`, `io_uring` (or `io-uring`, `uring`) and `epoll`.
    pub fn parse(text: &str) -> Option<Self> {
        match text.trim().to_ascii_lowercase().as_str() {
            "auto" | "" => Some(MediaIo::Auto),
            "io_uring" | "io-uring" | "uring" => Some(MediaIo::IoUring),
            "epoll" => Some(MediaIo::Epoll),
            _ => None,
        }
    }

    /// `Auto` resolved through `TANDEM_MEDIA_IO` (an unknown value is ignored); other values unchanged.
    fn resolve(self) -> Self {
        match self {
            MediaIo::Auto => std::env::var("TANDEM_MEDIA_IO")
                .ok()
                .and_then(|v| MediaIo::parse(&v))
                .unwrap_or(MediaIo::Auto),
            other => other,
        }
    }
}

/// How many workers run on each I/O back end ([`MediaRelay::workers_by_io`]): what [`MediaIo::Auto`] and
/// [`MediaIo::IoUring`] became on this kernel.
#[non_exhaustive]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct WorkersByIo {
    /// Workers on io_uring.
    pub io_uring: usize,
    /// Workers on epoll: asked for, or fallen back to because no ring could be created (old kernel,
    /// `kernel.io_uring_disabled`, a seccomp filter, a container runtime's default profile).
    pub epoll: usize,
}

/// How the packet path runs.
#[non_exhaustive]
#[derive(Clone)]
pub struct DataPlaneConfig {
    /// Worker threads; 0 means one per available core.
    pub workers: usize,
    /// The local address media sockets bind to. The ports come from the relay's port pool and are bound as
    /// the pool hands them out (pairs that cannot be bound are skipped), before the call is answered.
    pub bind: IpAddr,
    /// The DTLS certificate and settings for DTLS-SRTP legs (its fingerprint must be the one in
    /// [`RelayConfig::fingerprint`]). Without it DTLS legs carry no media.
    pub dtls: Option<DtlsConfig>,
    /// How often workers report statistics to the control plane.
    pub stats_interval: Duration,
    /// How often the control thread looks for control-plane changes and expires silent calls, at most.
    pub control_interval: Duration,
    /// How long a worker waits, after a wake-up that received packets, before it reads its sockets again.
    /// Packets that arrive meanwhile are read and relayed together, so that under load one wake-up carries
    /// many packets: the CPU spent per packet falls, and each packet arriving in the window is delayed by
    /// up to the window. An idle worker still relays the first packet at once, and a worker waits out
    /// windows only while its packet rate over the last 20 ms would fill one with at least 8 packets.
    /// Zero reads again at once.
    pub batch_window: Duration,
    /// How workers do their socket I/O.
    pub io: MediaIo,
    /// Where recorded calls are written (one `<Call-ID>.pcap` each); `None` disables recording.
    pub recording_dir: Option<PathBuf>,
    /// Packet copies queued for the recording writer at most; beyond, copies are dropped and counted in
    /// [`StreamStats::recording_drops`].
    pub recording_queue: usize,
}

impl DataPlaneConfig {
    /// One worker per core, sockets on all IPv4 addresses, no DTLS, statistics every second, control
    /// changes picked up within 10 ms (or at once with [`MediaRelay::sync`]), a 500 µs batch window.
    pub fn new() -> Self {
        DataPlaneConfig {
            workers: 0,
            bind: IpAddr::V4(Ipv4Addr::UNSPECIFIED),
            dtls: None,
            stats_interval: Duration::from_secs(1),
            control_interval: Duration::from_millis(10),
            batch_window: DEFAULT_BATCH_WINDOW,
            io: MediaIo::Auto,
            recording_dir: None,
            recording_queue: 4096,
        }
    }

    /// The same configuration recording calls (when asked to) into `directory`, which must exist.
    pub fn with_recording_dir(mut self, directory: impl Into<PathBuf>) -> Self {
        self.recording_dir = Some(directory.into());
        self
    }

    /// The same configuration with workers reporting statistics every `interval`.
    pub fn with_stats_interval(mut self, interval: Duration) -> Self {
        self.stats_interval = interval;
        self
    }

    /// The same configuration with workers waiting `window` after a busy wake-up (see
    /// [`DataPlaneConfig::batch_window`]).
    pub fn with_batch_window(mut self, window: Duration) -> Self {
        self.batch_window = window;
        self
    }

    /// The same configuration with workers doing their I/O through `io`.
    pub fn with_io(mut self, io: MediaIo) -> Self {
        self.io = io;
        self
    }

    /// The same configuration with `workers` threads.
    pub fn with_workers(mut self, workers: usize) -> Self {
        self.workers = workers;
        self
    }

    /// The same configuration binding media sockets to `bind`.
    pub fn with_bind(mut self, bind: IpAddr) -> Self {
        self.bind = bind;
        self
    }

    /// The same configuration with a DTLS certificate for DTLS-SRTP legs.
    pub fn with_dtls(mut self, dtls: DtlsConfig) -> Self {
        self.dtls = Some(dtls);
        self
    }
}

impl Default for DataPlaneConfig {
    fn default() -> Self {
        Self::new()
    }
}

impl std::fmt::Debug for DataPlaneConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DataPlaneConfig")
            .field("workers", &self.workers)
            .field("bind", &self.bind)
            .field("dtls", &self.dtls.is_some())
            .field("stats_interval", &self.stats_interval)
            .field("control_interval", &self.control_interval)
            .field("batch_window", &self.batch_window)
            .field("io", &self.io)
            .field("recording_dir", &self.recording_dir)
            .field("recording_queue", &self.recording_queue)
            .finish()
    }
}

/// A running media relay: the [`Relay`] control plane, a control thread that hands its
/// [`MediaUpdate`]s to the workers and their statistics back to it, and the worker threads.
///
/// Calls are made through [`MediaRelay::relay`] (or [`MediaRelay::control`] for the NG server). Both legs
/// of a call live on the same worker (sharded by Call-ID), so forwarding never crosses threads.
pub struct MediaRelay {
    relay: Arc<Mutex<Relay>>,
    stats: Arc<Mutex<HashMap<StreamId, StreamStats>>>,
    control: Sender<ControlMessage>,
    control_thread: Option<JoinHandle<()>>,
    workers: usize,
    workers_by_io: WorkersByIo,
    recording_dir: Option<PathBuf>,
}

impl MediaRelay {
    /// Builds the control plane from `config` and starts the threads.
    pub fn start(config: RelayConfig, data_plane: DataPlaneConfig) -> Result<Self, crate::Error> {
        let claimed = ClaimedPorts::default();
        let mut control_plane = Relay::new(config.clone())?;
        // Pairs are bound as they are handed out; ones something else holds are skipped.
        control_plane.set_port_claim(Box::new(SocketClaim::new(data_plane.bind, claimed.clone())));
        let relay = Arc::new(Mutex::new(control_plane));
        let count = match data_plane.workers {
            0 => std::thread::available_parallelism().map_or(1, usize::from),
            n => n,
        };
        let mut recorder_thread = None;
        let recorder = match &data_plane.recording_dir {
            Some(directory) => {
                let (handle, writer) =
                    recorder::recorder(directory.clone(), data_plane.recording_queue);
                let thread = std::thread::Builder::new()
                    .name("media-recorder".to_owned())
                    .spawn(move || writer.run())
                    .map_err(|e| WorkerError::io("spawn recorder", &e))?;
                recorder_thread = Some(thread);
                Some(handle)
            }
            None => None,
        };
        let settings = StreamSettings {
            bind: data_plane.bind,
            dtls: data_plane.dtls.clone(),
            ice: config.ice.clone(),
            recorder: recorder.clone(),
            claimed: claimed.clone(),
        };
        let io = data_plane.io.resolve();
        let (control_tx, control_rx) = mpsc::channel();
        let waker = bind_loopback("wake sender")?;
        let (picked_tx, picked_rx) = mpsc::channel();
        let mut workers = Vec::with_capacity(count);
        for index in 0..count {
            let (tx, rx) = mpsc::channel();
            let wake_socket = bind_loopback("wake socket")?;
            let wake_address = wake_socket
                .local_addr()
                .map_err(|e| WorkerError::io("wake socket address", &e))?;
            let reports = control_tx.clone();
            let worker = Worker::new(
                settings.clone(),
                rx,
                reports,
                wake_socket,
                data_plane.stats_interval,
                data_plane.batch_window,
                IoRequest {
                    wanted: io,
                    picked: picked_tx.clone(),
                },
            );
            let thread = std::thread::Builder::new()
                .name(format!("media-worker-{index}"))
                .spawn(move || worker.run())
                .map_err(|e| WorkerError::io("spawn worker", &e))?;
            workers.push(WorkerHandle {
                commands: tx,
                wake: wake_address,
                thread: Some(thread),
            });
        }
        drop(picked_tx);
        let workers_by_io = collect_picks(&picked_rx, count);
        let stats = Arc::new(Mutex::new(HashMap::new()));
        let mut control = ControlLoop {
            relay: Arc::clone(&relay),
            stats: Arc::clone(&stats),
            inbound: control_rx,
            workers,
            waker,
            routes: HashMap::new(),
            claimed,
            interval: data_plane.control_interval,
            recorder,
            recorder_thread,
        };
        let control_thread = std::thread::Builder::new()
            .name("media-control".to_owned())
            .spawn(move || control.run())
            .map_err(|e| WorkerError::io("spawn control thread", &e))?;
        Ok(MediaRelay {
            relay,
            stats,
            control: control_tx,
            control_thread: Some(control_thread),
            workers: count,
            workers_by_io,
            recording_dir: data_plane.recording_dir,
        })
    }

    /// Plays DTMF into a call (see [`Relay::play_dtmf`]); the workers start within
    /// [`DataPlaneConfig::control_interval`] (or at once after [`MediaRelay::sync`]).
    pub fn play_dtmf(&self, request: &DtmfRequest) -> Result<Vec<StreamId>, SessionError> {
        lock(&self.relay).play_dtmf(request)
    }

    /// Starts or stops recording a call (see [`Relay::set_recording`]).
    pub fn set_recording(&self, call_id: &str, record: bool) -> Result<(), SessionError> {
        lock(&self.relay).set_recording(call_id, record)
    }

    /// Where a call's recording is written, if recording is configured. Packets reach the file within a
    /// fraction of a second, and all queued ones after [`MediaRelay::sync`].
    pub fn recording_path(&self, call_id: &str) -> Option<PathBuf> {
        let directory = self.recording_dir.as_ref()?;
        Some(recorder::recording_path(directory, call_id))
    }

    /// The control plane. Hold the lock briefly: the control thread takes it to deliver changes.
    pub fn relay(&self) -> &Arc<Mutex<Relay>> {
        &self.relay
    }

    /// The NG adapter over this relay's control plane, for [`NgServer`](crate::ng).
    pub fn control(&self) -> RelayControl {
        RelayControl::new(Arc::clone(&self.relay))
    }

    /// How many worker threads run.
    pub fn worker_count(&self) -> usize {
        self.workers
    }

    /// How many workers run on io_uring and how many on epoll (each picked its back end before
    /// [`MediaRelay::start`] returned, and keeps it).
    pub fn workers_by_io(&self) -> WorkersByIo {
        self.workers_by_io
    }

    /// Hands every pending control-plane change to the workers and collects their statistics now, returning
    /// once the workers applied both. Changes are otherwise picked up within
    /// [`DataPlaneConfig::control_interval`] and statistics every [`DataPlaneConfig::stats_interval`].
    pub fn sync(&self) -> Result<(), WorkerError> {
        let (tx, rx) = mpsc::channel();
        self.control
            .send(ControlMessage::Sync(tx))
            .map_err(|_| WorkerError::Stopped)?;
        rx.recv().map_err(|_| WorkerError::Stopped)
    }

    /// The packet path's statistics of a stream, as last reported.
    pub fn stream_stats(&self, id: StreamId) -> Option<StreamStats> {
        lock(&self.stats).get(&id).copied()
    }

    /// Stops the control thread and the workers, closing every media socket.
    pub fn shutdown(mut self) {
        self.stop();
    }

    fn stop(&mut self) {
        let _ = self.control.send(ControlMessage::Shutdown);
        if let Some(thread) = self.control_thread.take() {
            let _ = thread.join();
        }
    }
}

impl Drop for MediaRelay {
    fn drop(&mut self) {
        self.stop();
    }
}

impl std::fmt::Debug for MediaRelay {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MediaRelay")
            .field("workers", &self.workers)
            .finish_non_exhaustive()
    }
}

struct WorkerHandle {
    commands: Sender<WorkerCommand>,
    wake: SocketAddr,
    thread: Option<JoinHandle<()>>,
}

/// The control thread: drains the relay's updates to the workers, applies their reports, sweeps.
struct ControlLoop {
    relay: Arc<Mutex<Relay>>,
    stats: Arc<Mutex<HashMap<StreamId, StreamStats>>>,
    inbound: Receiver<ControlMessage>,
    workers: Vec<WorkerHandle>,
    waker: UdpSocket,
    /// Which worker holds each stream.
    routes: HashMap<StreamId, usize>,
    /// The sockets claimed for the streams' pairs, handed to each stream as its first update is dispatched.
    claimed: ClaimedPorts,
    interval: Duration,
    recorder: Option<RecorderHandle>,
    recorder_thread: Option<JoinHandle<()>>,
}

impl ControlLoop {
    fn run(&mut self) {
        let mut next_sweep = Instant::now() + Duration::from_secs(1);
        loop {
            match self.inbound.recv_timeout(self.interval) {
                Ok(ControlMessage::Report(report)) => self.apply(report),
                Ok(ControlMessage::Sync(done)) => {
                    self.dispatch();
                    self.flush();
                    self.flush_recordings();
                    let _ = done.send(());
                }
                Ok(ControlMessage::Shutdown) | Err(RecvTimeoutError::Disconnected) => break,
                Err(RecvTimeoutError::Timeout) => {}
            }
            let now = Instant::now();
            if now >= next_sweep {
                let expired = lock(&self.relay).sweep(now);
                for call in expired {
                    tracing::info!(call_id = %call.call_id, "call expired: no media or signalling");
                }
                next_sweep = now + Duration::from_secs(1);
            }
            self.dispatch();
        }
        for worker in &mut self.workers {
            let _ = worker.commands.send(WorkerCommand::Shutdown);
            wake(&self.waker, worker.wake);
        }
        for worker in &mut self.workers {
            if let Some(thread) = worker.thread.take() {
                let _ = thread.join();
            }
        }
        // The workers' handles are gone with them; this was the last one, so the writer finishes.
        self.recorder = None;
        if let Some(thread) = self.recorder_thread.take() {
            let _ = thread.join();
        }
    }

    /// Waits until the recorder wrote everything queued so far.
    fn flush_recordings(&self) {
        let Some(recorder) = &self.recorder else {
            return;
        };
        let (tx, rx) = mpsc::channel();
        recorder.control(RecorderMessage::Flush(tx));
        let _ = rx.recv();
    }

    /// Sends the relay's pending updates to the workers that own the streams.
    fn dispatch(&mut self) {
        let mut relay = lock(&self.relay);
        let mut woken = vec![false; self.workers.len()];
        while let Some(update) = relay.poll_update() {
            let (index, command) = match update {
                MediaUpdate::Upsert(media) => {
                    if !self.claimed.hand_over(&relay, &media) {
                        // Stale: the stream has gone or moved since; its Remove follows.
                        continue;
                    }
                    let index = shard(&media.call_id, self.workers.len());
                    self.routes.insert(media.id, index);
                    (index, WorkerCommand::Upsert(media))
                }
                MediaUpdate::Remove { id, .. } => {
                    let Some(index) = self.routes.remove(&id) else {
                        continue;
                    };
                    lock(&self.stats).remove(&id);
                    (index, WorkerCommand::Remove(id))
                }
                MediaUpdate::Dtmf(request) => {
                    let Some(index) = self.routes.get(&request.stream).copied() else {
                        continue;
                    };
                    (index, WorkerCommand::Dtmf(request))
                }
            };
            if let Some(worker) = self.workers.get(index) {
                let _ = worker.commands.send(command);
                if let Some(w) = woken.get_mut(index) {
                    *w = true;
                }
            }
        }
        drop(relay);
        for (worker, woken) in self.workers.iter().zip(woken) {
            if woken {
                wake(&self.waker, worker.wake);
            }
        }
    }

    /// Asks every worker for its statistics and applies them.
    fn flush(&mut self) {
        let (tx, rx) = mpsc::channel();
        let mut asked = 0;
        for worker in &self.workers {
            if worker
                .commands
                .send(WorkerCommand::Flush(tx.clone()))
                .is_ok()
            {
                wake(&self.waker, worker.wake);
                asked += 1;
            }
        }
        drop(tx);
        for _ in 0..asked {
            match rx.recv() {
                Ok(report) => self.apply(report),
                Err(_) => break,
            }
        }
    }

    fn apply(&mut self, report: WorkerReport) {
        let mut relay = lock(&self.relay);
        let mut stats = lock(&self.stats);
        for (id, stream) in report.streams {
            // A report may trail the stream's removal: then it is dropped.
            if relay.record_traffic(id, stream.traffic) {
                stats.insert(id, stream);
            }
        }
    }
}

/// Waits until each of `count` workers said which back end it picked (a worker that died before saying
/// is left out).
fn collect_picks(picked: &Receiver<MediaIo>, count: usize) -> WorkersByIo {
    let mut by_io = WorkersByIo::default();
    for _ in 0..count {
        match picked.recv() {
            Ok(MediaIo::IoUring) => by_io.io_uring += 1,
            Ok(_) => by_io.epoll += 1,
            Err(_) => break,
        }
    }
    by_io
}

/// Both legs of a call land on the same worker.
fn shard(call_id: &str, workers: usize) -> usize {
    let mut hasher = DefaultHasher::new();
    call_id.hash(&mut hasher);
    (hasher.finish() % workers.max(1) as u64) as usize
}

fn bind_loopback(what: &'static str) -> Result<UdpSocket, WorkerError> {
    let socket =
        UdpSocket::bind((Ipv4Addr::LOCALHOST, 0)).map_err(|e| WorkerError::io(what, &e))?;
    socket
        .set_nonblocking(true)
        .map_err(|e| WorkerError::io(what, &e))?;
    Ok(socket)
}

/// A poisoned lock means a panic elsewhere already; the data is still the best there is.
fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}
