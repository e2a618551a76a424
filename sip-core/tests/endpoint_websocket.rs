//! A WebSocket SIP client (RFC 7118, like a browser's) calling an endpoint: responses, and the endpoint's own
//! BYE, reach the client over its own connection although its Contact names an unresolvable host.

use futures_util::{SinkExt, StreamExt};
use std::time::Duration;
use tandem_sip_core::endpoint::Endpoint;
use tandem_sip_core::{Message, Method, StatusCode, TransportKind, parse_message};
use tokio::net::TcpStream;
use tokio_tungstenite::WebSocketStream;
use tokio_tungstenite::tungstenite::Message as Ws;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;

type Client = WebSocketStream<TcpStream>;

async fn connect(endpoint: &Endpoint) -> Client {
    let addr = endpoint.local_addr(TransportKind::Ws).unwrap();
    let mut request = format!("ws://{addr}/").into_client_request().unwrap();
    request
        .headers_mut()
        .insert("Sec-WebSocket-Protocol", "sip".parse().unwrap());
    let tcp = TcpStream::connect(addr).await.unwrap();
    tokio_tungstenite::client_async(request, tcp)
        .await
        .unwrap()
        .0
}

/// The next SIP message the client receives (pings and the like skipped).
async fn receive(client: &mut Client) -> Message {
    loop {
        let frame = client.next().await.expect("connection open").unwrap();
        let bytes = match frame {
            Ws::Text(text) => text.as_bytes().to_vec(),
            Ws::Binary(bytes) => bytes.to_vec(),
            _ => continue,
        };
        return parse_message(bytes.into()).unwrap();
    }
}

fn request(method: &str, cseq: u32, to_tag: Option<&str>, branch: &str) -> String {
    let to_tag = to_tag.map(|t| format!(";tag={t}")).unwrap_or_default();
    let body = if method == "INVITE" { "v=0\r\n" } else { "" };
    let content_type = if body.is_empty() {
        ""
    } else {
        "Content-Type: application/sdp\r\n"
    };
    format!(
        "{method} sip:uas@127.0.0.1 SIP/2.0\r\n\
         Via: SIP/2.0/WS df7jal23ls0d.invalid;branch=z9hG4bK{branch};rport\r\n\
         Max-Forwards: 70\r\n\
         From: <sip:browser@example.com>;tag=ws1\r\n\
         To: <sip:uas@127.0.0.1>{to_tag}\r\n\
         Call-ID: ws-call-1\r\n\
         CSeq: {cseq} {method}\r\n\
         Contact: <sip:browser@df7jal23ls0d.invalid;transport=ws>\r\n\
         {content_type}Content-Length: {}\r\n\r\n{body}",
        body.len()
    )
}

#[tokio::test]
async fn websocket_caller_gets_responses_and_the_bye_over_its_connection() {
    let run = async {
        let endpoint = Endpoint::builder()
            .bind_ws("127.0.0.1:0".parse().unwrap())
            .build()
            .await
            .unwrap();
        let callee = tokio::spawn({
            let endpoint = endpoint.clone();
            async move {
                let mut invite = endpoint.incoming().await.unwrap();
                invite.reply(StatusCode::RINGING).await.unwrap();
                let mut dialog = endpoint.create_uas(invite, "v=0\r\n").await.unwrap();
                dialog.bye().await.unwrap().status()
            }
        });
        let mut client = connect(&endpoint).await;
        client
            .send(Ws::text(request("INVITE", 1, None, "inv")))
            .await
            .unwrap();
        let to_tag = loop {
            let Message::Response(response) = receive(&mut client).await else {
                panic!("a response first");
            };
            if response.status() == StatusCode::OK {
                let to = response.headers().to().unwrap().unwrap();
                break String::from_utf8_lossy(to.0.tag().unwrap()).into_owned();
            }
        };
        client
            .send(Ws::text(request("ACK", 1, Some(&to_tag), "ack")))
            .await
            .unwrap();
        let Message::Request(bye) = receive(&mut client).await else {
            panic!("the endpoint's BYE");
        };
        assert_eq!(*bye.method(), Method::Bye);
        let via = bye.headers().via().unwrap().unwrap();
        assert_eq!(via.transport().as_bytes(), b"WS");
        let ok = tandem_sip_core::Response::from_request(&bye, StatusCode::OK, None).build();
        client
            .send(Ws::binary(ok.to_bytes().to_vec()))
            .await
            .unwrap();
        assert_eq!(callee.await.unwrap(), StatusCode::OK);
    };
    tokio::time::timeout(Duration::from_secs(30), run)
        .await
        .expect("the call completes");
}
