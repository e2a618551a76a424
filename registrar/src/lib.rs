//! SIP registrar and location service for the Tandem VoIP toolkit.
//!
//! - [`Registrar`]: REGISTER processing per RFC 3261 §10.3 with Path (RFC 3327) and outbound flows
//!   (RFC 5626), sans-IO: given `now`, the request, the [`Flow`] it came on and the AOR's bindings, it returns
//!   a [`RegisterOutcome`] (the response and the [`BindingChange`]s to store).
//! - [`LocationStore`] / [`CredentialStore`]: async storage of bindings and of digest credentials (HA1 only),
//!   with backends behind features: `MemoryStore` (`memory`, default), `SqliteStore` (`sqlite`),
//!   `PostgresStore` (`postgres`), `RedisStore` (`redis`, with change notifications shared between proxies).
//! - [`RegistrarService`]: the short async driver that loads bindings, runs the registrar and stores the
//!   changes.
//!
//! ```
//! # #[cfg(feature = "memory")]
//! # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
//! use std::time::{Duration, SystemTime};
//! use bytes::Bytes;
//! use tandem_registrar::{
//!     Aor, Flow, FlowToken, LocationStore, MemoryStore, Registrar, RegistrarConfig, RegistrarService,
//! };
//! use tandem_sip_core::{parse_message, Message, Transport};
//!
//! let service = RegistrarService::new(Registrar::new(RegistrarConfig::default()), MemoryStore::new());
//! let wire = "REGISTER sip:example.com SIP/2.0\r\n\
//!     Via: SIP/2.0/WSS df7jal23ls0d.invalid;branch=z9hG4bK56sdf\r\n\
//!     Max-Forwards: 70\r\n\
//!     To: <sip:alice@example.com>\r\n\
//!     From: <sip:alice@example.com>;tag=a73kszlfl\r\n\
//!     Call-ID: 1j9FpLxk3uxtm8tn@df7jal23ls0d.invalid\r\n\
//!     CSeq: 1 REGISTER\r\n\
//!     Supported: path, outbound\r\n\
//!     Contact: <sip:alice@df7jal23ls0d.invalid;transport=ws;ob>\
//!         ;+sip.instance=\"<urn:uuid:00000000-0000-1000-8000-AABBCCDDEEFF>\";reg-id=1;expires=600\r\n\
//!     Content-Length: 0\r\n\r\n";
//! let Ok(Message::Request(register)) = parse_message(Bytes::from(wire)) else { unreachable!() };
//! let flow = Flow::new(FlowToken::new("ws-42"), Transport::Wss, "203.0.113.7:50123".parse().unwrap());
//! let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000);
//!
//! let outcome = service.handle(now, &register, &flow).await.unwrap();
//! assert_eq!(outcome.response.status().as_u16(), 200);
//!
//! // A proxy routing a call to alice finds the binding and the flow to send it over.
//! let aor = Aor::parse("sip:alice@example.com").unwrap();
//! let bindings = service.store().bindings(&aor, now).await.unwrap();
//! assert_eq!(bindings[0].flow.as_ref().unwrap().token, FlowToken::new("ws-42"));
//! # });
//! ```
#![warn(missing_docs, unreachable_pub)]

mod aor;
mod binding;
pub mod credential;
mod error;
mod register;
mod service;
pub mod store;

pub use aor::Aor;
pub use binding::{Binding, BindingChange, BindingKey, Flow, FlowToken, order_by_q};
pub use credential::{Credential, DigestAlgorithm, Ha1};
pub use error::Error;
pub use register::{RegisterOutcome, RegisterRejection, Registrar, RegistrarConfig};
pub use service::RegistrarService;
#[cfg(feature = "memory")]
pub use store::MemoryStore;
#[cfg(feature = "postgres")]
pub use store::PostgresStore;
#[cfg(feature = "sqlite")]
pub use store::SqliteStore;
pub use store::{CredentialStore, LocationStore};

/// The README's example, compiled and run as a doc-test so that it stays true.
#[cfg(all(doctest, feature = "memory"))]
#[doc = include_str!("../README.md")]
struct ReadmeExample;
#[cfg(feature = "redis")]
pub use store::{RedisConfig, RedisStore, RegistrationEvent, RegistrationWatch};
