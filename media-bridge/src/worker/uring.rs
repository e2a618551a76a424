//! The workers' io_uring back end (Linux): one ring per worker, created on the worker's own thread.
//!
//! - Every socket has one **multishot `recvmsg`** armed (`IORING_RECV_MULTISHOT`): the kernel keeps it
//!   armed and posts one completion per datagram, taking a buffer from the worker's **provided buffer
//!   ring** (`IORING_REGISTER_PBUF_RING`). A buffer starts with the kernel's `io_uring_recvmsg_out` header
//!   and the source address; the datagram follows at a fixed offset, so that it lands at the start of a
//!   64-byte-aligned area of [`PACKET_CAPACITY`] bytes that the relay transforms in place (the SRTP tag has
//!   room behind it).
//! - A relayed datagram leaves with one **`send`** (with a destination address) from the peer's socket,
//!   straight out of the buffer it arrived in; the buffer goes back to the ring when the send completes.
//!   All the sends a pass produced are submitted together by the next `io_uring_enter`, which also waits.
//! - The ring is created with `IORING_SETUP_DEFER_TASKRUN` (and `SINGLE_ISSUER`): the kernel does the
//!   receives in the worker's own `io_uring_enter`, and wakes the worker only when as many completions are
//!   pending as it asked for. An idle worker asks for one (and relays the first datagram at once); after a
//!   pass that relayed packets it asks for more than can come and sleeps out the batch window in the same
//!   call. One system call then carries a whole window's receives and sends, where the `epoll` back end
//!   makes an `epoll_wait`, a `recvmmsg` per ready socket, a `sendmmsg` per destination socket and a
//!   `nanosleep`.
//!
//! - The sockets are **registered files**: each ring has a sparse table of fixed files, a socket takes a
//!   slot when its receive is armed and gives it back when it is disarmed, and its receive and every send
//!   from it name the slot instead of the descriptor, which spares the kernel a file-table lookup and a
//!   reference count (`fget`/`fput`) per request. A slot holds a reference on its socket, so it is
//!   cleared before the socket closes. Without a table (old kernel, low `RLIMIT_NOFILE`) or a free slot,
//!   requests name the descriptor.
//!
//! Requests are told apart by their `user_data`: a receive carries its socket's token and an arming
//! generation (a receive cancelled because its socket changed may still post completions; only the
//! current arming of a token is re-armed when it ends), a send the id of its buffer.

use std::collections::HashMap;
use std::io;
use std::net::{SocketAddr, UdpSocket};
use std::os::fd::AsRawFd;
use std::time::Duration;

use io_uring::{IoUring, cqueue, opcode, squeue, types};

use super::socket_batch::{PACKET_CAPACITY, sockaddr_to_std, std_to_sockaddr};

/// Buffers in a worker's provided buffer ring (a power of two, at most 2^15).
const BUFFERS: u16 = 1024;
/// Submission queue entries.
const SQ_ENTRIES: u32 = 1024;
/// Completion queue entries: room for every buffer's receive and send completions and then some.
const CQ_ENTRIES: u32 = 4 * BUFFERS as u32;
/// The buffer group of the ring.
const BUFFER_GROUP: u16 = 0;
/// Bytes before the datagram in a buffer: the `io_uring_recvmsg_out` header (16) and the source address
/// (a `sockaddr_in6`, 28).
const PREFIX: usize = 16 + NAME_LEN;
/// Room for the source address, IPv4 or IPv6.
const NAME_LEN: usize = std::mem::size_of::<libc::sockaddr_in6>();
/// Where a buffer's datagram area starts inside its slot (64-byte aligned).
const HEAD: usize = 64;
/// One slot of buffer memory: the prefix ends where the datagram area begins.
const SLOT: usize = HEAD + PACKET_CAPACITY;

const KIND_SHIFT: u32 = 62;
const KIND_RECV: u64 = 0;
const KIND_SEND: u64 = 1;
const KIND_CANCEL: u64 = 2;
const TOKEN_BITS: u32 = 48;
const TOKEN_MASK: u64 = (1 << TOKEN_BITS) - 1;
const GENERATION_MASK: u64 = (1 << (KIND_SHIFT - TOKEN_BITS)) - 1;

