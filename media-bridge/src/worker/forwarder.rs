//! One worker thread: owns the sockets of the streams sharded to it and moves their packets. No lock, no
//! allocation per packet: datagrams are read in batches into reused buffers and transformed in place, and
//! what one batch produced leaves with one `sendmmsg` per destination socket (in practice: one), or, on the
//! io_uring back end, with the next `io_uring_enter`.

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};
use std::net::{SocketAddr, UdpSocket};
#[cfg(target_os = "linux")]
use std::os::fd::AsRawFd;
use std::sync::Arc;
use std::sync::mpsc::{Receiver, Sender};
use std::time::{Duration, Instant};

use super::MediaIo;
use super::pacer::Pacer;
use super::relayed_stream::{RelayedStream, StreamSettings};
use super::socket_batch::{BATCH, MAX_READY, Outgoing, PACKET_CAPACITY, PacketBatch, Poller};
use super::stream_stats::{DropReason, RtcpSummary, RtpFields, StreamStats};
#[cfg(target_os = "linux")]
use super::uring::{self, Completion, Received, UringIo};
use crate::demux::{PacketKind, classify};
use crate::session::{DtmfInjection, LegMedia, StreamId};

/// How often ICE and DTLS timers are looked at.
const TIMER_TICK: Duration = Duration::from_millis(20);

/// What the control thread tells a worker.
pub(crate) enum WorkerCommand {
    /// Start or update relaying on a stream.
    Upsert(Arc<LegMedia>),
    /// Stop relaying on a stream and close its sockets.
    Remove(StreamId),
    /// Inject RFC 4733 events towards a stream's endpoint.
    Dtmf(DtmfInjection),
    /// Report every stream's statistics now, on this channel.
    Flush(Sender<WorkerReport>),
    /// Close everything and end the thread.
    Shutdown,
}

/// Statistics of the streams that changed since the previous report.
pub(crate) struct WorkerReport {
    pub(crate) streams: Vec<(StreamId, StreamStats)>,
}

/// What reaches the control thread: periodic worker reports and requests from the `MediaRelay` handle.
pub(crate) enum ControlMessage {
    /// A worker's periodic statistics.
    Report(WorkerReport),
    /// Deliver pending changes and collect statistics now, then answer.
    Sync(Sender<()>),
    /// Stop everything.
    Shutdown,
}

/// A worker's streams. Every relayed packet looks its stream up twice and its peer once, so the key is hashed
/// with one multiplication instead of SipHash: stream ids are handed out by the control plane in sequence,
/// never chosen by a remote party, so there is no flooding of one bucket to defend against.
type Streams = HashMap<StreamId, RelayedStream, BuildHasherDefault<StreamIdHasher>>;

/// Fibonacci hashing of a [`StreamId`]: the multiplication spreads sequential ids over the high bits (the
/// table's tags) while keeping the low bits (its bucket index) distinct.
#[derive(Default)]
struct StreamIdHasher(u64);

impl Hasher for StreamIdHasher {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        // Only reached if `StreamId`'s `Hash` ever writes more than its `u64`.
        for byte in bytes {
            self.write_u64(u64::from(*byte));
        }
    }

    fn write_u64(&mut self, value: u64) {
        self.0 = (self.0.rotate_left(5) ^ value).wrapping_mul(0x9e37_79b9_7f4a_7c15);
    }
}

/// The poller's token of the wake-up socket; a stream's sockets are [`socket_token`]s.
const WAKE_TOKEN: u64 = u64::MAX;

/// The poller's token of stream `id`'s RTP (or RTCP) socket (ids are handed out in sequence and never
/// come near 2^63, so the shift loses nothing and no token is [`WAKE_TOKEN`]).
fn socket_token(id: StreamId, rtcp_port: bool) -> u64 {
    (id.0 << 1) | u64::from(rtcp_port)
}

/// The stream and port a [`socket_token`] stands for.
fn token_socket(token: u64) -> (StreamId, bool) {
    (StreamId(token >> 1), token & 1 == 1)
}

