//! Decrypted call recording: workers hand copies of the plain RTP/RTCP they relay to a writer thread, which
//! appends them to one classic libpcap file per call (`LINKTYPE_RAW`: each record is a synthetic IPv4 or IPv6
//! header, a UDP header and the packet).
//!
//! The queue is bounded by a counter shared with the writer: when it is full the worker drops the copy and
//! counts it, so a slow disk never slows forwarding. Nothing here runs for calls that are not recorded.

use std::collections::HashMap;
use std::fs::{File, OpenOptions};
use std::io::{self, BufWriter, Write};
use std::net::{IpAddr, SocketAddr};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc::{Receiver, RecvTimeoutError, Sender};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// `LINKTYPE_RAW`: records start with an IPv4 or IPv6 header.
pub(crate) const LINKTYPE_RAW: u32 = 101;

/// How long the writer waits for more packets before flushing its files.
const FLUSH_IDLE: Duration = Duration::from_millis(200);

/// What reaches the writer thread.
pub(crate) enum RecorderMessage {
    /// A stream of the call started recording (files are reference-counted by stream).
    Open(Arc<str>),
    /// A stream of the call stopped recording; the file is closed when the last one does.
    Close(Arc<str>),
    /// One packet to append.
    Packet(RecordedPacket),
    /// Flush every file, then answer.
    Flush(Sender<()>),
}

/// A copy of one relayed packet, in the clear.
pub(crate) struct RecordedPacket {
    pub(crate) call: Arc<str>,
    pub(crate) at: SystemTime,
    pub(crate) source: SocketAddr,
    pub(crate) destination: SocketAddr,
    pub(crate) data: Vec<u8>,
}

/// The workers' side of the recorder: cheap to clone.
#[derive(Clone)]
pub(crate) struct RecorderHandle {
    sender: Sender<RecorderMessage>,
    queued: Arc<AtomicUsize>,
    capacity: usize,
}

impl RecorderHandle {
    /// Queues a control message (never dropped; they are rare).
    pub(crate) fn control(&self, message: RecorderMessage) {
        // The writer only stops when the relay shuts down; then nothing is lost that matters.
        let _ = self.sender.send(message);
    }

    /// Queues a packet copy unless the queue is full; `false` when it was dropped.
    pub(crate) fn packet(&self, packet: RecordedPacket) -> bool {
        if self.queued.fetch_add(1, Ordering::AcqRel) >= self.capacity {
            self.queued.fetch_sub(1, Ordering::AcqRel);
            return false;
        }
        if self.sender.send(RecorderMessage::Packet(packet)).is_err() {
            self.queued.fetch_sub(1, Ordering::AcqRel);
            return false;
        }
        true
    }
}

/// Makes the handle and the writer loop for `directory` with a queue of `capacity` packets.
pub(crate) fn recorder(directory: PathBuf, capacity: usize) -> (RecorderHandle, RecorderWriter) {
    let (sender, receiver) = std::sync::mpsc::channel();
    let queued = Arc::new(AtomicUsize::new(0));
    let handle = RecorderHandle {
        sender,
        queued: Arc::clone(&queued),
        capacity: capacity.max(1),
    };
    let writer = RecorderWriter {
        directory,
        receiver,
        queued,
        files: HashMap::new(),
    };
    (handle, writer)
}

/// The path of a call's recording in `directory`: the Call-ID with every byte outside `[A-Za-z0-9._@-]`
/// replaced by `_`, then `.pcap`.
pub(crate) fn recording_path(directory: &Path, call_id: &str) -> PathBuf {
    let name: String = call_id
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '@' | '-') {
                c
            } else {
                '_'
            }
        })
        .collect();
    let name = if name.starts_with('.') || name.is_empty() {
        format!("_{name}")
    } else {
        name
    };
    directory.join(format!("{name}.pcap"))
}

struct OpenFile {
    file: Option<BufWriter<File>>,
    streams: usize,
}

/// The writer thread's state.
pub(crate) struct RecorderWriter {
    directory: PathBuf,
    receiver: Receiver<RecorderMessage>,
    queued: Arc<AtomicUsize>,
    files: HashMap<Arc<str>, OpenFile>,
}

impl RecorderWriter {
    /// The thread's loop: returns when every handle is gone.
    pub(crate) fn run(mut self) {
        loop {
            match self.receiver.recv_timeout(FLUSH_IDLE) {
                Ok(message) => self.handle(message),
                Err(RecvTimeoutError::Timeout) => self.flush_all(),
                Err(RecvTimeoutError::Disconnected) => break,
            }
        }
        self.flush_all();
    }