/// At most this many registered files per ring (the table is allocated whole, and a sparse table larger than
/// `RLIMIT_NOFILE` is refused).
const MAX_FIXED_FILES: u32 = 16384;

/// Completions taken off the queue at a time.
pub(crate) const COMPLETIONS: usize = 64;

/// Buffers of a ring: a send's bookkeeping can be kept per buffer id.
pub(crate) const BUFFER_COUNT: usize = BUFFERS as usize;

/// What one completion was.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Completion {
    /// A datagram; its buffer is the caller's until it is sent or released.
    Received(Received),
    /// A receive ended without a datagram (an error, or a cancelled arming): nothing to do, the ring
    /// re-arms the current arming of a token itself.
    Nothing,
    /// The send from buffer `buffer` completed (`Ok` with the bytes sent, or the error); the buffer is
    /// back in the ring.
    Sent {
        buffer: u16,
        result: Result<usize, i32>,
    },
}

/// A datagram received for the socket of `token`, in buffer `buffer`, `len` bytes from `source` (`None`
/// when the address family is unknown).
#[derive(Debug, Clone, Copy)]
pub(crate) struct Received {
    pub(crate) token: u64,
    pub(crate) buffer: u16,
    pub(crate) len: usize,
    pub(crate) source: Option<SocketAddr>,
}

/// The ring, its buffers, and which socket each token's receive is armed on.
pub(crate) struct UringIo {
    ring: IoUring,
    /// The provided buffer ring (`BUFFERS` entries of `io_uring_buf`), page-aligned, shared with the kernel.
    ring_entries: Mapping,
    /// The buffers themselves, `BUFFERS` slots of `SLOT` bytes.
    slots: Mapping,
    /// Our copy of the buffer ring's tail.
    tail: u16,
    /// The `msghdr` template of the multishot receives (only its name and control lengths are read).
    msghdr: MsgTemplate,
    /// Destination address of each buffer's pending send (read by the kernel at submission).
    destinations: Box<[libc::sockaddr_in6]>,
    /// Token -> its current arming.
    armed: HashMap<u64, Arming>,
    /// The registered file table, if the kernel gave the ring one.
    files: Option<FixedFiles>,
    next_generation: u64,
    /// Sends submitted or queued whose completion is still to come.
    sends_in_flight: usize,
    /// Tokens whose current arming ended and that must be armed again.
    rearm: Vec<u64>,
}

impl UringIo {
    /// A ring for one worker, on the calling thread (the only one that may use it).
    pub(crate) fn new() -> io::Result<Self> {
        let ring = IoUring::builder()
            .setup_single_issuer()
            .setup_defer_taskrun()
            .setup_cqsize(CQ_ENTRIES)
            .setup_submit_all()
            .build(SQ_ENTRIES)?;
        let ring_entries = Mapping::new(usize::from(BUFFERS) * 16)?;
        let slots = Mapping::new(usize::from(BUFFERS) * SLOT)?;
        // SAFETY: msghdr is a plain C struct; all-zero bytes are a valid value (null pointers, zero lengths).
        let mut msghdr: Box<libc::msghdr> = Box::new(unsafe { std::mem::zeroed() });
        msghdr.msg_namelen = NAME_LEN as libc::socklen_t;
        let msghdr = MsgTemplate(msghdr);
        let mut uring = UringIo {
            ring,
            ring_entries,
            slots,
            tail: 0,
            msghdr,
            // SAFETY: sockaddr_in6 is a plain C struct; all-zero bytes are a valid value.
            destinations: vec![unsafe { std::mem::zeroed() }; usize::from(BUFFERS)]
                .into_boxed_slice(),
            armed: HashMap::new(),
            files: None,
            next_generation: 0,
            sends_in_flight: 0,
            rearm: Vec::new(),
        };
        // SAFETY: the entry memory is a page-aligned mapping of BUFFERS entries that lives as long as the
        // ring (the ring is declared first, so it is dropped, and the registration with it, before the
        // mappings are unmapped).
        unsafe {
            uring.ring.submitter().register_buf_ring_with_flags(
                uring.ring_entries.ptr as u64,
                BUFFERS,
                BUFFER_GROUP,
                0,
            )?;
        }
        for buffer in 0..BUFFERS {
            uring.push_buffer(buffer);
        }
        uring.publish_tail();
        uring.files = FixedFiles::register(&uring.ring);
        Ok(uring)
    }

