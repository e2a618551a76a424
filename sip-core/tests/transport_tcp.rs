//! TCP transport on real sockets: framing, keep-alives, limits and timeouts, connection reuse.

mod transport_support;

use bytes::Bytes;
use std::io;
use std::time::Duration;
use tandem_sip_core::transport::{
    CloseReason, ConnectionLimits, Target, TransportError, TransportKind, TransportLayer,
};
use tandem_sip_core::{Frame, Limits, ParseErrorKind, StreamFramer};
use tokio::io::AsyncWriteExt;
use tokio::net::{TcpListener, TcpStream};
use transport_support::*;

async fn tcp_layer(
    limits: ConnectionLimits,
) -> (
    TransportLayer,
    tokio::sync::mpsc::Receiver<tandem_sip_core::TransportEvent>,
    std::net::SocketAddr,
) {
    let (transports, events) = start(&[TransportKind::Tcp], limits).await;
    let addr = transports.local_addr(TransportKind::Tcp).unwrap();
    (transports, events, addr)
}

fn tcp_options(call_id: &str) -> String {
    options("SIP/2.0/TCP client.invalid;rport;branch=z9hG4bKt", call_id)
}

#[tokio::test]
async fn two_messages_in_one_write_arrive_as_two() {
    let (_transports, mut events, addr) = tcp_layer(ConnectionLimits::DEFAULT).await;
    let mut client = TcpStream::connect(addr).await.unwrap();
    let both = format!("{}{}", tcp_options("one"), tcp_options("two"));
    client.write_all(both.as_bytes()).await.unwrap();
    let first = next_incoming(&mut events).await;
    let second = next_incoming(&mut events).await;
    assert_eq!(call_id(&first.message), "one");
    assert_eq!(call_id(&second.message), "two");
    assert_eq!(first.flow, second.flow);
    assert_eq!(first.transport, TransportKind::Tcp);
}

#[tokio::test]
async fn message_split_across_many_writes_arrives_whole() {
    let (_transports, mut events, addr) = tcp_layer(ConnectionLimits::DEFAULT).await;
    let mut client = TcpStream::connect(addr).await.unwrap();
    client.set_nodelay(true).unwrap();
    let body = "v=0\r\no=- 1 1 IN IP4 192.0.2.1\r\n";
    let request = tcp_options("split").replace(
        "Content-Length: 0\r\n\r\n",
        &format!(
            "Content-Type: application/sdp\r\nContent-Length: {}\r\n\r\n{body}",
            body.len()
        ),
    );
    for chunk in request.as_bytes().chunks(7) {
        client.write_all(chunk).await.unwrap();
        client.flush().await.unwrap();
        tokio::task::yield_now().await;
    }
    let incoming = next_incoming(&mut events).await;
    assert_eq!(call_id(&incoming.message), "split");
    assert_eq!(incoming.message.body(), body.as_bytes());
}

#[tokio::test]
async fn crlf_ping_is_answered_with_a_single_crlf_pong() {
    let (transports, mut events, addr) = tcp_layer(ConnectionLimits::DEFAULT).await;
    let mut client = TcpStream::connect(addr).await.unwrap();
    client.write_all(b"\r\n\r\n").await.unwrap();
    let mut framer = StreamFramer::new(Limits::DEFAULT);
    assert_eq!(
        read_frame(&mut client, &mut framer).await,
        Frame::KeepAlivePong
    );
    // Nothing but the pong came: the connection then carries a message and its answer.
    client
        .write_all(tcp_options("after-ping").as_bytes())
        .await
        .unwrap();
    let incoming = next_incoming(&mut events).await;
    answer_ok(&transports, &incoming).await;
    let response = read_message(&mut client, &mut framer).await;
    assert_eq!(call_id(&response), "after-ping");
    assert_eq!(transports.stats().keepalives, 1);
}

#[tokio::test]
async fn response_goes_back_over_the_client_connection() {
    let (transports, mut events, addr) = tcp_layer(ConnectionLimits::DEFAULT).await;
    let mut client = TcpStream::connect(addr).await.unwrap();
    client
        .write_all(tcp_options("reply-here").as_bytes())
        .await
        .unwrap();
    let incoming = next_incoming(&mut events).await;
    // The Via names an unresolvable host: only the connection leads back to the client.
    answer_ok(&transports, &incoming).await;
    let mut framer = StreamFramer::new(Limits::DEFAULT);
    let response = read_message(&mut client, &mut framer).await;
    assert_eq!(call_id(&response), "reply-here");
    assert_eq!(transports.stats().connections_opened, 1);
}