pub(crate) struct Worker {
    settings: StreamSettings,
    commands: Receiver<WorkerCommand>,
    reports: Sender<ControlMessage>,
    wake: UdpSocket,
    stats_interval: Duration,
    /// See [`DataPlaneConfig::batch_window`](super::DataPlaneConfig::batch_window).
    batch_window: Duration,
    streams: Streams,
    /// The streams with timers to run on the tick ([`RelayedStream::has_timers`]): ICE, DTLS or DTMF. A
    /// stream is added when an update or a DTMF request gives it one and leaves at the first tick after it
    /// has none (or is gone), so the tick costs nothing per plain RTP stream.
    timed: Vec<StreamId>,
    poller: Poller,
    batch: PacketBatch,
    /// Origin of the arrival clock fed to the reception statistics.
    epoch: Instant,
    /// The I/O back end asked for.
    io: MediaIo,
    /// Where `run` tells which back end it picked (once, before its loop starts).
    picked: Option<Sender<MediaIo>>,
    /// The worker's io_uring, once `run` created it on the worker's thread (else the poller serves).
    #[cfg(target_os = "linux")]
    uring: Option<UringIo>,
    /// Per buffer of the ring: where the send from it was going, for the counters if it fails.
    #[cfg(target_os = "linux")]
    sends: Vec<SendMeta>,
}

/// The I/O back end a worker is asked to use, and where it tells which one it picked.
pub(crate) struct IoRequest {
    /// [`MediaIo::Auto`] already resolved through the environment.
    pub(crate) wanted: MediaIo,
    /// Receives [`MediaIo::IoUring`] or [`MediaIo::Epoll`] once the worker picked.
    pub(crate) picked: Sender<MediaIo>,
}

/// When a worker's loop has work of its own besides datagrams: the streams' timer tick, the statistics
/// report, and the end of the batch window it is waiting out (both back ends' loops keep one).
struct LoopClock {
    next_timers: Instant,
    next_report: Instant,
    pacer: Pacer,
    /// Set after a wake-up that should be followed by a batch window: the next wait lasts until then.
    paced_until: Option<Instant>,
}

impl LoopClock {
    fn new(batch_window: Duration, stats_interval: Duration, now: Instant) -> Self {
        LoopClock {
            next_timers: now,
            next_report: now + stats_interval,
            pacer: Pacer::new(batch_window, now),
            paced_until: None,
        }
    }

    /// The earlier of the timer tick and the report: the longest a wait may last.
    fn deadline(&self) -> Instant {
        self.next_timers.min(self.next_report)
    }
}

/// A send in flight on the io_uring back end: the streams whose counters to correct if it fails.
#[cfg(target_os = "linux")]
#[derive(Clone, Copy)]
struct SendMeta {
    from: StreamId,
    peer: StreamId,
    rtcp: bool,
}

impl Worker {
    pub(crate) fn new(
        settings: StreamSettings,
        commands: Receiver<WorkerCommand>,
        reports: Sender<ControlMessage>,
        wake: UdpSocket,
        stats_interval: Duration,
        batch_window: Duration,
        io: IoRequest,
    ) -> Self {
        let mut poller = Poller::new();
        if let Err(error) = poller.add(&wake, WAKE_TOKEN) {
            tracing::warn!(%error, "cannot watch the worker's wake-up socket");
        }
        Worker {
            settings,
            commands,
            reports,
            wake,
            stats_interval,
            batch_window,
            streams: Streams::default(),
            timed: Vec::new(),
            poller,
            batch: PacketBatch::new(),
            epoch: Instant::now(),
            io: io.wanted,
            picked: Some(io.picked),
            #[cfg(target_os = "linux")]
            uring: None,
            #[cfg(target_os = "linux")]
            sends: Vec::new(),
        }
    }