    /// Whether the kernel gave the ring a registered file table (else requests name descriptors).
    pub(crate) fn registered_files(&self) -> bool {
        self.files.is_some()
    }

    /// Watches `socket` as `token`: arms a multishot receive on it (after cancelling the token's previous
    /// arming, whose socket may have changed or closed).
    pub(crate) fn arm(&mut self, socket: &UdpSocket, token: u64) -> io::Result<()> {
        self.disarm(token);
        let generation = self.next_generation & GENERATION_MASK;
        self.next_generation = self.next_generation.wrapping_add(1);
        let fd = socket.as_raw_fd();
        let target = match &mut self.files {
            Some(files) => files.install(&self.ring, fd),
            None => Target::Fd(fd),
        };
        self.armed.insert(
            token,
            Arming {
                generation,
                fd,
                target,
            },
        );
        self.push_recv(target, token, generation)?;
        // Submitted now: a stream's sockets change rarely, and the kernel should not hold a closed one.
        self.ring.submit()?;
        Ok(())
    }

    /// Stops watching `token` (its socket is about to close, or is parked): cancels its receive at once
    /// and clears its registered file slot, so that the kernel lets go of the socket.
    pub(crate) fn disarm(&mut self, token: u64) {
        let Some(arming) = self.armed.remove(&token) else {
            return;
        };
        let cancel = opcode::AsyncCancel::new(recv_data(token, arming.generation))
            .build()
            .user_data(KIND_CANCEL << KIND_SHIFT);
        if self.push(&cancel).is_ok() {
            let _ = self.ring.submit();
        }
        if let (Target::Fixed(slot), Some(files)) = (arming.target, &mut self.files) {
            files.clear(&self.ring, slot, arming.fd);
        }
    }

    /// Queues a send of `len` bytes of buffer `buffer` from `socket` to `destination`; it leaves with the
    /// next [`UringIo::wait`]. On error the buffer is released.
    pub(crate) fn send(
        &mut self,
        socket: &UdpSocket,
        buffer: u16,
        len: usize,
        destination: SocketAddr,
    ) -> io::Result<()> {
        let index = usize::from(buffer);
        let data = self.payload_ptr(buffer);
        let (Some(name), Some(data)) = (self.destinations.get_mut(index), data) else {
            return Err(io::ErrorKind::InvalidInput.into());
        };
        let name_len = std_to_sockaddr(destination, name);
        let fd = socket.as_raw_fd();
        let (data, len) = (data.cast_const(), len.min(PACKET_CAPACITY) as u32);
        let send = match self.files.as_ref().and_then(|files| files.slot_of(fd)) {
            Some(slot) => opcode::Send::new(types::Fixed(slot), data, len),
            None => opcode::Send::new(types::Fd(fd), data, len),
        };
        let entry = send
            .dest_addr((name as *const libc::sockaddr_in6).cast())
            .dest_addr_len(name_len)
            .flags(libc::MSG_DONTWAIT)
            .build()
            .user_data((KIND_SEND << KIND_SHIFT) | u64::from(buffer));
        match self.push(&entry) {
            Ok(()) => {
                self.sends_in_flight += 1;
                Ok(())
            }
            Err(e) => {
                self.release(buffer);
                Err(e)
            }
        }
    }

    /// Submits what is queued and waits until `want` completions are ready or `timeout` passed (a full
    /// completion queue also ends the wait). `None` for `want` asks for more than can come: the call then
    /// sleeps the whole `timeout` and returns with everything that arrived meanwhile received.
    pub(crate) fn wait(&mut self, want: Option<usize>, timeout: Duration) -> io::Result<()> {
        self.publish_tail();
        let want = want.unwrap_or(CQ_ENTRIES as usize).max(1);
        let timespec = types::Timespec::from(timeout);
        let args = types::SubmitArgs::new().timespec(&timespec);
        match self.ring.submitter().submit_with_args(want, &args) {
            Ok(_) => Ok(()),
            Err(e)
                if matches!(
                    e.raw_os_error(),
                    Some(libc::ETIME | libc::EINTR | libc::EBUSY | libc::EAGAIN)
                ) =>
            {
                Ok(())
            }
            Err(e) => Err(e),
        }
    }

