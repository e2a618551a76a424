//! Batched, nonblocking datagram I/O for the workers. All of the crate's `unsafe` lives here: on Linux,
//! `recvmmsg(2)` reads up to [`BATCH`] datagrams per system call, `sendmmsg(2)` sends what a batch produced
//! for one socket in one call, and `epoll(7)` waits for readiness (its cost follows the sockets that are
//! ready, not the thousands a worker watches); elsewhere a portable fallback uses `recv_from`/`send_to` and
//! a short sleep.

use std::io;
use std::net::{SocketAddr, UdpSocket};
use std::time::Duration;

/// Room for one datagram: an Ethernet MTU plus the SRTP tag and SRTCP trailer added in place.
pub(crate) const PACKET_CAPACITY: usize = 2048;

/// Datagrams read per batch.
pub(crate) const BATCH: usize = 32;

/// A datagram of the last batch to send: buffer `index`, transformed in place to `len` bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Outgoing {
    /// Which buffer of the batch.
    pub(crate) index: usize,
    /// Its length now.
    pub(crate) len: usize,
    /// Where it goes.
    pub(crate) destination: SocketAddr,
}

impl Outgoing {
    /// A placeholder for fixed-size arrays.
    pub(crate) const NONE: Outgoing = Outgoing {
        index: 0,
        len: 0,
        destination: SocketAddr::V4(std::net::SocketAddrV4::new(
            std::net::Ipv4Addr::UNSPECIFIED,
            0,
        )),
    };
}

/// Reusable receive buffers: allocated once per worker, never per packet.
pub(crate) struct PacketBatch {
    buffers: Box<[[u8; PACKET_CAPACITY]; BATCH]>,
    lens: [usize; BATCH],
    sources: [Option<SocketAddr>; BATCH],
}

impl PacketBatch {
    pub(crate) fn new() -> Self {
        PacketBatch {
            buffers: Box::new([[0; PACKET_CAPACITY]; BATCH]),
            lens: [0; BATCH],
            sources: [None; BATCH],
        }
    }

    /// Reads what `socket` has queued, up to [`BATCH`] datagrams. `Ok(0)` when nothing is queued.
    pub(crate) fn recv(&mut self, socket: &UdpSocket) -> io::Result<usize> {
        let result = sys::recv_batch(socket, &mut self.buffers, &mut self.lens, &mut self.sources);
        match result {
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => Ok(0),
            other => other,
        }
    }

    /// Sends `items` (buffers of the last batch, in order) from `socket`, as many as possible in one
    /// system call; returns how many left, counted from the first. An error means the first one failed.
    pub(crate) fn send(&self, socket: &UdpSocket, items: &[Outgoing]) -> io::Result<usize> {
        sys::send_batch(socket, &self.buffers, items)
    }

    /// Datagram `i` of the last batch: its buffer (with spare room after `len`), length and source.
    pub(crate) fn get_mut(
        &mut self,
        i: usize,
    ) -> Option<(&mut [u8; PACKET_CAPACITY], usize, SocketAddr)> {
        let len = *self.lens.get(i)?;
        let source = (*self.sources.get(i)?)?;
        let buffer = self.buffers.get_mut(i)?;
        Some((buffer, len, source))
    }
}

/// Waits until one of a set of sockets is readable. Each socket is registered once, with a token of the
/// caller's choosing that comes back when it is readable; a socket leaves the set when it is closed (the
/// workers never duplicate socket descriptors), so streams coming and going cost one registration each,
/// never a rebuild of the whole set.
pub(crate) struct Poller {
    inner: sys::PollSet,
}

impl Poller {
    pub(crate) fn new() -> Self {
        Poller {
            inner: sys::PollSet::new(),
        }
    }

    /// Watches `socket`, reporting it as `token`; registering a watched socket again updates its token.
    pub(crate) fn add(&mut self, socket: &UdpSocket, token: u64) -> io::Result<()> {
        self.inner.add(socket, token)
    }

    /// Stops reporting `token`, whose socket is about to close (on Linux, closing it is enough; the
    /// portable fallback keeps a list).
    pub(crate) fn forget(&mut self, token: u64) {
        self.inner.forget(token);
    }