    /// The thread's loop; returns on [`WorkerCommand::Shutdown`] or when the control thread is gone.
    ///
    /// Idle, the worker blocks until a socket is readable and relays at once. After a wake-up that received
    /// packets it sleeps out the batch window (counted from that wake-up) and then takes whatever is ready
    /// without blocking, so that under load one wake-up and one pass over the ready sockets carry many
    /// packets instead of one or two; the first pass that finds nothing goes back to blocking.
    pub(crate) fn run(mut self) {
        let io = self.pick_io();
        if let Some(picked) = self.picked.take() {
            // `MediaRelay::start` waits for this; if it is gone, nobody is left to tell.
            let _ = picked.send(io);
        }
        #[cfg(target_os = "linux")]
        if io == MediaIo::IoUring {
            return self.run_uring();
        }
        self.run_epoll();
    }

    /// Creates the io_uring when one is wanted and the kernel offers it; returns the back end that serves
    /// ([`MediaIo::IoUring`] or [`MediaIo::Epoll`]), after one info line saying so.
    fn pick_io(&mut self) -> MediaIo {
        let thread = std::thread::current();
        let worker = thread.name().unwrap_or("media worker");
        #[cfg(target_os = "linux")]
        if self.io != MediaIo::Epoll {
            match UringIo::new() {
                Ok(ring) => {
                    let registered_files = ring.registered_files();
                    self.install_ring(ring);
                    tracing::info!(
                        worker,
                        io = "io_uring",
                        registered_files,
                        "media worker running"
                    );
                    return MediaIo::IoUring;
                }
                Err(error) => {
                    if self.io == MediaIo::IoUring {
                        tracing::warn!(worker, %error, "io_uring asked for but unavailable");
                    }
                    tracing::info!(
                        worker,
                        io = "epoll",
                        io_uring_error = %error,
                        "media worker running (no io_uring)"
                    );
                    return MediaIo::Epoll;
                }
            }
        }
        tracing::info!(worker, io = "epoll", "media worker running");
        MediaIo::Epoll
    }

    /// Makes `ring` the worker's I/O: its per-buffer bookkeeping, and the wake-up socket armed on it.
    #[cfg(target_os = "linux")]
    fn install_ring(&mut self, mut ring: UringIo) {
        if let Err(error) = ring.arm(&self.wake, uring::WAKE) {
            tracing::warn!(%error, "cannot watch the worker's wake-up socket");
        }
        self.uring = Some(ring);
        self.sends = vec![
            SendMeta {
                from: StreamId(0),
                peer: StreamId(0),
                rtcp: false,
            };
            uring::BUFFER_COUNT
        ];
    }

    /// [`Worker::run`] on the epoll back end.
    fn run_epoll(mut self) {
        let mut clock = LoopClock::new(self.batch_window, self.stats_interval, Instant::now());
        loop {
            if !self.drain_commands() {
                return;
            }
            let now = Instant::now();
            let deadline = clock.deadline();
            let timeout = match clock.paced_until {
                Some(until) => {
                    let pause = until.min(deadline).saturating_duration_since(now);
                    if !pause.is_zero() {
                        std::thread::sleep(pause);
                    }
                    Duration::ZERO
                }
                None => deadline.saturating_duration_since(now),
            };
            if let Err(error) = self.poller.wait(timeout) {
                tracing::warn!(%error, "worker poll failed");
                std::thread::sleep(TIMER_TICK);
            }
            let now = Instant::now();
            let received = self.receive_ready(now);
            if !self.after_wake(now, received, &mut clock) {
                return;
            }
        }
    }

    /// After a wake-up at `now` that received `received` datagrams (both back ends' loops): decides whether
    /// the next wait sleeps out a batch window, runs the streams' timers and sends the statistics report
    /// when their times have come; `false` when the control thread is gone and the worker must stop.
    fn after_wake(&mut self, now: Instant, received: usize, clock: &mut LoopClock) -> bool {
        clock.paced_until = clock.pacer.on_wake(now, received);
        if now >= clock.next_timers {
            let streams = &mut self.streams;
            self.timed.retain(|id| {
                streams.get_mut(id).is_some_and(|stream| {
                    stream.handle_timers(now);
                    stream.has_timers()
                })
            });
            clock.next_timers = now + TIMER_TICK;
        }
        if now >= clock.next_report {
            let report = self.collect_report();
            if !report.streams.is_empty()
                && self.reports.send(ControlMessage::Report(report)).is_err()
            {
                return false;
            }
            clock.next_report = now + self.stats_interval;
        }
        true
    }