    /// Submits what is queued (sends of the last pass) without waiting: before a command closes a socket
    /// that a queued send names.
    pub(crate) fn flush(&mut self) {
        if !self.ring.submission().is_empty() {
            self.publish_tail();
            if let Err(error) = self.ring.submit() {
                tracing::debug!(%error, "io_uring submit failed");
            }
        }
    }

    /// Runs the ring's deferred work now, without waiting: a cancelled receive lets go of its socket only
    /// when its completion runs, which `DEFER_TASKRUN` puts off until the next wait. Called after
    /// [`UringIo::disarm`] and before closing sockets whose ports must be free at once.
    pub(crate) fn settle(&mut self) {
        self.publish_tail();
        let timespec = types::Timespec::new();
        let args = types::SubmitArgs::new().timespec(&timespec);
        // A zero timeout: ETIME when nothing completed is expected; the completions stay queued for
        // the loop either way.
        if let Err(e) = self.ring.submitter().submit_with_args(1, &args)
            && e.raw_os_error() != Some(libc::ETIME)
        {
            tracing::debug!(error = %e, "io_uring settle failed");
        }
    }

    /// Sends queued and not completed: an idle worker waits for their completions and one more.
    pub(crate) fn sends_in_flight(&self) -> usize {
        self.sends_in_flight
    }

    /// Takes up to `out.len()` completions off the queue, decoded; returns how many. Completions of
    /// receives that ended are noted for [`UringIo::rearm_ended`].
    pub(crate) fn complete(&mut self, out: &mut [Completion; COMPLETIONS]) -> usize {
        let mut raw = [(0u64, 0i32, 0u32); COMPLETIONS];
        let mut taken = 0;
        {
            let mut cq = self.ring.completion();
            for (slot, cqe) in raw.iter_mut().zip(&mut cq) {
                *slot = (cqe.user_data(), cqe.result(), cqe.flags());
                taken += 1;
            }
        }
        let mut n = 0;
        for &(data, result, flags) in raw.iter().take(taken) {
            let completion = self.decode(data, result, flags);
            if let Some(slot) = out.get_mut(n) {
                *slot = completion;
                n += 1;
            }
        }
        n
    }

    fn decode(&mut self, data: u64, result: i32, flags: u32) -> Completion {
        match data >> KIND_SHIFT {
            KIND_RECV => {
                let token = data & TOKEN_MASK;
                let generation = (data >> TOKEN_BITS) & GENERATION_MASK;
                if !cqueue::more(flags)
                    && self.armed.get(&token).map(|a| a.generation) == Some(generation)
                {
                    // The current arming ended (no buffer left, an error): armed again after this pass.
                    self.rearm.push(token);
                }
                let Some(buffer) = cqueue::buffer_select(flags) else {
                    return Completion::Nothing;
                };
                if buffer >= BUFFERS {
                    return Completion::Nothing;
                }
                let Ok(used) = usize::try_from(result) else {
                    self.release(buffer);
                    return Completion::Nothing;
                };
                match self.read_header(buffer, used) {
                    Some((len, source)) => Completion::Received(Received {
                        token,
                        buffer,
                        len,
                        source,
                    }),
                    None => {
                        self.release(buffer);
                        Completion::Nothing
                    }
                }
            }
            KIND_SEND => {
                let buffer = (data & 0xffff) as u16;
                self.sends_in_flight = self.sends_in_flight.saturating_sub(1);
                self.release(buffer);
                Completion::Sent {
                    buffer,
                    result: usize::try_from(result).map_err(|_| -result),
                }
            }
            _ => Completion::Nothing,
        }
    }