    /// Stops watching `socket` (reported as `token`), which stays open.
    pub(crate) fn remove(&mut self, socket: &UdpSocket, token: u64) {
        self.inner.remove(socket, token);
    }

    /// Blocks up to `timeout`; returns how many sockets are readable (an estimate on the fallback).
    pub(crate) fn wait(&mut self, timeout: Duration) -> io::Result<usize> {
        self.inner.wait(timeout)
    }

    /// Whether the socket registered as `token` was readable after the last wait.
    #[cfg(test)]
    pub(crate) fn is_ready(&self, token: u64) -> bool {
        self.ready().contains(&token)
    }

    /// The tokens of the sockets readable after the last wait, at most [`MAX_READY`] of them; the others
    /// stay readable and come with the next wait.
    pub(crate) fn ready(&self) -> &[u64] {
        self.inner.ready()
    }
}

/// The socket address the kernel wrote into `storage`, if its family is IPv4 or IPv6.
#[cfg(target_os = "linux")]
pub(crate) fn sockaddr_to_std(storage: &libc::sockaddr_storage) -> Option<SocketAddr> {
    sys::socket_addr(storage)
}

/// Writes `address` into `out` for the kernel; returns its length.
#[cfg(target_os = "linux")]
pub(crate) fn std_to_sockaddr(
    address: SocketAddr,
    out: &mut libc::sockaddr_in6,
) -> libc::socklen_t {
    sys::write_socket_addr(address, out)
}

/// Most sockets reported readable by one wait.
pub(crate) const MAX_READY: usize = 256;

