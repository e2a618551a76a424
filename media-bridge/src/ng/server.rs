//! A tokio UDP server for the NG protocol (feature `tokio`): receives datagrams, lets [`NgEndpoint`]
//! frame, decode and de-duplicate them, runs requests against a [`MediaControl`] and sends the replies.

use std::collections::HashMap;
use std::future::Future;
use std::io;
use std::net::{Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::time::Instant;

use bytes::Bytes;
use tokio::net::UdpSocket;
use tokio::sync::watch;
use tokio::task::{self, JoinSet};

use super::control::{MediaControl, execute};
use super::endpoint::{Action, EndpointConfig, NgEndpoint, NgStats};
use super::protocol::DEFAULT_PORT;
use super::reply::Reply;

/// Configuration of an [`NgServer`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NgServerConfig {
    /// Where to listen (default `127.0.0.1:22222`: the NG protocol has no authentication, so listen on a
    /// wider address only on a trusted network).
    pub bind: SocketAddr,
    /// Limits, timings and cache sizes.
    pub endpoint: EndpointConfig,
    /// Most requests executing at once; beyond that the server stops reading until one finishes (the
    /// client retransmits meanwhile). Default 256.
    pub max_in_flight: usize,
}

impl Default for NgServerConfig {
    fn default() -> Self {
        NgServerConfig {
            bind: SocketAddr::from((Ipv4Addr::LOCALHOST, DEFAULT_PORT)),
            endpoint: EndpointConfig::default(),
            max_in_flight: 256,
        }
    }
}

/// A bound NG server; [`NgServer::run_until`] serves until told to stop.
#[derive(Debug)]
pub struct NgServer<C> {
    socket: UdpSocket,
    endpoint: NgEndpoint,
    control: Arc<C>,
    stats: watch::Sender<NgStats>,
    max_in_flight: usize,
}

type Finished = (SocketAddr, Bytes, Reply);

impl<C> NgServer<C>
where
    C: MediaControl + Send + Sync + 'static,
{
    /// Bind the UDP socket.
    pub async fn bind(config: NgServerConfig, control: Arc<C>) -> io::Result<Self> {
        let socket = UdpSocket::bind(config.bind).await?;
        Ok(NgServer {
            socket,
            endpoint: NgEndpoint::new(config.endpoint),
            control,
            stats: watch::Sender::new(NgStats::default()),
            max_in_flight: config.max_in_flight.max(1),
        })
    }

    /// The address the socket is bound to (useful after binding port 0).
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.socket.local_addr()
    }

    /// A view of the counters, updated as the server runs.
    pub fn stats(&self) -> StatsWatch {
        StatsWatch(self.stats.subscribe())
    }

    /// Serve forever (or until a socket error other than an ICMP-induced one).
    pub async fn run(self) -> io::Result<()> {
        self.run_until(std::future::pending()).await
    }

    /// Serve until `shutdown` completes; requests still executing then are abandoned.
    pub async fn run_until(mut self, shutdown: impl Future<Output = ()>) -> io::Result<()> {
        let mut shutdown = std::pin::pin!(shutdown);
        // One byte more than accepted, so an oversized datagram is seen as such rather than truncated
        // to an acceptable length.
        let mut buf = vec![0u8; self.endpoint.config().max_datagram + 1];
        let mut tasks: JoinSet<Finished> = JoinSet::new();
        let mut owners: HashMap<task::Id, (SocketAddr, Bytes)> = HashMap::new();
        loop {
            let accepting = tasks.len() < self.max_in_flight;
            tokio::select! {
                () = &mut shutdown => return Ok(()),
                Some(done) = tasks.join_next_with_id(), if !tasks.is_empty() => {
                    let (peer, cookie, reply) = match done {
                        Ok((id, finished)) => {
                            owners.remove(&id);
                            finished
                        }
                        // The engine panicked: answer anyway so the client does not wait for nothing.
                        Err(e) => match owners.remove(&e.id()) {
                            Some((peer, cookie)) => (peer, cookie, Reply::error("internal error")),
                            None => continue,
                        },
                    };
                    let datagram = self.endpoint.complete(peer, cookie, &reply);
                    self.send(&datagram, peer).await;
                }
                received = self.socket.recv_from(&mut buf), if accepting => {
                    let (len, peer) = match received {
                        Ok(r) => r,
                        Err(e) if is_transient(&e) => continue,
                        Err(e) => return Err(e),
                    };
                    let datagram = Bytes::copy_from_slice(buf.get(..len).unwrap_or_default());
                    self.handle(peer, datagram, &mut tasks, &mut owners).await;
                }
            }
            self.stats.send_if_modified(|s| {
                let now = self.endpoint.stats();
                std::mem::replace(s, now) != now
            });
        }
    }

    async fn handle(
        &mut self,
        peer: SocketAddr,
        datagram: Bytes,
        tasks: &mut JoinSet<Finished>,
        owners: &mut HashMap<task::Id, (SocketAddr, Bytes)>,
    ) {
        match self
            .endpoint
            .handle_datagram(Instant::now(), peer, datagram)
        {
            Action::Reply(reply) => self.send(&reply, peer).await,
            Action::Reject { reply, error } => {
                self.control.rejected(peer, &error);
                self.send(&reply, peer).await;
            }
            Action::Drop(Some(error)) => self.control.rejected(peer, &error),
            Action::Drop(None) => {}
            Action::Execute(pending) => {
                let request = pending.request;
                if !request.ignored.is_empty() {
                    self.control
                        .ignored(peer, request.command.name(), &request.ignored);
                }
                let control = Arc::clone(&self.control);
                let cookie = pending.cookie.clone();
                let handle = tasks.spawn(async move {
                    let reply = execute(&*control, request.command).await;
                    (peer, cookie, reply)
                });
                owners.insert(handle.id(), (peer, pending.cookie));
            }
        }
    }

    async fn send(&self, datagram: &[u8], peer: SocketAddr) {
        // A lost reply is recovered by the client's retransmission, answered from the cache.
        let _ = self.socket.send_to(datagram, peer).await;
    }
}

/// The counters of a running [`NgServer`]. Values are copied out, so holding one never blocks the server.
#[derive(Debug, Clone)]
pub struct StatsWatch(watch::Receiver<NgStats>);

impl StatsWatch {
    /// The counters now.
    pub fn current(&self) -> NgStats {
        *self.0.borrow()
    }

    /// Wait until the counters satisfy `condition` and return them; `None` if the server has stopped.
    pub async fn wait_for(&mut self, condition: impl FnMut(&NgStats) -> bool) -> Option<NgStats> {
        self.0.wait_for(condition).await.ok().map(|stats| *stats)
    }
}

/// Errors a UDP socket reports for an earlier datagram (ICMP port unreachable and the like), which say
/// nothing about the socket itself.
fn is_transient(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::ConnectionRefused
            | io::ErrorKind::ConnectionReset
            | io::ErrorKind::Interrupted
            | io::ErrorKind::WouldBlock
    )
}