    /// Applies queued commands; `false` when the worker must stop.
    fn drain_commands(&mut self) -> bool {
        loop {
            match self.commands.try_recv() {
                Ok(WorkerCommand::Upsert(media)) => self.upsert(media),
                Ok(WorkerCommand::Remove(id)) => self.remove(id),
                Ok(WorkerCommand::Dtmf(request)) => match self.streams.get_mut(&request.stream) {
                    Some(stream) => {
                        stream.inject_dtmf(&request);
                        self.track_timers(request.stream);
                    }
                    None => {
                        tracing::debug!(stream = %request.stream, "DTMF for a stream that is gone")
                    }
                },
                Ok(WorkerCommand::Flush(reply)) => {
                    // The requester may have given up; nothing to do then.
                    let _ = reply.send(self.collect_report());
                }
                Ok(WorkerCommand::Shutdown) => return false,
                Err(std::sync::mpsc::TryRecvError::Empty) => return true,
                Err(std::sync::mpsc::TryRecvError::Disconnected) => return false,
            }
        }
    }

    fn upsert(&mut self, media: Arc<LegMedia>) {
        // The update may close a socket that a queued send names.
        #[cfg(target_os = "linux")]
        if let Some(ring) = &mut self.uring {
            ring.flush();
        }
        let now = Instant::now();
        let id = media.id;
        let result = match self.streams.get_mut(&id) {
            Some(stream) => stream.update(media, &self.settings, now),
            None => RelayedStream::open(media, &self.settings, now).map(|stream| {
                self.streams.insert(id, stream);
                true
            }),
        };
        match result {
            // A socket the update closed has left the poller with it; watch the ones the stream has now.
            Ok(true) => {
                self.watch(id);
                self.track_timers(id);
            }
            Ok(false) => self.track_timers(id),
            Err(error) => {
                tracing::warn!(stream = %id, %error, "cannot bind the stream's ports");
                self.remove(id);
            }
        }
    }

    /// Puts stream `id` on the timer tick if it has timers and is not on it yet.
    fn track_timers(&mut self, id: StreamId) {
        let has_timers = self.streams.get(&id).is_some_and(RelayedStream::has_timers);
        if has_timers && !self.timed.contains(&id) {
            self.timed.push(id);
        }
    }

    /// Registers stream `id`'s sockets with the poller (again, if they already were).
    fn watch(&mut self, id: StreamId) {
        let Some(stream) = self.streams.get(&id) else {
            return;
        };
        #[cfg(target_os = "linux")]
        if let Some(ring) = &mut self.uring {
            let (rtp, rtcp) = (socket_token(id, false), socket_token(id, true));
            if !uring::token_fits(rtcp) {
                tracing::warn!(stream = %id, "stream id beyond the ring's token space");
                return;
            }
            let mut result = ring.arm(&stream.rtp_socket, rtp);
            match &stream.rtcp_socket {
                Some(socket) => result = result.and(ring.arm(socket, rtcp)),
                // Parked while RTCP is muxed (it stays open, holding the port, but is not read), or closed.
                None => ring.disarm(rtcp),
            }
            if let Err(error) = result {
                tracing::warn!(stream = %id, %error, "cannot watch the stream's sockets");
            }
            return;
        }
        let mut result = self.poller.add(&stream.rtp_socket, socket_token(id, false));
        if let Some(socket) = &stream.rtcp_socket {
            result = result.and(self.poller.add(socket, socket_token(id, true)));
        }
        if let Some(socket) = &stream.parked_rtcp {
            // Parked while RTCP is muxed: it stays open (holding the port) but is not read.
            self.poller.remove(socket, socket_token(id, true));
        }
        if let Err(error) = result {
            tracing::warn!(stream = %id, %error, "cannot watch the stream's sockets");
        }
    }