#[cfg(target_os = "linux")]
mod sys {
    use std::io;
    use std::mem::{size_of, zeroed};
    use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr, SocketAddrV4, SocketAddrV6, UdpSocket};
    use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
    use std::time::Duration;

    use super::{BATCH, MAX_READY, Outgoing, PACKET_CAPACITY};

    pub(super) fn recv_batch(
        socket: &UdpSocket,
        buffers: &mut [[u8; PACKET_CAPACITY]; BATCH],
        lens: &mut [usize; BATCH],
        sources: &mut [Option<SocketAddr>; BATCH],
    ) -> io::Result<usize> {
        // SAFETY: iovec, sockaddr_storage and mmsghdr are plain C structs for which all-zero bytes are a
        // valid value (null pointers, zero lengths).
        let mut iovecs: [libc::iovec; BATCH] = unsafe { zeroed() };
        // SAFETY: as above.
        let mut names: [libc::sockaddr_storage; BATCH] = unsafe { zeroed() };
        // SAFETY: as above.
        let mut headers: [libc::mmsghdr; BATCH] = unsafe { zeroed() };
        for ((iov, buf), (name, header)) in iovecs
            .iter_mut()
            .zip(buffers.iter_mut())
            .zip(names.iter_mut().zip(headers.iter_mut()))
        {
            iov.iov_base = buf.as_mut_ptr().cast();
            iov.iov_len = PACKET_CAPACITY;
            header.msg_hdr.msg_name = (name as *mut libc::sockaddr_storage).cast();
            header.msg_hdr.msg_namelen = size_of::<libc::sockaddr_storage>() as libc::socklen_t;
            header.msg_hdr.msg_iov = iov;
            header.msg_hdr.msg_iovlen = 1;
        }
        // SAFETY: every header points at one live iovec (covering one whole buffer of PACKET_CAPACITY
        // bytes) and one live sockaddr_storage with its true size; all of them outlive the call, which
        // writes at most BATCH entries and never more than the stated lengths. MSG_DONTWAIT makes it
        // return at once; a null timeout means none.
        let n = unsafe {
            libc::recvmmsg(
                socket.as_raw_fd(),
                headers.as_mut_ptr(),
                BATCH as libc::c_uint,
                libc::MSG_DONTWAIT,
                std::ptr::null_mut(),
            )
        };
        let n = usize::try_from(n).map_err(|_| io::Error::last_os_error())?;
        for i in 0..n.min(BATCH) {
            let (Some(header), Some(name)) = (headers.get(i), names.get(i)) else {
                break;
            };
            if let Some(len) = lens.get_mut(i) {
                // A datagram larger than the buffer is truncated (MSG_TRUNC); it then fails parsing or
                // authentication downstream, which is the right outcome for an oversized packet.
                *len = (header.msg_len as usize).min(PACKET_CAPACITY);
            }
            if let Some(source) = sources.get_mut(i) {
                *source = socket_addr(name);
            }
        }
        Ok(n.min(BATCH))
    }

    pub(super) fn send_batch(
        socket: &UdpSocket,
        buffers: &[[u8; PACKET_CAPACITY]; BATCH],
        items: &[Outgoing],
    ) -> io::Result<usize> {
        // SAFETY: iovec, sockaddr_in6 and mmsghdr are plain C structs for which all-zero bytes are a valid
        // value (null pointers, zero lengths).
        let mut iovecs: [libc::iovec; BATCH] = unsafe { zeroed() };
        // SAFETY: as above. sockaddr_in6 is large and aligned enough for a sockaddr_in too.
        let mut names: [libc::sockaddr_in6; BATCH] = unsafe { zeroed() };
        // SAFETY: as above.
        let mut headers: [libc::mmsghdr; BATCH] = unsafe { zeroed() };
        let mut count = 0;
        for (item, ((iov, name), header)) in items.iter().zip(
            iovecs
                .iter_mut()
                .zip(names.iter_mut())
                .zip(headers.iter_mut()),
        ) {
            let buffer = buffers
                .get(item.index)
                .ok_or_else(|| io::Error::from(io::ErrorKind::InvalidInput))?;
            iov.iov_base = buffer.as_ptr().cast_mut().cast();
            iov.iov_len = item.len.min(PACKET_CAPACITY);
            header.msg_hdr.msg_namelen = write_socket_addr(item.destination, name);
            header.msg_hdr.msg_name = (name as *mut libc::sockaddr_in6).cast();
            header.msg_hdr.msg_iov = iov;
            header.msg_hdr.msg_iovlen = 1;
            count += 1;
        }
        if count == 0 {
            return Ok(0);
        }
        // SAFETY: the first `count` headers each point at one live iovec covering `iov_len` initialized
        // bytes of a buffer borrowed for the call (the kernel only reads them) and at one live socket
        // address of the stated length; all of them outlive the call. MSG_DONTWAIT: never blocks.
        let n = unsafe {
            libc::sendmmsg(
                socket.as_raw_fd(),
                headers.as_mut_ptr(),
                count as libc::c_uint,
                libc::MSG_DONTWAIT,
            )
        };
        let n = usize::try_from(n).map_err(|_| io::Error::last_os_error())?;
        Ok(n.min(count))
    }

    /// Writes `address` as a `sockaddr_in` or `sockaddr_in6` into `out`; returns its length.
    pub(super) fn write_socket_addr(
        address: SocketAddr,
        out: &mut libc::sockaddr_in6,
    ) -> libc::socklen_t {
        match address {
            SocketAddr::V4(v4) => {
                let sin = libc::sockaddr_in {
                    sin_family: libc::AF_INET as libc::sa_family_t,
                    sin_port: v4.port().to_be(),
                    sin_addr: libc::in_addr {
                        s_addr: u32::from(*v4.ip()).to_be(),
                    },
                    sin_zero: [0; 8],
                };
                // SAFETY: sockaddr_in (16 bytes, align 4) fits in sockaddr_in6 (28 bytes, align 4).
                unsafe {
                    std::ptr::write(
                        (out as *mut libc::sockaddr_in6).cast::<libc::sockaddr_in>(),
                        sin,
                    );
                }
                size_of::<libc::sockaddr_in>() as libc::socklen_t
            }
            SocketAddr::V6(v6) => {
                out.sin6_family = libc::AF_INET6 as libc::sa_family_t;
                out.sin6_port = v6.port().to_be();
                out.sin6_flowinfo = v6.flowinfo();
                out.sin6_addr = libc::in6_addr {
                    s6_addr: v6.ip().octets(),
                };
                out.sin6_scope_id = v6.scope_id();
                size_of::<libc::sockaddr_in6>() as libc::socklen_t
            }
        }
    }

    pub(super) fn socket_addr(storage: &libc::sockaddr_storage) -> Option<SocketAddr> {
        match libc::c_int::from(storage.ss_family) {
            libc::AF_INET => {
                // SAFETY: the family says the kernel wrote a sockaddr_in, and sockaddr_storage is large
                // and aligned enough for any socket address type.
                let v4 = unsafe {
                    &*(storage as *const libc::sockaddr_storage).cast::<libc::sockaddr_in>()
                };
                let ip = Ipv4Addr::from(u32::from_be(v4.sin_addr.s_addr));
                Some(SocketAddr::V4(SocketAddrV4::new(
                    ip,
                    u16::from_be(v4.sin_port),
                )))
            }
            libc::AF_INET6 => {
                // SAFETY: as above, for sockaddr_in6.
                let v6 = unsafe {
                    &*(storage as *const libc::sockaddr_storage).cast::<libc::sockaddr_in6>()
                };
                let ip = Ipv6Addr::from(v6.sin6_addr.s6_addr);
                Some(SocketAddr::V6(SocketAddrV6::new(
                    ip,
                    u16::from_be(v6.sin6_port),
                    v6.sin6_flowinfo,
                    v6.sin6_scope_id,
                )))
            }
            _ => None,
        }
    }

    /// A level-triggered epoll set, created with the worker; sockets are added one by one and leave it when
    /// they close.
    pub(super) struct PollSet {
        epoll: Result<OwnedFd, io::ErrorKind>,
        events: Vec<libc::epoll_event>,
        ready: Vec<u64>,
    }

    impl PollSet {
        pub(super) fn new() -> Self {
            // SAFETY: plain system call; a non-negative result is a new descriptor we then own.
            let fd = unsafe { libc::epoll_create1(libc::EPOLL_CLOEXEC) };
            let epoll = if fd < 0 {
                Err(io::Error::last_os_error().kind())
            } else {
                // SAFETY: `fd` was just returned by epoll_create1 and nothing else owns it.
                Ok(unsafe { OwnedFd::from_raw_fd(fd) })
            };
            PollSet {
                epoll,
                // SAFETY: epoll_event is a plain C struct; all-zero bytes are a valid value.
                events: vec![unsafe { zeroed() }; MAX_READY],
                ready: Vec::with_capacity(MAX_READY),
            }
        }

        pub(super) fn add(&mut self, socket: &UdpSocket, token: u64) -> io::Result<()> {
            let epoll = self.epoll.as_ref().map_err(|kind| io::Error::from(*kind))?;
            let control = |operation| {
                let mut event = libc::epoll_event {
                    events: libc::EPOLLIN as u32,
                    u64: token,
                };
                // SAFETY: both descriptors are open for the call; the kernel copies `event`.
                let r = unsafe {
                    libc::epoll_ctl(epoll.as_raw_fd(), operation, socket.as_raw_fd(), &mut event)
                };
                if r < 0 {
                    Err(io::Error::last_os_error())
                } else {
                    Ok(())
                }
            };
            match control(libc::EPOLL_CTL_ADD) {
                Err(e) if e.raw_os_error() == Some(libc::EEXIST) => control(libc::EPOLL_CTL_MOD),
                other => other,
            }
        }

        /// Closing the socket removes it from the set.
        pub(super) fn forget(&mut self, _token: u64) {}

        /// An open socket has to be taken out explicitly; one that was not in the set is no error.
        pub(super) fn remove(&mut self, socket: &UdpSocket, _token: u64) {
            if let Ok(epoll) = &self.epoll {
                // SAFETY: both descriptors are open for the call; DEL ignores the event argument.
                unsafe {
                    libc::epoll_ctl(
                        epoll.as_raw_fd(),
                        libc::EPOLL_CTL_DEL,
                        socket.as_raw_fd(),
                        std::ptr::null_mut(),
                    )
                };
            }
        }

        pub(super) fn wait(&mut self, timeout: Duration) -> io::Result<usize> {
            self.ready.clear();
            let epoll = match &self.epoll {
                Ok(epoll) => epoll,
                Err(kind) => {
                    std::thread::sleep(timeout.min(Duration::from_millis(1)));
                    return Err((*kind).into());
                }
            };
            let millis = libc::c_int::try_from(timeout.as_millis()).unwrap_or(libc::c_int::MAX);
            let capacity = libc::c_int::try_from(self.events.len()).unwrap_or(libc::c_int::MAX);
            // SAFETY: `events` is a live, exclusively borrowed array of `capacity` epoll_event structs, which
            // the kernel fills from the start.
            let n = unsafe {
                libc::epoll_wait(
                    epoll.as_raw_fd(),
                    self.events.as_mut_ptr(),
                    capacity,
                    millis,
                )
            };
            let n = match usize::try_from(n) {
                Ok(n) => n,
                Err(_) => {
                    let e = io::Error::last_os_error();
                    return if e.kind() == io::ErrorKind::Interrupted {
                        Ok(0)
                    } else {
                        Err(e)
                    };
                }
            };
            for event in self.events.iter().take(n) {
                // A copy out of the (packed on x86-64) struct, never a reference.
                let token = event.u64;
                self.ready.push(token);
            }
            Ok(n)
        }

        pub(super) fn ready(&self) -> &[u64] {
            &self.ready
        }
    }
}