#[tokio::test]
async fn oversized_message_closes_the_connection() {
    let (transports, mut events) = TransportLayer::builder()
        .listen(TransportKind::Tcp, loopback())
        .limits(Limits {
            max_message_size: 1000,
            ..Limits::DEFAULT
        })
        .start()
        .await
        .unwrap();
    let addr = transports.local_addr(TransportKind::Tcp).unwrap();
    let mut client = TcpStream::connect(addr).await.unwrap();
    let request = tcp_options("big").replace("Content-Length: 0", "Content-Length: 5000");
    client.write_all(request.as_bytes()).await.unwrap();
    let closed = next_closed(&mut events).await;
    assert!(matches!(
        closed.reason,
        CloseReason::Malformed(ref e) if e.kind == ParseErrorKind::MessageTooLarge { limit: 1000 }
    ));
    assert!(closed_by_server(&mut client).await);
    assert_eq!(transports.stats().malformed, 1);
}

#[tokio::test]
async fn message_without_content_length_closes_the_connection() {
    let (_transports, mut events, addr) = tcp_layer(ConnectionLimits::DEFAULT).await;
    let mut client = TcpStream::connect(addr).await.unwrap();
    let request = tcp_options("no-length").replace("Content-Length: 0\r\n", "");
    client.write_all(request.as_bytes()).await.unwrap();
    let closed = next_closed(&mut events).await;
    assert!(matches!(
        closed.reason,
        CloseReason::Malformed(ref e) if e.kind == ParseErrorKind::MissingContentLength
    ));
    assert!(closed_by_server(&mut client).await);
}

fn short_timeouts() -> ConnectionLimits {
    ConnectionLimits {
        // Shorter than the tests' hang guard, which runs on the same virtual clock.
        idle_timeout: Duration::from_secs(12),
        message_timeout: Duration::from_secs(5),
        ..ConnectionLimits::DEFAULT
    }
}

#[tokio::test(start_paused = true)]
async fn silent_partial_message_is_closed_after_the_message_timeout() {
    let (transports, mut events, addr) = tcp_layer(short_timeouts()).await;
    let mut client = TcpStream::connect(addr).await.unwrap();
    let request = tcp_options("slow");
    client
        .write_all(&request.as_bytes()[..request.len() / 2])
        .await
        .unwrap();
    let closed = next_closed(&mut events).await;
    assert_eq!(closed.reason, CloseReason::MessageTimeout);
    assert!(closed_by_server(&mut client).await);
    assert_eq!(transports.stats().connections_closed, 1);
}