    /// Drops stream `id`, closing its sockets (which takes them out of the poller).
    fn remove(&mut self, id: StreamId) {
        #[cfg(target_os = "linux")]
        if let Some(ring) = &mut self.uring {
            // Queued sends leave first; the receives are cancelled before the sockets close, so that the
            // kernel lets go of them (and their ports).
            ring.flush();
            ring.disarm(socket_token(id, false));
            ring.disarm(socket_token(id, true));
            ring.settle();
        }
        if self.streams.remove(&id).is_some() {
            self.poller.forget(socket_token(id, false));
            self.poller.forget(socket_token(id, true));
        }
    }

    /// Drains every ready socket; returns how many datagrams came in.
    fn receive_ready(&mut self, now: Instant) -> usize {
        let mut ready = [0u64; MAX_READY];
        let count = self.poller.ready().len().min(MAX_READY);
        for (slot, token) in ready.iter_mut().zip(self.poller.ready()) {
            *slot = *token;
        }
        let mut received = 0;
        for token in ready.iter().take(count) {
            if *token == WAKE_TOKEN {
                self.drain_wake();
            } else {
                let (id, rtcp_port) = token_socket(*token);
                received += self.receive_stream(id, rtcp_port, now);
            }
        }
        received
    }

    fn drain_wake(&mut self) {
        let mut byte = [0u8; 16];
        while self.wake.recv_from(&mut byte).is_ok() {}
    }

    /// Reads batches from one socket until it is empty; each batch's relayed packets are sent together.
    /// Returns how many datagrams it read.
    fn receive_stream(&mut self, id: StreamId, rtcp_port: bool, now: Instant) -> usize {
        let mut outgoing = [Outgoing::NONE; BATCH];
        let mut routes = [Route::NONE; BATCH];
        let mut received = 0;
        loop {
            let Some(socket) = self.streams.get(&id).and_then(|s| s.socket(rtcp_port)) else {
                return received;
            };
            let count = match self.batch.recv(socket) {
                Ok(0) => return received,
                Ok(n) => n,
                Err(error) => {
                    // ICMP errors (port unreachable from an earlier send) surface here: skip them.
                    tracing::trace!(stream = %id, %error, "receive failed");
                    continue;
                }
            };
            received += count;
            let mut queued = 0;
            for i in 0..count {
                if let Some((buffer, len, source)) = self.batch.get_mut(i) {
                    let packet = Packet {
                        buffer,
                        len,
                        source,
                        rtcp_port,
                    };
                    let Some(Relay { route, .. }) =
                        handle_datagram(&mut self.streams, id, packet, now, self.epoch)
                    else {
                        continue;
                    };
                    if let (Some(out), Some(slot)) =
                        (outgoing.get_mut(queued), routes.get_mut(queued))
                    {
                        *out = Outgoing {
                            index: i,
                            len: route.len,
                            destination: route.destination,
                        };
                        *slot = route;
                        queued += 1;
                    }
                }
            }
            self.send_queued(
                id,
                outgoing.get(..queued).unwrap_or_default(),
                routes.get(..queued).unwrap_or_default(),
            );
            if count < BATCH {
                return received;
            }
        }
    }

    /// Sends the packets a batch from stream `from` produced: each run going out of the same socket in as
    /// few `sendmmsg` calls as the kernel allows. Counts them sent on the peer, or dropped on `from`.
    fn send_queued(&mut self, from: StreamId, outgoing: &[Outgoing], routes: &[Route]) {
        let mut start = 0;
        while let Some(first) = routes.get(start) {
            let run = routes
                .get(start..)
                .unwrap_or_default()
                .iter()
                .take_while(|r| r.peer == first.peer && r.rtcp_socket == first.rtcp_socket)
                .count();
            let end = start + run;
            let mut failed = 0;
            if let Some(to) = self.streams.get_mut(&first.peer) {
                let mut next = start;
                while next < end {
                    let result = match to.socket(first.rtcp_socket) {
                        Some(socket) => self
                            .batch
                            .send(socket, outgoing.get(next..end).unwrap_or_default()),
                        None => Err(std::io::ErrorKind::NotFound.into()),
                    };
                    match result {
                        Ok(n) if n > 0 => {
                            for route in routes.get(next..next + n).unwrap_or_default() {
                                to.counters.sent(route.rtcp);
                            }
                            next += n;
                        }
                        // The first one failed (a full socket buffer, an unreachable address): drop it and
                        // try the rest.
                        _ => {
                            failed += 1;
                            next += 1;
                        }
                    }
                }
            } else {
                failed = run;
            }
            if let Some(from) = self.streams.get_mut(&from) {
                for _ in 0..failed {
                    from.counters.drop(DropReason::SendFailed);
                }
            }
            start = end;
        }
    }