    /// Arms again the receives whose current arming ended, on the socket `socket_of` finds for the token.
    pub(crate) fn rearm_ended(&mut self, mut socket_of: impl FnMut(u64) -> Option<i32>) {
        while let Some(token) = self.rearm.pop() {
            let Some(arming) = self.armed.get_mut(&token) else {
                continue;
            };
            // Only while the token still stands for the same open socket.
            if socket_of(token) != Some(arming.fd) {
                continue;
            }
            let next = self.next_generation & GENERATION_MASK;
            self.next_generation = self.next_generation.wrapping_add(1);
            arming.generation = next;
            let target = arming.target;
            if let Err(error) = self.push_recv(target, token, next) {
                tracing::warn!(%error, "cannot re-arm a receive");
            }
        }
    }

    /// The datagram area of buffer `buffer`, which the caller holds (between its receive and its send or
    /// release).
    pub(crate) fn datagram(&mut self, buffer: u16) -> Option<&mut [u8; PACKET_CAPACITY]> {
        let ptr = self.payload_ptr(buffer)?;
        // SAFETY: `ptr` points at PACKET_CAPACITY bytes inside the slot mapping; the buffer is out of the
        // ring (its receive completed, it is not released yet), so the kernel does not write it, and the
        // `&mut self` borrow keeps a second reference from being made through this ring.
        Some(unsafe { &mut *ptr.cast::<[u8; PACKET_CAPACITY]>() })
    }

    /// Gives buffer `buffer` back to the kernel (visible to it at the next wait).
    pub(crate) fn release(&mut self, buffer: u16) {
        self.push_buffer(buffer);
    }

    fn payload_ptr(&self, buffer: u16) -> Option<*mut u8> {
        if buffer >= BUFFERS {
            return None;
        }
        // SAFETY: buffer < BUFFERS, so the offset stays inside the slot mapping.
        Some(unsafe { self.slots.ptr.add(usize::from(buffer) * SLOT + HEAD) })
    }

    /// Reads the `io_uring_recvmsg_out` header and the source address before a received datagram.
    fn read_header(&self, buffer: u16, used: usize) -> Option<(usize, Option<SocketAddr>)> {
        if used < PREFIX {
            return None;
        }
        let payload = self.payload_ptr(buffer)?;
        // SAFETY: the PREFIX bytes before the datagram area belong to the same slot (HEAD >= PREFIX), the
        // kernel wrote them before posting the completion, and the buffer is out of the ring.
        let (header, name) = unsafe {
            let start = payload.sub(PREFIX);
            let header = start.cast::<[u32; 4]>().read_unaligned();
            let mut name: libc::sockaddr_storage = std::mem::zeroed();
            std::ptr::copy_nonoverlapping(
                start.add(16),
                (&mut name as *mut libc::sockaddr_storage).cast::<u8>(),
                NAME_LEN,
            );
            (header, name)
        };
        let [_namelen, _controllen, payload_len, _flags] = header;
        // A datagram larger than the buffer is truncated (MSG_TRUNC in the flags); it then fails parsing or
        // authentication downstream, like on the epoll path.
        let len = (payload_len as usize)
            .min(used - PREFIX)
            .min(PACKET_CAPACITY);
        Some((len, sockaddr_to_std(&name)))
    }

    fn push_recv(&mut self, target: Target, token: u64, generation: u64) -> io::Result<()> {
        let msghdr: *const libc::msghdr = &*self.msghdr.0;
        let recv = match target {
            Target::Fixed(slot) => {
                opcode::RecvMsgMulti::new(types::Fixed(slot), msghdr, BUFFER_GROUP)
            }
            Target::Fd(fd) => opcode::RecvMsgMulti::new(types::Fd(fd), msghdr, BUFFER_GROUP),
        };
        let entry = recv.build().user_data(recv_data(token, generation));
        self.push(&entry)
    }

    /// Queues one entry, submitting what is queued first when the queue is full.
    fn push(&mut self, entry: &squeue::Entry) -> io::Result<()> {
        for _ in 0..2 {
            // SAFETY: every pointer in the entries this ring builds (the msghdr template, a destination
            // address, a buffer held until its send completes) outlives the request.
            if unsafe { self.ring.submission().push(entry) }.is_ok() {
                return Ok(());
            }
            self.ring.submit()?;
        }
        Err(io::ErrorKind::WouldBlock.into())
    }

