//! One worker thread: owns the sockets of the streams sharded to it and moves their packets. No lock, no
//! allocation per packet: datagrams are read in batches into reused buffers and transformed in place, and
//! what one batch produced leaves with one `sendmmsg` per destination socket (in practice: one).

use std::collections::HashMap;
use std::net::{SocketAddr, UdpSocket};
use std::sync::Arc;
use std::sync::mpsc::{Receiver, Sender};
use std::time::{Duration, Instant};

use super::relayed_stream::{RelayedStream, StreamSettings};
use super::socket_batch::{BATCH, MAX_READY, Outgoing, PACKET_CAPACITY, PacketBatch, Poller};
use super::stream_stats::{DropReason, RtcpSummary, RtpFields, StreamStats};
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

/// Where a watched socket leads: the wake-up socket, or a stream's RTP or RTCP port.
#[derive(Clone, Copy)]
enum Slot {
    Wake,
    Stream { id: StreamId, rtcp_port: bool },
}

pub(crate) struct Worker {
    settings: StreamSettings,
    commands: Receiver<WorkerCommand>,
    reports: Sender<ControlMessage>,
    wake: UdpSocket,
    stats_interval: Duration,
    streams: HashMap<StreamId, RelayedStream>,
    slots: Vec<Slot>,
    sockets_changed: bool,
    poller: Poller,
    batch: PacketBatch,
    /// Origin of the arrival clock fed to the reception statistics.
    epoch: Instant,
}

impl Worker {
    pub(crate) fn new(
        settings: StreamSettings,
        commands: Receiver<WorkerCommand>,
        reports: Sender<ControlMessage>,
        wake: UdpSocket,
        stats_interval: Duration,
    ) -> Self {
        Worker {
            settings,
            commands,
            reports,
            wake,
            stats_interval,
            streams: HashMap::new(),
            slots: Vec::new(),
            sockets_changed: true,
            poller: Poller::new(),
            batch: PacketBatch::new(),
            epoch: Instant::now(),
        }
    }

    /// The thread's loop; returns on [`WorkerCommand::Shutdown`] or when the control thread is gone.
    pub(crate) fn run(mut self) {
        let mut next_timers = Instant::now();
        let mut next_report = Instant::now() + self.stats_interval;
        loop {
            if !self.drain_commands() {
                return;
            }
            if self.sockets_changed {
                self.rewatch();
            }
            let now = Instant::now();
            let deadline = next_timers.min(next_report);
            if let Err(error) = self.poller.wait(deadline.saturating_duration_since(now)) {
                tracing::warn!(%error, "worker poll failed");
                std::thread::sleep(TIMER_TICK);
            }
            let now = Instant::now();
            self.receive_ready(now);
            if now >= next_timers {
                for stream in self.streams.values_mut() {
                    stream.handle_timers(now);
                }
                next_timers = now + TIMER_TICK;
            }
            if now >= next_report {
                let report = self.collect_report();
                if !report.streams.is_empty()
                    && self.reports.send(ControlMessage::Report(report)).is_err()
                {
                    return;
                }
                next_report = now + self.stats_interval;
            }
        }
    }