    fn handle(&mut self, message: RecorderMessage) {
        match message {
            RecorderMessage::Open(call) => {
                let entry = self.files.entry(call).or_insert(OpenFile {
                    file: None,
                    streams: 0,
                });
                entry.streams += 1;
            }
            RecorderMessage::Close(call) => {
                if let Some(entry) = self.files.get_mut(&call) {
                    entry.streams = entry.streams.saturating_sub(1);
                    if entry.streams == 0
                        && let Some(mut open) = self.files.remove(&call)
                        && let Some(file) = &mut open.file
                        && let Err(error) = file.flush()
                    {
                        tracing::warn!(call_id = %call, %error, "cannot write the recording");
                    }
                }
            }
            RecorderMessage::Packet(packet) => {
                self.queued.fetch_sub(1, Ordering::AcqRel);
                self.write(&packet);
            }
            RecorderMessage::Flush(done) => {
                self.flush_all();
                let _ = done.send(());
            }
        }
    }

    fn write(&mut self, packet: &RecordedPacket) {
        let directory = &self.directory;
        let Some(entry) = self.files.get_mut(&packet.call) else {
            // The stream stopped recording while this copy was queued.
            return;
        };
        if entry.file.is_none() {
            match open(&recording_path(directory, &packet.call)) {
                Ok(file) => entry.file = Some(file),
                Err(error) => {
                    tracing::warn!(call_id = %packet.call, %error, "cannot open the recording");
                    return;
                }
            }
        }
        if let Some(file) = &mut entry.file
            && let Err(error) = write_record(file, packet)
        {
            tracing::warn!(call_id = %packet.call, %error, "cannot write the recording");
            entry.file = None;
        }
    }

    fn flush_all(&mut self) {
        for file in self.files.values_mut().filter_map(|f| f.file.as_mut()) {
            let _ = file.flush();
        }
    }
}

/// Opens a recording for appending, writing the pcap global header if the file is new or empty.
fn open(path: &Path) -> io::Result<BufWriter<File>> {
    let file = OpenOptions::new().create(true).append(true).open(path)?;
    let fresh = file.metadata()?.len() == 0;
    let mut out = BufWriter::new(file);
    if fresh {
        out.write_all(&global_header())?;
    }
    Ok(out)
}

/// The classic libpcap file header: microsecond timestamps, version 2.4, `LINKTYPE_RAW`.
pub(crate) fn global_header() -> [u8; 24] {
    let mut h = [0u8; 24];
    h[0..4].copy_from_slice(&0xa1b2_c3d4u32.to_le_bytes());
    h[4..6].copy_from_slice(&2u16.to_le_bytes());
    h[6..8].copy_from_slice(&4u16.to_le_bytes());
    // thiszone and sigfigs stay 0.
    h[16..20].copy_from_slice(&65_535u32.to_le_bytes());
    h[20..24].copy_from_slice(&LINKTYPE_RAW.to_le_bytes());
    h
}

fn write_record(out: &mut impl Write, packet: &RecordedPacket) -> io::Result<()> {
    let frame = ip_udp_frame(packet.source, packet.destination, &packet.data);
    let since = packet.at.duration_since(UNIX_EPOCH).unwrap_or_default();
    let len = u32::try_from(frame.len()).unwrap_or(u32::MAX);
    let mut header = [0u8; 16];
    header[0..4].copy_from_slice(&(since.as_secs() as u32).to_le_bytes());
    header[4..8].copy_from_slice(&since.subsec_micros().to_le_bytes());
    header[8..12].copy_from_slice(&len.to_le_bytes());
    header[12..16].copy_from_slice(&len.to_le_bytes());
    out.write_all(&header)?;
    out.write_all(&frame)
}