    /// [`Worker::run`] on the io_uring back end: the same pacing as [`Worker::run_epoll`], but the wait,
    /// the batch window's sleep, the receives and the previous pass's sends are one `io_uring_enter`.
    #[cfg(target_os = "linux")]
    fn run_uring(mut self) {
        let mut clock = LoopClock::new(self.batch_window, self.stats_interval, Instant::now());
        loop {
            if !self.drain_commands() {
                return;
            }
            let Some(ring) = &mut self.uring else {
                return;
            };
            let now = Instant::now();
            let deadline = clock.deadline();
            // Idle: wake for the first datagram (besides the completions of the sends just submitted).
            // Paced: sleep out the window, whatever arrives meanwhile.
            let (want, until) = match clock.paced_until {
                Some(until) => (None, until.min(deadline)),
                None => (Some(1 + ring.sends_in_flight()), deadline),
            };
            if let Err(error) = ring.wait(want, until.saturating_duration_since(now)) {
                tracing::warn!(%error, "worker wait failed");
                std::thread::sleep(TIMER_TICK);
            }
            let now = Instant::now();
            let received = self.complete_uring(now);
            if !self.after_wake(now, received, &mut clock) {
                return;
            }
        }
    }

    /// Handles every completion the ring holds: relays received datagrams (queueing their sends), counts
    /// completed sends, re-arms receives that ended. Returns how many datagrams came in.
    #[cfg(target_os = "linux")]
    fn complete_uring(&mut self, now: Instant) -> usize {
        let Worker {
            uring,
            streams,
            sends,
            epoch,
            wake,
            ..
        } = self;
        let Some(ring) = uring else {
            return 0;
        };
        let mut completions = [Completion::Nothing; uring::COMPLETIONS];
        let mut received = 0;
        loop {
            let count = ring.complete(&mut completions);
            if count == 0 {
                break;
            }
            for completion in completions.iter().take(count) {
                match *completion {
                    Completion::Received(datagram) => {
                        if datagram.token == uring::WAKE {
                            // The wake-up byte itself: the commands are drained on every turn.
                            ring.release(datagram.buffer);
                            continue;
                        }
                        received += 1;
                        relay_received(ring, streams, sends, datagram, now, *epoch);
                    }
                    Completion::Sent {
                        buffer,
                        result: Err(_),
                    } => count_failed_send(streams, sends, buffer),
                    // Counted as sent when it was queued.
                    Completion::Sent { result: Ok(_), .. } => {}
                    Completion::Nothing => {}
                }
            }
        }
        let wake_fd = wake.as_raw_fd();
        ring.rearm_ended(|token| {
            if token == uring::WAKE {
                return Some(wake_fd);
            }
            let (id, rtcp_port) = token_socket(token);
            streams
                .get(&id)
                .and_then(|s| s.socket(rtcp_port))
                .map(|s| s.as_raw_fd())
        });
        received
    }

    fn collect_report(&mut self) -> WorkerReport {
        let streams = self
            .streams
            .iter_mut()
            .filter_map(|(id, s)| Some((*id, s.counters.take_report()?)))
            .collect();
        WorkerReport { streams }
    }
}