    /// Applies queued commands; `false` when the worker must stop.
    fn drain_commands(&mut self) -> bool {
        loop {
            match self.commands.try_recv() {
                Ok(WorkerCommand::Upsert(media)) => self.upsert(media),
                Ok(WorkerCommand::Remove(id)) => {
                    if self.streams.remove(&id).is_some() {
                        self.sockets_changed = true;
                    }
                }
                Ok(WorkerCommand::Dtmf(request)) => match self.streams.get_mut(&request.stream) {
                    Some(stream) => stream.inject_dtmf(&request),
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
            Ok(changed) => self.sockets_changed |= changed,
            Err(error) => {
                tracing::warn!(stream = %id, %error, "cannot bind the stream's ports");
                self.sockets_changed |= self.streams.remove(&id).is_some();
            }
        }
    }

    fn rewatch(&mut self) {
        self.slots.clear();
        self.slots.push(Slot::Wake);
        for (id, stream) in &self.streams {
            self.slots.push(Slot::Stream {
                id: *id,
                rtcp_port: false,
            });
            if stream.rtcp_socket.is_some() {
                self.slots.push(Slot::Stream {
                    id: *id,
                    rtcp_port: true,
                });
            }
        }
        let streams = &self.streams;
        let sockets = self.slots.iter().filter_map(|slot| match slot {
            Slot::Wake => Some(&self.wake),
            Slot::Stream { id, rtcp_port } => {
                let stream = streams.get(id)?;
                if *rtcp_port {
                    stream.rtcp_socket.as_ref()
                } else {
                    Some(&stream.rtp_socket)
                }
            }
        });
        self.poller.watch(sockets);
        self.sockets_changed = false;
    }

    fn receive_ready(&mut self, now: Instant) {
        let mut ready = [0usize; MAX_READY];
        let count = self.poller.ready().len().min(MAX_READY);
        for (slot, index) in ready.iter_mut().zip(self.poller.ready()) {
            *slot = *index;
        }
        for index in ready.iter().take(count) {
            match self.slots.get(*index).copied() {
                Some(Slot::Wake) => self.drain_wake(),
                Some(Slot::Stream { id, rtcp_port }) => self.receive_stream(id, rtcp_port, now),
                None => {}
            }
        }
    }

    fn drain_wake(&mut self) {
        let mut byte = [0u8; 16];
        while self.wake.recv_from(&mut byte).is_ok() {}
    }

    /// Reads batches from one socket until it is empty; each batch's relayed packets are sent together.
    fn receive_stream(&mut self, id: StreamId, rtcp_port: bool, now: Instant) {
        let mut outgoing = [Outgoing::NONE; BATCH];
        let mut routes = [Route::NONE; BATCH];
        loop {
            let Some(socket) = self.streams.get(&id).and_then(|s| s.socket(rtcp_port)) else {
                return;
            };
            let count = match self.batch.recv(socket) {
                Ok(0) => return,
                Ok(n) => n,
                Err(error) => {
                    // ICMP errors (port unreachable from an earlier send) surface here: skip them.
                    tracing::trace!(stream = %id, %error, "receive failed");
                    continue;
                }
            };
            let mut queued = 0;
            for i in 0..count {
                if let Some((buffer, len, source)) = self.batch.get_mut(i) {
                    let packet = Packet {
                        buffer,
                        len,
                        source,
                        rtcp_port,
                    };
                    let Some(route) =
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
                return;
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

    fn collect_report(&mut self) -> WorkerReport {
        let streams = self
            .streams
            .iter_mut()
            .filter_map(|(id, s)| Some((*id, s.counters.take_report()?)))
            .collect();
        WorkerReport { streams }
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

/// A received datagram in its reusable buffer.
struct Packet<'a> {
    buffer: &'a mut [u8; PACKET_CAPACITY],
    len: usize,
    source: SocketAddr,
    rtcp_port: bool,
}

/// Demultiplexes one datagram received on stream `id` and acts on it; returns where to send it when it is
/// media to relay.
fn handle_datagram(
    streams: &mut HashMap<StreamId, RelayedStream>,
    id: StreamId,
    packet: Packet<'_>,
    now: Instant,
    epoch: Instant,
) -> Option<Route> {
    let stream = streams.get_mut(&id)?;
    let bytes = packet.buffer.get(..packet.len)?;
    let kind = match classify(bytes) {
        // On a separate RTCP port everything in the RTP range is RTCP.
        PacketKind::Rtp | PacketKind::Rtcp if packet.rtcp_port => PacketKind::Rtcp,
        kind => kind,
    };
    match kind {
        PacketKind::Stun if !packet.rtcp_port => stream.handle_stun(bytes, packet.source, now),
        PacketKind::Dtls if !packet.rtcp_port => stream.handle_dtls(bytes, packet.source, now),
        PacketKind::Rtp => return forward(streams, id, packet, false, now, epoch),
        PacketKind::Rtcp => return forward(streams, id, packet, true, now, epoch),
        _ => stream.counters.drop(DropReason::Malformed),
    }
    None
}

/// RTP or RTCP from stream `id`'s endpoint: source check, unprotect, renumber, protect for the peer; returns
/// where to send it.
fn forward(
    streams: &mut HashMap<StreamId, RelayedStream>,
    id: StreamId,
    packet: Packet<'_>,
    rtcp: bool,
    now: Instant,
    epoch: Instant,
) -> Option<Route> {
    let peer_id = streams.get(&id).map(|s| s.media.peer)?;
    let [Some(from), Some(to)] = streams.get_disjoint_mut([&id, &peer_id]) else {
        // No peer yet (the callee has not answered) or the peer is gone, or the stream is its own peer.
        if let Some(from) = streams.get_mut(&id) {
            from.counters.drop(DropReason::NoDestination);
        }
        return None;
    };
    match relay_packet(from, to, packet, rtcp, now, epoch) {
        Ok(Some((rtcp_socket, destination, len))) => Some(Route {
            peer: peer_id,
            rtcp_socket,
            rtcp,
            destination,
            len,
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
