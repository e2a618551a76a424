//! SIP load balancing to destination sets for the Tandem VoIP toolkit, with the semantics of Kamailio's
//! `dispatcher` module, sans-IO.
//!
//! - **Sets**: [`DispatcherList`] reads a `dispatcher.list`-style file (`setid destination flags priority
//!   attrs`) or database rows ([`DestinationRow`]) into [`DestinationSet`]s of [`Destination`]s, and writes
//!   them back.
//! - **Selection**: [`Dispatcher::select`] orders a set's usable destinations with one of Kamailio's
//!   algorithms ([`Algorithm`]: hashes over Call-ID, From, To, Request-URI or its user, round-robin,
//!   random, priority, weight, call load, relative weight, …) into a [`Selection`]: the first pick and the
//!   failover order. [`Dispatcher::on_failure`] moves to the next destination on a timeout, transport error,
//!   408 or 5xx.
//! - **Health**: the dispatcher schedules OPTIONS probes ([`Dispatcher::poll_probe`]) and counts their
//!   outcomes ([`Dispatcher::handle_probe_reply`]) against up/down thresholds, with latency statistics;
//!   Inactive and Disabled destinations get no traffic. State changes come out as [`DispatcherEvent`]s and
//!   the whole picture as a [`Snapshot`].
//! - **Reload**: [`Dispatcher::reload`] swaps the sets live; destinations that remain keep their state,
//!   statistics and calls.
//!
//! - **Database**: with the `postgres` or `sqlite` feature, the `source` module loads the sets from a table with
//!   the columns of Kamailio's `dispatcher` table (a thin async loader around
//!   [`DispatcherList::from_rows`]).
//!
//! Outside the optional `source` module, nothing here reads a clock or opens a socket. The [`driver`] module shows how an application (the Tandem
//! proxy) drives the probes with its transaction layer.
//!
//! ```
//! use std::time::Instant;
//! use tandem_dispatcher::{Algorithm, Dispatcher, DispatcherConfig, DispatcherList, FailureReason, Failover};
//!
//! let list: DispatcherList = "1 sip:10.0.0.1:5080 0 0 weight=80\n1 sip:10.0.0.2:5080 0 0 weight=20\n"
//!     .parse()
//!     .unwrap();
//! let mut dispatcher = Dispatcher::new(list, DispatcherConfig::default(), Instant::now());
//! let mut selection = dispatcher.select(1, Algorithm::Weight, "call-id-1").unwrap();
//! let first = selection.current().unwrap().uri().clone();
//! // The first destination timed out: fail over to the other one.
//! match dispatcher.on_failure(&mut selection, FailureReason::Timeout) {
//!     Failover::Next(next) => assert_ne!(next.uri(), &first),
//!     other => panic!("expected a failover, got {other:?}"),
//! }
//! ```
#![warn(missing_docs, unreachable_pub)]

mod algorithm;
mod call_load;
mod destination;
mod dispatcher;
mod distribution;
pub mod driver;
mod error;
mod health;
mod list;
mod probe;
mod reply_codes;
mod selection;
mod snapshot;
#[cfg(feature = "sql")]
pub mod source;

pub use algorithm::{Algorithm, SelectInput, UnknownAlgorithm};
pub use destination::{
    Attributes, Destination, DestinationId, DestinationState, MAX_ATTRIBUTES_LEN, SendSocket,
};
pub use dispatcher::{Dispatcher, DispatcherConfig, DispatcherEvent, ReloadSummary, StateCause};
pub use error::{Error, Field, ListError, ListErrorKind, ReplyCodesError};
pub use health::{LatencyStats, LatencySummary};
pub use list::{
    DestinationRow, DestinationSet, DispatcherList, MAX_DESTINATIONS, MAX_LINE_LEN, MAX_LIST_LEN,
    MAX_SET_DESTINATIONS,
};
pub use probe::{ProbeConfig, ProbeId, ProbeMode, ProbeOutcome, ProbeRequest};
pub use reply_codes::ReplyCodes;
pub use selection::{Candidate, Failover, FailureReason, Selection};
pub use snapshot::{DestinationSnapshot, SetSnapshot, Snapshot};

/// The README's example, compiled and run as a doctest.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
struct ReadmeDoctests;