/// Relays `datagram` from its buffer: queues its send from the peer stream's socket, or gives the buffer
/// back to the ring when it goes nowhere. A queued send is counted sent at once (the streams are at hand
/// then, and a send rarely fails); [`count_failed_send`] takes it back if it does.
#[cfg(target_os = "linux")]
fn relay_received(
    ring: &mut UringIo,
    streams: &mut Streams,
    sends: &mut [SendMeta],
    datagram: Received,
    now: Instant,
    epoch: Instant,
) {
    let Received {
        token,
        buffer,
        len,
        source,
    } = datagram;
    let (id, rtcp_port) = token_socket(token);
    let (Some(source), Some(bytes)) = (source, ring.datagram(buffer)) else {
        ring.release(buffer);
        return;
    };
    let packet = Packet {
        buffer: bytes,
        len,
        source,
        rtcp_port,
    };
    let Some(Relay { route, from, to }) = handle_datagram(streams, id, packet, now, epoch) else {
        ring.release(buffer);
        return;
    };
    let Some(socket) = to.socket(route.rtcp_socket) else {
        ring.release(buffer);
        from.counters.drop(DropReason::SendFailed);
        return;
    };
    if ring
        .send(socket, buffer, route.len, route.destination)
        .is_err()
    {
        from.counters.drop(DropReason::SendFailed);
        return;
    }
    to.counters.sent(route.rtcp);
    if let Some(meta) = sends.get_mut(usize::from(buffer)) {
        *meta = SendMeta {
            from: id,
            peer: route.peer,
            rtcp: route.rtcp,
        };
    }
}

/// A send from buffer `buffer` failed: no longer sent on the stream it left from, dropped on the one it came
/// in on.
#[cfg(target_os = "linux")]
fn count_failed_send(streams: &mut Streams, sends: &[SendMeta], buffer: u16) {
    let Some(meta) = sends.get(usize::from(buffer)).copied() else {
        return;
    };
    if let Some(to) = streams.get_mut(&meta.peer) {
        to.counters.unsent(meta.rtcp);
    }
    if let Some(from) = streams.get_mut(&meta.from) {
        from.counters.drop(DropReason::SendFailed);
    }
}

/// Where a relayed packet goes once its batch is processed.
#[derive(Clone, Copy)]
struct Route {
    /// The stream it leaves from.
    peer: StreamId,
    /// From that stream's RTCP port (else its RTP port).
    rtcp_socket: bool,
    /// RTCP (for the counters).
    rtcp: bool,
    destination: SocketAddr,
    len: usize,
}

impl Route {
    const NONE: Route = Route {
        peer: StreamId(0),
        rtcp_socket: false,
        rtcp: false,
        destination: Outgoing::NONE.destination,
        len: 0,
    };
}

/// A datagram [`handle_datagram`] relays: where it goes, and the two streams (found once per packet), so that
/// its send can be counted without looking them up again.
struct Relay<'a> {
    route: Route,
    /// The stream it came in on.
    from: &'a mut RelayedStream,
    /// The stream it leaves from.
    to: &'a mut RelayedStream,
}

/// A received datagram in its reusable buffer.
struct Packet<'a> {
    buffer: &'a mut [u8; PACKET_CAPACITY],
    len: usize,
    source: SocketAddr,
    rtcp_port: bool,
}

/// Demultiplexes one datagram received on stream `id` and acts on it; returns where to send it when it is
/// media to relay.
fn handle_datagram<'a>(
    streams: &'a mut Streams,
    id: StreamId,
    packet: Packet<'_>,
    now: Instant,
    epoch: Instant,
) -> Option<Relay<'a>> {
    let bytes = packet.buffer.get(..packet.len)?;
    let kind = match classify(bytes) {
        // On a separate RTCP port everything in the RTP range is RTCP.
        PacketKind::Rtp | PacketKind::Rtcp if packet.rtcp_port => PacketKind::Rtcp,
        kind => kind,
    };
    // Media, the common case, looks its streams up once, in `forward`.
    match kind {
        PacketKind::Rtp => return forward(streams, id, packet, false, now, epoch),
        PacketKind::Rtcp => return forward(streams, id, packet, true, now, epoch),
        _ => {}
    }
    let stream = streams.get_mut(&id)?;
    let bytes = packet.buffer.get(..packet.len)?;
    match kind {
        PacketKind::Stun if !packet.rtcp_port => stream.handle_stun(bytes, packet.source, now),
        PacketKind::Dtls if !packet.rtcp_port => stream.handle_dtls(bytes, packet.source, now),
        _ => stream.counters.drop(DropReason::Malformed),
    }
    None
}