/// A synthetic IP + UDP datagram carrying `payload` from `source` to `destination`: IPv4 when both are
/// IPv4, else IPv6 (an IPv4 address mapped).
pub(crate) fn ip_udp_frame(source: SocketAddr, destination: SocketAddr, payload: &[u8]) -> Vec<u8> {
    let udp_len = payload.len() + 8;
    match (source.ip(), destination.ip()) {
        (IpAddr::V4(s), IpAddr::V4(d)) => {
            let total = 20 + udp_len;
            let mut f = Vec::with_capacity(total);
            f.extend_from_slice(&[0x45, 0]);
            f.extend_from_slice(&(total.min(usize::from(u16::MAX)) as u16).to_be_bytes());
            f.extend_from_slice(&[0, 0, 0x40, 0, 64, 17, 0, 0]); // id, DF, TTL, UDP, checksum
            f.extend_from_slice(&s.octets());
            f.extend_from_slice(&d.octets());
            let checksum = !fold(sum_words(f.get(..20).unwrap_or(&[])));
            if let Some(c) = f.get_mut(10..12) {
                c.copy_from_slice(&checksum.to_be_bytes());
            }
            // A zero UDP checksum means "none" over IPv4.
            push_udp(&mut f, source.port(), destination.port(), udp_len, 0);
            f.extend_from_slice(payload);
            f
        }
        (s, d) => {
            let s = v6(s).octets();
            let d = v6(d).octets();
            let mut f = Vec::with_capacity(40 + udp_len);
            f.extend_from_slice(&[0x60, 0, 0, 0]);
            f.extend_from_slice(&(udp_len.min(usize::from(u16::MAX)) as u16).to_be_bytes());
            f.extend_from_slice(&[17, 64]);
            f.extend_from_slice(&s);
            f.extend_from_slice(&d);
            // IPv6 requires the UDP checksum: pseudo-header, UDP header, payload.
            let mut sum = sum_words(&s) + sum_words(&d) + udp_len as u64 + 17;
            sum += u64::from(source.port()) + u64::from(destination.port()) + udp_len as u64;
            sum += sum_words(payload);
            let checksum = match !fold(sum) {
                0 => 0xffff,
                c => c,
            };
            push_udp(&mut f, source.port(), destination.port(), udp_len, checksum);
            f.extend_from_slice(payload);
            f
        }
    }
}

fn v6(ip: IpAddr) -> std::net::Ipv6Addr {
    match ip {
        IpAddr::V4(v4) => v4.to_ipv6_mapped(),
        IpAddr::V6(v6) => v6,
    }
}

fn push_udp(f: &mut Vec<u8>, source: u16, destination: u16, len: usize, checksum: u16) {
    f.extend_from_slice(&source.to_be_bytes());
    f.extend_from_slice(&destination.to_be_bytes());
    f.extend_from_slice(&(len.min(usize::from(u16::MAX)) as u16).to_be_bytes());
    f.extend_from_slice(&checksum.to_be_bytes());
}

/// The one's-complement sum of big-endian 16-bit words (odd trailing byte padded with zero), unfolded.
fn sum_words(bytes: &[u8]) -> u64 {
    bytes
        .chunks(2)
        .map(|c| u64::from(u16::from_be_bytes([c[0], c.get(1).copied().unwrap_or(0)])))
        .sum()
}

fn fold(mut sum: u64) -> u16 {
    while sum > 0xffff {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    sum as u16
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ipv4_frames_have_a_valid_header_checksum_and_the_payload() {
        let f = ip_udp_frame(
            "192.0.2.1:4000".parse().unwrap(),
            "198.51.100.2:30000".parse().unwrap(),
            b"hello",
        );
        assert_eq!(f.len(), 20 + 8 + 5);
        assert_eq!(fold(sum_words(&f[..20])), 0xffff, "checksum verifies");
        assert_eq!(u16::from_be_bytes([f[2], f[3]]), 33);
        assert_eq!(u16::from_be_bytes([f[20], f[21]]), 4000);
        assert_eq!(u16::from_be_bytes([f[22], f[23]]), 30000);
        assert_eq!(&f[28..], b"hello");
    }

    #[test]
    fn ipv6_frames_carry_a_udp_checksum_that_verifies() {
        let (s, d): (SocketAddr, SocketAddr) = (
            "[2001:db8::1]:4000".parse().unwrap(),
            "192.0.2.9:5000".parse().unwrap(),
        );
        let f = ip_udp_frame(s, d, b"odd");
        assert_eq!(f[0] >> 4, 6);
        let udp = &f[40..];
        let mut sum = sum_words(&f[8..24]) + sum_words(&f[24..40]) + udp.len() as u64 + 17;
        sum += sum_words(udp);
        assert_eq!(fold(sum), 0xffff);
    }

    #[test]
    fn call_ids_become_safe_file_names() {
        let dir = Path::new("/rec");
        assert_eq!(
            recording_path(dir, "a84b/../x y@host"),
            Path::new("/rec/a84b_.._x_y@host.pcap")
        );
        assert_eq!(recording_path(dir, ".."), Path::new("/rec/_...pcap"));
    }

    #[test]
    fn a_full_queue_drops_and_counts_nothing_twice() {
        let (handle, writer) = recorder(PathBuf::from("/nonexistent"), 2);
        let packet = || RecordedPacket {
            call: Arc::from("c"),
            at: SystemTime::now(),
            source: "127.0.0.1:1".parse().unwrap(),
            destination: "127.0.0.1:2".parse().unwrap(),
            data: vec![0; 4],
        };
        assert!(handle.packet(packet()));
        assert!(handle.packet(packet()));
        assert!(!handle.packet(packet()), "the third exceeds the capacity");
        drop(writer);
        assert!(!handle.packet(packet()), "no writer, no queue");
    }
}
