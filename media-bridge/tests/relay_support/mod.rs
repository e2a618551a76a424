//! Shared by the `relay_*` tests: a relay on a documentation address, the SDP samples of rtp-core, and ways
//! to look into rewritten SDP after parsing it again.
#![allow(dead_code)]

use std::net::IpAddr;
use std::sync::Arc;
use std::time::Instant;

use tandem_media_bridge::dtls::{CertificateFingerprint, HashFunction};
use tandem_media_bridge::session::{LegMedia, MediaUpdate, Relay, RelayConfig, StreamId};
use tandem_rtp_core::SessionDescription;
use tandem_rtp_core::sdp::{Attribute, MediaDescription};

/// The address the relay advertises.
pub const RELAY_IP: &str = "203.0.113.7";

/// Our certificate's fingerprint, as the DTLS layer would hand it over.
pub fn our_fingerprint() -> CertificateFingerprint {
    CertificateFingerprint::new(HashFunction::Sha256, &[0xA5; 32]).unwrap()
}

pub fn relay_ip() -> IpAddr {
    RELAY_IP.parse().unwrap()
}

pub fn config() -> RelayConfig {
    RelayConfig::new(relay_ip()).with_fingerprint(our_fingerprint())
}

pub fn relay() -> Relay {
    Relay::new(config()).unwrap()
}

/// A sample from `rtp-core/tests/data/sdp`.
pub fn sample(name: &str) -> SessionDescription {
    let path = format!(
        "{}/../rtp-core/tests/data/sdp/{name}",
        env!("CARGO_MANIFEST_DIR")
    );
    std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("{path}: {e}"))
        .parse()
        .unwrap()
}

pub fn parse(text: &str) -> SessionDescription {
    text.parse().unwrap()
}

/// Serializes and parses again: every assertion looks at what a peer would read.
pub fn reparse(sdp: &SessionDescription) -> SessionDescription {
    let text = sdp.to_string();
    text.parse()
        .unwrap_or_else(|e| panic!("rewritten SDP does not parse: {e}\n{text}"))
}

/// The values of the attributes named `name` (empty string for flags), in order.
pub fn values(attributes: &[Attribute], name: &str) -> Vec<String> {
    attributes
        .iter()
        .filter(|a| a.name() == name)
        .map(|a| {
            let text = a.to_string();
            text.split_once(':')
                .map_or(String::new(), |(_, v)| v.to_owned())
        })
        .collect()
}

pub fn has(media: &MediaDescription, name: &str) -> bool {
    media.has_attribute(name)
}

pub fn formats(media: &MediaDescription) -> Vec<String> {
    media.formats.iter().map(|f| f.to_string()).collect()
}

pub fn connection(sdp: &SessionDescription, index: usize) -> String {
    sdp.connection_of(&sdp.media[index])
        .map(|c| c.address.to_string())
        .unwrap_or_default()
}

pub fn drain(relay: &mut Relay) -> Vec<MediaUpdate> {
    std::iter::from_fn(|| relay.poll_update()).collect()
}

/// The latest published snapshot per stream among `updates`.
pub fn upserts(updates: &[MediaUpdate]) -> Vec<Arc<LegMedia>> {
    let mut out: Vec<Arc<LegMedia>> = Vec::new();
    for u in updates {
        if let MediaUpdate::Upsert(m) = u {
            out.retain(|o| o.id != m.id);
            out.push(Arc::clone(m));
        }
    }
    out
}

/// The snapshot of the leg tagged `tag` (or the untagged leg for `None`), section `index`.
pub fn leg_media(relay: &Relay, call_id: &str, tag: Option<&str>, index: usize) -> Arc<LegMedia> {
    let stats = relay.query(call_id).unwrap();
    let leg = stats
        .legs
        .iter()
        .find(|l| l.tag.as_deref() == tag)
        .unwrap_or_else(|| panic!("no leg {tag:?}"));
    let id: StreamId = leg.media[index].id;
    relay.media(id).expect("published")
}

pub fn now() -> Instant {
    Instant::now()
}