/// RTP or RTCP from stream `id`'s endpoint: source check, unprotect, renumber, protect for the peer; returns
/// where to send it, with both streams.
fn forward<'a>(
    streams: &'a mut Streams,
    id: StreamId,
    packet: Packet<'_>,
    rtcp: bool,
    now: Instant,
    epoch: Instant,
) -> Option<Relay<'a>> {
    let peer_id = streams.get(&id).map(RelayedStream::peer)?;
    if peer_id == id {
        // A stream that is its own peer has nowhere to send (and the two lookups below must differ).
        if let Some(from) = streams.get_mut(&id) {
            from.counters.drop(DropReason::NoDestination);
        }
        return None;
    }
    let (from, to) = match streams.get_disjoint_mut([&id, &peer_id]) {
        [Some(from), Some(to)] => (from, to),
        // No peer yet (the callee has not answered), or the peer is gone.
        [Some(from), None] => {
            from.counters.drop(DropReason::NoDestination);
            return None;
        }
        [None, _] => return None,
    };
    match relay_packet(from, to, packet, rtcp, now, epoch) {
        Ok(Some((rtcp_socket, destination, len))) => Some(Relay {
            route: Route {
                peer: peer_id,
                rtcp_socket,
                rtcp,
                destination,
                len,
            },
            from,
            to,
        }),
        Ok(None) => None,
        Err(reason) => {
            from.counters.drop(reason);
            None
        }
    }
}

fn relay_packet(
    from: &mut RelayedStream,
    to: &mut RelayedStream,
    packet: Packet<'_>,
    rtcp: bool,
    now: Instant,
    epoch: Instant,
) -> Result<Option<(bool, SocketAddr, usize)>, DropReason> {
    let Packet {
        buffer,
        len,
        source,
        rtcp_port,
    } = packet;
    if !from.accepts_source(source, rtcp_port) {
        return Err(DropReason::WrongSource);
    }
    let received = buffer.get_mut(..len).ok_or(DropReason::Malformed)?;
    let len = from.unprotect(received, rtcp)?;
    from.latch(source, rtcp_port);
    from.refresh_consent(now);
    from.counters.touch(now);
    if let Some(plain) = buffer.get(..len) {
        from.record(plain, source);
    }
    if rtcp {
        from.counters.received_rtcp(len);
        let summary = RtcpSummary::read(buffer.get(..len).ok_or(DropReason::Malformed)?);
        from.rtcp_received(&summary, now);
        if let Some(ntp) = summary.sender_report {
            to.sender_report_sent(ntp, now);
        }
    } else {
        let plain = buffer.get(..len).ok_or(DropReason::Malformed)?;
        let fields = RtpFields::read(plain).ok_or(DropReason::Malformed)?;
        let clock_rate = from
            .media
            .codecs
            .iter()
            .find(|c| c.payload_type == fields.payload_type)
            .map_or(8000, |c| c.clock_rate);
        from.counters
            .received_rtp(len, fields, clock_rate, now, epoch);
        if let (Some(pt), Some(byte)) = (
            from.media.payload_map.translate(fields.payload_type),
            buffer.get_mut(1),
        ) {
            *byte = (*byte & 0x80) | pt;
        }
        if to.dtmf_playing() {
            // An injected event has the stream: the audio is held back, the numbering closes the gap.
            to.hold_back();
            return Ok(None);
        }
        to.outgoing_rtp(buffer.get_mut(..len).ok_or(DropReason::Malformed)?, now);
    }
    let (rtcp_socket, destination) = to.destination(rtcp).ok_or(DropReason::NoDestination)?;
    let len = to.protect(buffer, len, rtcp)?;
    Ok(Some((rtcp_socket, destination, len)))
}

/// Sends one byte to a worker's wake-up socket so that it looks at its commands.
pub(crate) fn wake(sender: &UdpSocket, worker: SocketAddr) {
    // A lost wake-up only delays the command until the next timer tick.
    let _ = sender.send_to(&[0], worker);
}