#[tokio::test(start_paused = true)]
async fn trickling_message_is_closed_after_the_message_timeout() {
    let (_transports, mut events, addr) = tcp_layer(short_timeouts()).await;
    let mut client = TcpStream::connect(addr).await.unwrap();
    client.set_nodelay(true).unwrap();
    let request = tcp_options("trickle");
    // One byte a second keeps the connection busy but never finishes the message in time.
    // The server closes the connection on the way, after which writes fail.
    for byte in request.as_bytes().iter().take(20) {
        if client.write_all(&[*byte]).await.is_err() {
            break;
        }
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
    let closed = next_closed(&mut events).await;
    assert_eq!(closed.reason, CloseReason::MessageTimeout);
}

#[tokio::test(start_paused = true)]
async fn idle_connection_is_closed_after_the_idle_timeout() {
    let (_transports, mut events, addr) = tcp_layer(short_timeouts()).await;
    let mut client = TcpStream::connect(addr).await.unwrap();
    client
        .write_all(tcp_options("then-silence").as_bytes())
        .await
        .unwrap();
    next_incoming(&mut events).await;
    let closed = next_closed(&mut events).await;
    assert_eq!(closed.reason, CloseReason::Idle);
    assert!(closed_by_server(&mut client).await);
}

#[tokio::test(start_paused = true)]
async fn leased_flow_outlives_the_idle_timeout_until_released() {
    let (transports, mut events, addr) = tcp_layer(short_timeouts()).await;
    let mut client = TcpStream::connect(addr).await.unwrap();
    client
        .write_all(tcp_options("register").as_bytes())
        .await
        .unwrap();
    let incoming = next_incoming(&mut events).await;
    let lease = transports.lease(incoming.flow).expect("the flow is open");
    tokio::time::sleep(Duration::from_secs(3600)).await;
    // Still open: a request sent on the flow reaches the client.
    let target = incoming.target();
    let request = Bytes::from(options(
        "SIP/2.0/TCP 127.0.0.1;branch=z9hG4bKs",
        "to-client",
    ));
    assert_eq!(transports.send(target, request).await, Ok(incoming.flow));
    let mut framer = StreamFramer::new(Limits::DEFAULT);
    assert_eq!(
        call_id(&read_message(&mut client, &mut framer).await),
        "to-client"
    );
    drop(lease);
    let closed = next_closed(&mut events).await;
    assert_eq!(
        (closed.flow, closed.reason),
        (incoming.flow, CloseReason::Idle)
    );
}

#[tokio::test]
async fn connections_past_the_per_address_limit_are_refused() {
    let limits = ConnectionLimits {
        max_connections_per_ip: 2,
        ..ConnectionLimits::DEFAULT
    };
    let (transports, mut events, addr) = tcp_layer(limits).await;
    let mut admitted = Vec::new();
    for name in ["first", "second"] {
        let mut client = TcpStream::connect(addr).await.unwrap();
        client
            .write_all(tcp_options(name).as_bytes())
            .await
            .unwrap();
        next_incoming(&mut events).await;
        admitted.push(client);
    }
    let mut third = TcpStream::connect(addr).await.unwrap();
    assert!(closed_by_server(&mut third).await);
    assert_eq!(transports.stats().connections_refused, 1);
    // Closing one makes room again.
    drop(admitted.pop());
    next_closed(&mut events).await;
    let mut fourth = TcpStream::connect(addr).await.unwrap();
    fourth
        .write_all(tcp_options("fourth").as_bytes())
        .await
        .unwrap();
    assert_eq!(call_id(&next_incoming(&mut events).await.message), "fourth");
}

#[tokio::test]
async fn requests_open_a_connection_then_reuse_it_and_responses_come_back_on_it() {
    let (alice, mut alice_events, _) = tcp_layer(ConnectionLimits::DEFAULT).await;
    let (bob, mut bob_events, bob_addr) = tcp_layer(ConnectionLimits::DEFAULT).await;
    let to_bob = Target::new(TransportKind::Tcp, bob_addr);
    let via = "SIP/2.0/TCP alice.invalid;rport;branch=z9hG4bKa";
    let flow = alice
        .send(to_bob, Bytes::from(options(via, "first")))
        .await
        .unwrap();
    let at_bob = next_incoming(&mut bob_events).await;
    answer_ok(&bob, &at_bob).await;
    let response = next_incoming(&mut alice_events).await;
    assert_eq!(response.flow, flow);
    assert!(!response.message.is_request());

    let again = alice
        .send(to_bob, Bytes::from(options(via, "second")))
        .await
        .unwrap();
    assert_eq!(again, flow);
    assert_eq!(
        call_id(&next_incoming(&mut bob_events).await.message),
        "second"
    );
    assert_eq!(alice.stats().connections_opened, 1);
    assert_eq!(bob.stats().connections_opened, 1);

    // Once the connection is gone, its stale flow leads to a new connection to the same address.
    alice.close(flow).await;
    assert_eq!(
        next_closed(&mut alice_events).await.reason,
        CloseReason::Local
    );
    let reopened = alice
        .send(to_bob.with_flow(flow), Bytes::from(options(via, "third")))
        .await
        .unwrap();
    assert_ne!(reopened, flow);
    assert_eq!(alice.stats().connections_opened, 2);
    loop {
        match next_event(&mut bob_events).await {
            tandem_sip_core::TransportEvent::Message(m) => {
                assert_eq!(call_id(&m.message), "third");
                break;
            }
            tandem_sip_core::TransportEvent::FlowClosed(_) => continue,
            other => panic!("{other:?}"),
        }
    }
}

#[tokio::test]
async fn failed_connect_is_reported_to_the_sender() {
    let (transports, _events, _) = tcp_layer(ConnectionLimits::DEFAULT).await;
    let unused = TcpListener::bind(loopback()).await.unwrap();
    let nobody = unused.local_addr().unwrap();
    drop(unused);
    let sent = transports
        .send(
            Target::new(TransportKind::Tcp, nobody),
            Bytes::from(tcp_options("nobody")),
        )
        .await;
    assert_eq!(
        sent,
        Err(TransportError::Connect {
            addr: nobody,
            kind: io::ErrorKind::ConnectionRefused
        })
    );
    assert_eq!(transports.stats().connections_open, 0);
}

#[tokio::test]
async fn sends_fail_after_shutdown() {
    let (transports, _events, addr) = tcp_layer(ConnectionLimits::DEFAULT).await;
    transports.shutdown();
    let sent = transports
        .send(
            Target::new(TransportKind::Tcp, addr),
            Bytes::from(tcp_options("late")),
        )
        .await;
    assert_eq!(sent, Err(TransportError::Shutdown));
}