#[cfg(not(target_os = "linux"))]
mod sys {
    use std::io;
    use std::net::{SocketAddr, UdpSocket};
    use std::time::Duration;

    use super::{BATCH, Outgoing, PACKET_CAPACITY};

    pub(super) fn send_batch(
        socket: &UdpSocket,
        buffers: &[[u8; PACKET_CAPACITY]; BATCH],
        items: &[Outgoing],
    ) -> io::Result<usize> {
        let mut sent = 0;
        for item in items {
            let datagram = buffers
                .get(item.index)
                .and_then(|b| b.get(..item.len))
                .ok_or_else(|| io::Error::from(io::ErrorKind::InvalidInput));
            match datagram.and_then(|d| socket.send_to(d, item.destination)) {
                Ok(_) => sent += 1,
                Err(e) if sent == 0 => return Err(e),
                Err(_) => break,
            }
        }
        Ok(sent)
    }

    pub(super) fn recv_batch(
        socket: &UdpSocket,
        buffers: &mut [[u8; PACKET_CAPACITY]; BATCH],
        lens: &mut [usize; BATCH],
        sources: &mut [Option<SocketAddr>; BATCH],
    ) -> io::Result<usize> {
        let mut n = 0;
        for ((buf, len), source) in buffers.iter_mut().zip(lens).zip(sources) {
            match socket.recv_from(buf) {
                Ok((l, from)) => {
                    *len = l;
                    *source = Some(from);
                    n += 1;
                }
                Err(e) if n == 0 => return Err(e),
                Err(_) => break,
            }
        }
        Ok(n)
    }