    fn push_buffer(&mut self, buffer: u16) {
        let Some(payload) = self.payload_ptr(buffer) else {
            return;
        };
        let index = usize::from(self.tail & (BUFFERS - 1));
        // SAFETY: index < BUFFERS entries of 16 bytes in the page-aligned entry mapping; the kernel reads
        // entries only up to the published tail, and this one is past it until `publish_tail`.
        unsafe {
            let entry = &mut *self
                .ring_entries
                .ptr
                .cast::<types::BufRingEntry>()
                .add(index);
            entry.set_addr(payload.sub(PREFIX) as u64);
            entry.set_len((PREFIX + PACKET_CAPACITY) as u32);
            entry.set_bid(buffer);
        }
        self.tail = self.tail.wrapping_add(1);
    }

    /// Makes the buffers pushed so far visible to the kernel.
    fn publish_tail(&mut self) {
        let base = self.ring_entries.ptr.cast::<types::BufRingEntry>();
        // SAFETY: the tail field lives in the first entry of the mapping; the kernel reads it with acquire
        // semantics, so a release store publishes the entries written before it.
        unsafe {
            let tail = types::BufRingEntry::tail(base).cast_mut();
            std::sync::atomic::AtomicU16::from_ptr(tail)
                .store(self.tail, std::sync::atomic::Ordering::Release);
        }
    }
}

fn recv_data(token: u64, generation: u64) -> u64 {
    (KIND_RECV << KIND_SHIFT)
        | ((generation & GENERATION_MASK) << TOKEN_BITS)
        | (token & TOKEN_MASK)
}

/// The token a receive reports for the worker's wake-up socket.
pub(crate) const WAKE: u64 = TOKEN_MASK;

/// Whether `token` fits the ring's `user_data` layout (stream ids stay far below 2^47).
pub(crate) fn token_fits(token: u64) -> bool {
    token < TOKEN_MASK
}

/// A token's current receive: its generation, its socket's descriptor and how its requests name the socket.
#[derive(Clone, Copy)]
struct Arming {
    generation: u64,
    fd: i32,
    target: Target,
}

/// How a request names its socket.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Target {
    /// Its slot in the ring's registered file table.
    Fixed(u32),
    /// Its file descriptor (no table, or the table is full).
    Fd(i32),
}

/// A ring's sparse table of registered files: the free slots, and the slot of each registered descriptor.
struct FixedFiles {
    free: Vec<u32>,
    /// Indexed by descriptor: a send finds its socket's slot without hashing.
    slot_by_fd: Vec<Option<u32>>,
}

impl FixedFiles {
    /// Registers a sparse table of `min(RLIMIT_NOFILE, MAX_FIXED_FILES)` slots; `None` when the kernel
    /// refuses (too old, or the limit is too low), and the ring then names descriptors.
    fn register(ring: &IoUring) -> Option<Self> {
        let capacity = open_files_limit().min(MAX_FIXED_FILES);
        if capacity == 0 {
            return None;
        }
        if let Err(error) = ring.submitter().register_files_sparse(capacity) {
            tracing::debug!(%error, capacity, "no registered files for the media worker's ring");
            return None;
        }
        Some(FixedFiles {
            // Popped from the back: slot 0 first.
            free: (0..capacity).rev().collect(),
            slot_by_fd: Vec::new(),
        })
    }

    /// Puts `fd` in a free slot; the descriptor itself when none is free or the kernel refuses.
    fn install(&mut self, ring: &IoUring, fd: i32) -> Target {
        let (Ok(index), Some(slot)) = (usize::try_from(fd), self.free.pop()) else {
            return Target::Fd(fd);
        };
        if let Err(error) = ring.submitter().register_files_update(slot, &[fd]) {
            tracing::debug!(%error, slot, "cannot register a socket with the ring");
            self.free.push(slot);
            return Target::Fd(fd);
        }
        if self.slot_by_fd.len() <= index {
            self.slot_by_fd.resize(index + 1, None);
        }
        if let Some(entry) = self.slot_by_fd.get_mut(index) {
            *entry = Some(slot);
        }
        Target::Fixed(slot)
    }

