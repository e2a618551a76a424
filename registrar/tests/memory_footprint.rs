//! Heap bytes per registered user in the memory store, counted by a global allocator: 10,000 AORs, one
//! binding each, registered through the public API with SIPp-like REGISTERs (as `scripts/bench-proxy.sh`'s
//! `mem` phase sends them). The bound fails if a binding again keeps its whole REGISTER datagram alive, or
//! if per-AOR containers are over-allocated, as the first layout did (3,026 bytes per AOR).
//!
//! This binary holds a single test so that no other test allocates while it counts.
#![cfg(feature = "memory")]

use bytes::Bytes;
use std::time::{Duration, UNIX_EPOCH};
use tandem_registrar::{
    Aor, Flow, FlowToken, LocationStore, MemoryStore, Registrar, RegistrarConfig, RegistrarService,
};
use tandem_sip_core::{Message, Transport, parse_message};
use tandem_test_alloc::{LiveBytes, live, signed};

#[global_allocator]
static ALLOCATOR: LiveBytes = LiveBytes;

const USERS: usize = 10_000;

/// Requested heap bytes per AOR the memory store may keep for one SIPp-style binding (AOR, contact, Call-ID,
/// User-Agent, flow, the map's share). The first layout kept 3,026; Kamailio's usrloc about 1,125 of
/// shared memory per user (docs/bench-proxy.md).
const MAX_BYTES_PER_AOR: isize = 600;

/// A REGISTER as SIPp's `register.xml` sends it (see `../shared/peers/kamailio/register.xml`).
fn register(i: usize) -> tandem_sip_core::Request {
    let text = format!(
        "REGISTER sip:127.0.0.1:5060 SIP/2.0\r\n\
         Via: SIP/2.0/UDP 127.0.0.1:5061;branch=z9hG4bK-4242-{i}-0\r\n\
         Max-Forwards: 70\r\n\
         From: <sip:mem_{i}@127.0.0.1>;tag=4242SIPpTag00{i}\r\n\
         To: <sip:mem_{i}@127.0.0.1>\r\n\
         Call-ID: {i}-4242@127.0.0.1\r\n\
         CSeq: 1 REGISTER\r\n\
         Contact: <sip:mem_{i}@127.0.0.1:5080>\r\n\
         Expires: 3600\r\n\
         User-Agent: SIPp-register-bench\r\n\
         Content-Length: 0\r\n\r\n"
    );
    match parse_message(Bytes::from(text)) {
        Ok(Message::Request(request)) => request,
        other => panic!("fixture REGISTER did not parse: {other:?}"),
    }
}

fn flow(i: usize) -> Flow {
    // Like the proxy's: a short token naming the UDP flow, cut from a longer buffer.
    let buffer = Bytes::from(format!("scope-0123456789abcdef/udp-{i}"));
    Flow::new(
        FlowToken::new(buffer.slice(23..)),
        Transport::Udp,
        "127.0.0.1:5061".parse().unwrap_or_else(|e| panic!("{e}")),
    )
}

#[test]
fn ten_thousand_aors_fit_the_per_user_budget() {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap_or_else(|e| panic!("runtime: {e}"));
    let now = UNIX_EPOCH + Duration::from_secs(1_700_000_000);
    let service = RegistrarService::new(
        Registrar::new(RegistrarConfig::default()),
        MemoryStore::new(),
    );
    runtime.block_on(async {
        // Warm up whatever lazily allocates once (the registrar, the runtime), then start counting.
        let warm = register(USERS);
        let outcome = service.handle(now, &warm, &flow(USERS)).await;
        assert_eq!(outcome.map(|o| o.response.status().as_u16()).ok(), Some(200));
        let before = live();
        for i in 0..USERS {
            let request = register(i);
            let outcome = service.handle(now, &request, &flow(i)).await;
            assert_eq!(
                outcome.map(|o| o.response.status().as_u16()).ok(),
                Some(200),
                "REGISTER {i}"
            );
        }
        let after = live();
        let per_aor = (after - before) / signed(USERS);
        // Not a timing: a figure to compare with docs/bench-proxy.md, printed past the test harness.
        let _ = std::io::Write::write_all(
            &mut std::io::stderr(),
            format!(
                "memory store: {per_aor} heap bytes per AOR with one binding ({} kB per 10,000 users)\n",
                (after - before) / 1024
            )
            .as_bytes(),
        );
        assert_eq!(service.store().binding_count(now).await.ok(), Some(USERS + 1));
        // Every binding reads back whole, from its own copy of the datagram's text.
        let aor = Aor::parse("sip:mem_77@127.0.0.1").unwrap_or_else(|e| panic!("{e}"));
        let bindings = service.store().bindings(&aor, now).await.unwrap_or_default();
        assert_eq!(bindings.len(), 1);
        assert_eq!(
            bindings[0].contact.to_string(),
            "<sip:mem_77@127.0.0.1:5080>"
        );
        assert_eq!(bindings[0].call_id.as_bytes().as_ref(), b"77-4242@127.0.0.1");
        assert_eq!(bindings[0].user_agent.as_deref(), Some("SIPp-register-bench"));
        assert_eq!(
            bindings[0].flow.as_ref().map(|f| f.token.as_bytes().as_ref()),
            Some(&b"udp-77"[..])
        );
        assert!(
            bindings[0].expires_at > now && bindings[0].expires_at <= now + Duration::from_secs(3600)
        );
        assert!(
            per_aor <= MAX_BYTES_PER_AOR,
            "{per_aor} heap bytes per AOR, budget {MAX_BYTES_PER_AOR}"
        );
    });
}