    /// Without a portable readiness API in std, every socket is tried after a short sleep.
    pub(super) struct PollSet {
        all: Vec<u64>,
    }

    impl PollSet {
        pub(super) fn new() -> Self {
            PollSet { all: Vec::new() }
        }

        pub(super) fn add(&mut self, _socket: &UdpSocket, token: u64) -> io::Result<()> {
            if !self.all.contains(&token) {
                self.all.push(token);
            }
            Ok(())
        }

        pub(super) fn forget(&mut self, token: u64) {
            self.all.retain(|t| *t != token);
        }

        pub(super) fn remove(&mut self, _socket: &UdpSocket, token: u64) {
            self.forget(token);
        }

        pub(super) fn wait(&mut self, timeout: Duration) -> io::Result<usize> {
            std::thread::sleep(timeout.min(Duration::from_millis(1)));
            Ok(self.all.len())
        }

        pub(super) fn ready(&self) -> &[u64] {
            &self.all
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::Ipv4Addr;

    fn socket() -> UdpSocket {
        let s = UdpSocket::bind((Ipv4Addr::LOCALHOST, 0)).unwrap();
        s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
        s
    }

    #[test]
    fn a_batch_received_is_sent_on_in_one_call_in_order() {
        let (a, relay, b) = (socket(), socket(), socket());
        for i in 0..5u8 {
            a.send_to(&[i; 40], relay.local_addr().unwrap()).unwrap();
        }
        let mut batch = PacketBatch::new();
        let mut received = 0;
        // The five datagrams are queued on loopback before the first read; read until all are in.
        relay.set_nonblocking(true).unwrap();
        let mut outgoing = Vec::new();
        for _ in 0..1000 {
            let n = batch.recv(&relay).unwrap();
            if n > 0 {
                // Shorten each in place, as a transformation would, and send them all to `b`.
                for i in 0..n {
                    let (_, len, source) = batch.get_mut(i).unwrap();
                    assert_eq!(source, a.local_addr().unwrap());
                    outgoing.push(Outgoing {
                        index: i,
                        len: len - 1 - i,
                        destination: b.local_addr().unwrap(),
                    });
                }
                assert_eq!(batch.send(&relay, &outgoing).unwrap(), n);
                received += n;
                outgoing.clear();
            }
            if received == 5 {
                break;
            }
            std::thread::sleep(Duration::from_millis(1));
        }
        assert_eq!(received, 5);
        let mut seen = Vec::new();
        let mut buf = [0u8; 64];
        for _ in 0..5 {
            let (n, from) = b.recv_from(&mut buf).unwrap();
            assert_eq!(from, relay.local_addr().unwrap());
            seen.push((buf[0], n));
        }
        let first = seen[0].0;
        for (k, (tag, n)) in seen.iter().enumerate() {
            assert_eq!(usize::from(*tag), usize::from(first) + k, "order kept");
            assert!(*n < 40);
        }
    }

    #[test]
    fn the_poller_reports_only_the_sockets_with_data() {
        let sockets: Vec<UdpSocket> = (0..4).map(|_| socket()).collect();
        let mut poller = Poller::new();
        for (token, socket) in sockets.iter().enumerate() {
            poller.add(socket, 10 + token as u64).unwrap();
        }
        let sender = socket();
        sender
            .send_to(b"x", sockets[2].local_addr().unwrap())
            .unwrap();
        let mut seen = false;
        for _ in 0..100 {
            poller.wait(Duration::from_millis(50)).unwrap();
            if poller.is_ready(12) {
                seen = true;
                break;
            }
        }
        assert!(seen, "the socket with a datagram is reported");
        assert_eq!(poller.ready(), &[12], "and only that one");
    }

    #[test]
    fn a_closed_socket_leaves_the_poller_and_its_token_can_be_reused() {
        let mut poller = Poller::new();
        let sender = socket();
        let first = socket();
        poller.add(&first, 1).unwrap();
        poller.add(&first, 2).unwrap(); // registering again changes the token
        sender.send_to(b"x", first.local_addr().unwrap()).unwrap();
        let mut seen = false;
        for _ in 0..100 {
            poller.wait(Duration::from_millis(50)).unwrap();
            if poller.is_ready(2) {
                seen = true;
                break;
            }
        }
        assert!(seen, "reported under its new token");
        assert!(!poller.is_ready(1));
        poller.forget(2);
        drop(first);
        let second = socket();
        poller.add(&second, 2).unwrap();
        poller.wait(Duration::from_millis(20)).unwrap();
        assert!(
            poller.ready().is_empty(),
            "the closed socket is gone, the new one is idle"
        );
    }

    #[test]
    fn nothing_to_send_is_no_call_and_a_bad_index_is_an_error() {
        let relay = socket();
        let batch = PacketBatch::new();
        assert_eq!(batch.send(&relay, &[]).unwrap(), 0);
        let bad = Outgoing {
            index: BATCH,
            ..Outgoing::NONE
        };
        assert!(batch.send(&relay, &[bad]).is_err());
    }
}