    /// Empties `slot` (which holds `fd`): the table lets go of its reference on the socket.
    fn clear(&mut self, ring: &IoUring, slot: u32, fd: i32) {
        if let Err(error) = ring.submitter().register_files_update(slot, &[-1]) {
            // The slot keeps the socket (and its port) until it is reused.
            tracing::warn!(%error, slot, "cannot clear a registered socket");
        }
        if let Some(entry) = usize::try_from(fd)
            .ok()
            .and_then(|index| self.slot_by_fd.get_mut(index))
            && *entry == Some(slot)
        {
            *entry = None;
        }
        self.free.push(slot);
    }

    /// The slot `fd` is registered in, if it is.
    fn slot_of(&self, fd: i32) -> Option<u32> {
        let index = usize::try_from(fd).ok()?;
        self.slot_by_fd.get(index).copied().flatten()
    }
}

/// The soft `RLIMIT_NOFILE` of the process (0 if it cannot be read).
fn open_files_limit() -> u32 {
    let mut limit = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit writes one rlimit into the valid, exclusively borrowed struct it is given.
    if unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) } != 0 {
        return 0;
    }
    u32::try_from(limit.rlim_cur).unwrap_or(u32::MAX)
}

/// The `msghdr` the multishot receives are armed with: only its name length is set, its pointers are null.
struct MsgTemplate(Box<libc::msghdr>);

// SAFETY: the template's pointers are all null (nothing is shared through them); it is owned data.
unsafe impl Send for MsgTemplate {}

/// An anonymous, private, page-aligned memory mapping, unmapped on drop.
struct Mapping {
    ptr: *mut u8,
    len: usize,
}

// SAFETY: a `Mapping` owns its memory exclusively (nothing else holds the pointer but the kernel, through
// the ring that owns it too); moving it to another thread moves that ownership.
unsafe impl Send for Mapping {}

impl Mapping {
    fn new(len: usize) -> io::Result<Self> {
        // SAFETY: a fresh anonymous mapping; no existing memory is touched.
        let ptr = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                len,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_PRIVATE | libc::MAP_ANONYMOUS,
                -1,
                0,
            )
        };
        if ptr == libc::MAP_FAILED {
            return Err(io::Error::last_os_error());
        }
        Ok(Mapping {
            ptr: ptr.cast(),
            len,
        })
    }
}

impl Drop for Mapping {
    fn drop(&mut self) {
        // SAFETY: the mapping was made by `new` with this length and nothing refers to it any more (the
        // ring that used it is dropped first).
        unsafe {
            libc::munmap(self.ptr.cast(), self.len);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The ring's free slots, or `None` where this kernel gives no ring or no registered file table.
    fn free_slots(ring: &UringIo) -> Option<usize> {
        ring.files.as_ref().map(|files| files.free.len())
    }

    #[test]
    fn an_armed_socket_takes_a_registered_slot_and_a_disarmed_one_gives_it_and_its_port_back() {
        let Ok(mut ring) = UringIo::new() else {
            return; // No io_uring on this kernel: the workers use epoll.
        };
        let Some(capacity) = free_slots(&ring) else {
            return; // No registered files: requests name descriptors.
        };
        let socket = UdpSocket::bind("127.0.0.1:0").unwrap();
        let address = socket.local_addr().unwrap();
        let fd = socket.as_raw_fd();

        ring.arm(&socket, 7).unwrap();
        let slot = ring.files.as_ref().and_then(|files| files.slot_of(fd));
        assert!(slot.is_some());
        assert_eq!(free_slots(&ring), Some(capacity - 1));

        ring.disarm(7);
        ring.settle();
        assert_eq!(
            ring.files.as_ref().and_then(|files| files.slot_of(fd)),
            None
        );
        assert_eq!(free_slots(&ring), Some(capacity));
        drop(socket);
        UdpSocket::bind(address).expect("the port of a disarmed, closed socket is free");
    }

    #[test]
    fn a_socket_is_named_by_its_descriptor_when_no_slot_is_free() {
        let Ok(ring) = UringIo::new() else {
            return;
        };
        let mut files = FixedFiles {
            free: Vec::new(),
            slot_by_fd: Vec::new(),
        };
        assert_eq!(files.install(&ring.ring, 5), Target::Fd(5));
        assert_eq!(files.slot_of(5), None);
    }
}
