//! The relay's control plane: the table of calls and the verbs that change it.

use std::collections::{HashMap, VecDeque};
use std::sync::Arc;
use std::time::Instant;

use tandem_rtp_core::SessionDescription;

use super::call::{Call, Resources, free_pair};
use super::leg::{Leg, MediaUpdate, Stream};
use super::{
    AnswerRequest, CallStats, DeleteRequest, DtmfInjection, DtmfRequest, LegMedia, LegStats,
    MediaStats, OfferRequest, PortClaim, PortPool, RelayConfig, SessionError, StreamId, Traffic,
};

/// The control plane of the media relay: calls keyed by Call-ID, each with a caller and a callee leg.
///
/// Sans-IO, like the rest of the crate: the caller passes `now`, and drains [`Relay::poll_update`] for what
/// the packet path must do. See the [module documentation](super) for the whole picture.
#[derive(Debug)]
pub struct Relay {
    config: RelayConfig,
    pool: PortPool,
    /// Claims pairs from the operating system as the pool hands them out, when the driver supplies it.
    claim: Option<Box<dyn PortClaim>>,
    calls: HashMap<String, Call>,
    /// Which call each stream belongs to, for traffic reports.
    streams: HashMap<StreamId, String>,
    next_stream: u64,
    updates: VecDeque<MediaUpdate>,
}

impl Relay {
    /// A relay with no calls. Fails if the configuration has no interface, advertises an unspecified address,
    /// or its port range holds no RTP/RTCP pair.
    pub fn new(config: RelayConfig) -> Result<Self, SessionError> {
        if config.interfaces.is_empty() {
            return Err(SessionError::InvalidConfig {
                reason: "no interface to advertise",
            });
        }
        if config
            .interfaces
            .iter()
            .any(|i| i.advertised.is_unspecified() || i.advertised.is_multicast())
        {
            return Err(SessionError::InvalidConfig {
                reason: "an interface advertises an unspecified or multicast address",
            });
        }
        let pool = PortPool::new(config.ports.clone())?;
        Ok(Relay {
            config,
            pool,
            claim: None,
            calls: HashMap::new(),
            streams: HashMap::new(),
            next_stream: 0,
            updates: VecDeque::new(),
        })
    }

    /// The configuration.
    pub fn config(&self) -> &RelayConfig {
        &self.config
    }

    /// The port pool (to watch how full it is).
    pub fn port_pool(&self) -> &PortPool {
        &self.pool
    }

    /// Has every port pair claimed through `claim` as it is handed out (and released through it when it goes
    /// back): pairs it refuses are skipped (counted in [`PortPool::skipped`]). Without one, the pool hands
    /// out pairs without asking. Set it before the first call.
    pub fn set_port_claim(&mut self, claim: Box<dyn PortClaim>) {
        self.claim = Some(claim);
    }

    /// Takes an offer and returns its SDP rewritten for the answerer.
    ///
    /// A new Call-ID creates the call: the caller's leg (tagged `from_tag`) and the callee's leg (tagged by
    /// its answer), each with a port pair per relayed media section. A known Call-ID is a re-offer from the
    /// leg tagged `from_tag` (either side): ports stay, ICE restarts when the offerer's credentials change,
    /// keys stay unless the offerer's change. On error nothing changes.
    pub fn offer(
        &mut self,
        request: OfferRequest,
        now: Instant,
    ) -> Result<SessionDescription, SessionError> {
        let (mut draft, offerer) = match self.calls.get(&request.call_id) {
            Some(call) => {
                let x =
                    call.leg_index(&request.from_tag)
                        .ok_or_else(|| SessionError::LegNotFound {
                            call_id: request.call_id.clone(),
                            tag: request.from_tag.clone(),
                        })?;
                (call.clone(), x)
            }
            None if self.calls.len() >= self.config.max_calls => {
                return Err(SessionError::TooManyCalls {
                    limit: self.config.max_calls,
                });
            }
            None => (
                Call::new(request.call_id.clone(), request.from_tag.clone(), now),
                0,
            ),
        };
        let mut res = Resources::new(
            &self.config,
            &mut self.pool,
            self.claim.as_deref_mut(),
            &mut self.next_stream,
        );
        match draft.apply_offer(&mut res, offerer, &request.sdp, &request.options, now) {
            Ok(sdp) => {
                res.commit();
                self.install(draft);
                Ok(sdp)
            }
            Err(e) => {
                res.rollback();
                Err(e)
            }
        }
    }

    /// Takes an answer to the call's latest offer and returns its SDP rewritten for the offerer. Answers may
    /// repeat (a 183 and then a 200 both answer the offer): each one replaces what the previous one set. The
    /// answering leg takes `to_tag` (an answer from another branch of a forked call replaces it). On error
    /// nothing changes.
    pub fn answer(
        &mut self,
        request: AnswerRequest,
        now: Instant,
    ) -> Result<SessionDescription, SessionError> {
        let call = self
            .calls
            .get(&request.call_id)
            .ok_or_else(|| SessionError::CallNotFound {
                call_id: request.call_id.clone(),
            })?;
        let mut draft = call.clone();
        let mut res = Resources::new(
            &self.config,
            &mut self.pool,
            self.claim.as_deref_mut(),
            &mut self.next_stream,
        );
        let outcome = draft.apply_answer(
            &mut res,
            &request.from_tag,
            &request.to_tag,
            &request.sdp,
            &request.options,
            now,
        );
        match outcome {
            Ok(sdp) => {
                res.commit();
                self.install(draft);
                Ok(sdp)
            }
            Err(e) => {
                res.rollback();
                Err(e)
            }
        }
    }

    /// Ends a call: its ports go back to the pool and its streams are removed from the packet path. Returns
    /// its final statistics. Tags, when given, must belong to the call (a tag is accepted for a callee that
    /// has not answered yet).
    pub fn delete(&mut self, request: &DeleteRequest) -> Result<CallStats, SessionError> {
        let call = self
            .calls
            .get(&request.call_id)
            .ok_or_else(|| SessionError::CallNotFound {
                call_id: request.call_id.clone(),
            })?;
        let untagged = call.legs.iter().any(|l| l.tag.is_none());
        let tags = [&request.from_tag, &request.to_tag];
        if let Some(tag) = tags
            .into_iter()
            .flatten()
            .find(|t| call.leg_index(t).is_none() && !untagged)
        {
            return Err(SessionError::LegNotFound {
                call_id: request.call_id.clone(),
                tag: tag.clone(),
            });
        }
        let call =
            self.calls
                .remove(&request.call_id)
                .ok_or_else(|| SessionError::CallNotFound {
                    call_id: request.call_id.clone(),
                })?;
        let stats = call_stats(&call);
        self.retire(call);
        Ok(stats)
    }

    /// The statistics of a call.
    pub fn query(&self, call_id: &str) -> Result<CallStats, SessionError> {
        self.calls
            .get(call_id)
            .map(call_stats)
            .ok_or_else(|| SessionError::CallNotFound {
                call_id: call_id.to_owned(),
            })
    }

    /// The Call-IDs of the calls held, in no particular order.
    pub fn call_ids(&self) -> impl Iterator<Item = &str> + '_ {
        self.calls.keys().map(String::as_str)
    }

    /// How many calls are held.
    pub fn call_count(&self) -> usize {
        self.calls.len()
    }

    /// The snapshot last published for a stream.
    pub fn media(&self, id: StreamId) -> Option<Arc<LegMedia>> {
        let call = self.calls.get(self.streams.get(&id)?)?;
        call.legs
            .iter()
            .flat_map(|l| &l.streams)
            .find(|s| s.id == id)?
            .published
            .clone()
    }

    /// Records what the packet path saw on a stream (cumulative counters, latched address, last packet time).
    /// Returns `false` for a stream that no longer exists.
    pub fn record_traffic(&mut self, id: StreamId, traffic: Traffic) -> bool {
        let Some(call) = self.streams.get(&id).and_then(|c| self.calls.get_mut(c)) else {
            return false;
        };
        let stream = call
            .legs
            .iter_mut()
            .flat_map(|l| l.streams.iter_mut())
            .find(|s| s.id == id);
        match stream {
            Some(s) => {
                s.traffic = traffic;
                true
            }
            None => false,
        }
    }

    /// Expires the calls silent for [`RelayConfig::media_timeout`] (no signalling and no packet on any
    /// stream), as rtpengine's timeout does, and returns their final statistics.
    pub fn sweep(&mut self, now: Instant) -> Vec<CallStats> {
        let timeout = self.config.media_timeout;
        let expired: Vec<String> = self
            .calls
            .values()
            .filter(|c| now.saturating_duration_since(c.last_activity()) >= timeout)
            .map(|c| c.id.clone())
            .collect();
        let mut out = Vec::with_capacity(expired.len());
        for id in expired {
            if let Some(call) = self.calls.remove(&id) {
                out.push(call_stats(&call));
                self.retire(call);
            }
        }
        out
    }

    /// When [`Relay::sweep`] could next expire a call, if any call is held. O(calls).
    pub fn poll_timeout(&self) -> Option<Instant> {
        self.calls
            .values()
            .filter_map(|c| c.last_activity().checked_add(self.config.media_timeout))
            .min()
    }

    /// Plays RFC 4733 DTMF into a call: queues a [`MediaUpdate::Dtmf`] for every stream of the other
    /// party's leg whose endpoint accepts `telephone-event`. Returns the streams the digits go to. Fails if
    /// the call or the tag is unknown, or no stream of the other party takes `telephone-event`.
    pub fn play_dtmf(&mut self, request: &DtmfRequest) -> Result<Vec<StreamId>, SessionError> {
        let call = self
            .calls
            .get(&request.call_id)
            .ok_or_else(|| SessionError::CallNotFound {
                call_id: request.call_id.clone(),
            })?;
        let from = match &request.from_tag {
            None => 0,
            Some(tag) => call
                .leg_index(tag)
                .ok_or_else(|| SessionError::LegNotFound {
                    call_id: request.call_id.clone(),
                    tag: tag.clone(),
                })?,
        };
        let target = call.legs.get(1 - from.min(1));
        let mut streams = Vec::new();
        for media in target
            .into_iter()
            .flat_map(|l| &l.streams)
            .filter_map(|s| s.published.as_ref())
        {
            let Some(codec) = media.telephone_event_codec() else {
                continue;
            };
            streams.push(media.id);
            self.updates.push_back(MediaUpdate::Dtmf(DtmfInjection {
                stream: media.id,
                payload_type: codec.payload_type,
                clock_rate: codec.clock_rate.max(1),
                digits: request.digits.clone(),
                duration: request.duration,
                volume: request.volume.min(63),
                pause: request.pause,
            }));
        }
        if streams.is_empty() {
            return Err(SessionError::NoTelephoneEvent {
                call_id: request.call_id.clone(),
            });
        }
        Ok(streams)
    }

    /// Starts (`true`) or stops recording a call's decrypted media (NG `start recording` / `stop recording`;
    /// an offer or answer with [`MediaOptions::record_call`](super::MediaOptions::record_call) starts it too).
    /// The packet path writes the pcap file when it has a recording directory.
    pub fn set_recording(&mut self, call_id: &str, record: bool) -> Result<(), SessionError> {
        let mut call = self
            .calls
            .remove(call_id)
            .ok_or_else(|| SessionError::CallNotFound {
                call_id: call_id.to_owned(),
            })?;
        call.record = record;
        self.install(call);
        Ok(())
    }

    /// Stops recording a call: [`Relay::set_recording`] with `false`.
    pub fn stop_recording(&mut self, call_id: &str) -> Result<(), SessionError> {
        self.set_recording(call_id, false)
    }

    /// The next change for the packet path.
    pub fn poll_update(&mut self) -> Option<MediaUpdate> {
        self.updates.pop_front()
    }

    /// Stores a call after a successful offer or answer and publishes what changed.
    fn install(&mut self, mut call: Call) {
        let [a, b] = &mut call.legs;
        publish(&call.id, call.record, a, b, &mut self.updates);
        publish(&call.id, call.record, b, a, &mut self.updates);
        for stream in call.legs.iter().flat_map(|l| &l.streams) {
            self.streams.insert(stream.id, call.id.clone());
        }
        self.calls.insert(call.id.clone(), call);
    }

    /// Gives a removed call's ports back and takes its streams off the packet path.
    fn retire(&mut self, call: Call) {
        for pair in call.ports() {
            free_pair(&mut self.pool, self.claim.as_deref_mut(), pair);
        }
        for stream in call.legs.iter().flat_map(|l| &l.streams) {
            self.streams.remove(&stream.id);
            if let Some(old) = &stream.published {
                self.updates.push_back(MediaUpdate::Remove {
                    id: old.id,
                    ports: old.ports,
                });
            }
        }
    }
}

/// Publishes the streams of `leg` whose snapshot changed (their peers are the streams of `other`).
fn publish(
    call_id: &str,
    record: bool,
    leg: &mut Leg,
    other: &Leg,
    updates: &mut VecDeque<MediaUpdate>,
) {
    let tag = leg.tag.clone();
    for (index, stream) in leg.streams.iter_mut().enumerate() {
        let peer = other.streams.get(index).map_or(stream.id, |s| s.id);
        let fresh = stream.snapshot(call_id, tag.as_deref(), index, peer, record);
        publish_stream(stream, fresh, updates);
    }
}

fn publish_stream(
    stream: &mut Stream,
    fresh: Option<LegMedia>,
    updates: &mut VecDeque<MediaUpdate>,
) {
    match (fresh, stream.published.take()) {
        (Some(mut fresh), Some(old)) => {
            fresh.version = old.version;
            if fresh == *old {
                stream.published = Some(old);
                return;
            }
            if fresh.ports != old.ports {
                updates.push_back(MediaUpdate::Remove {
                    id: old.id,
                    ports: old.ports,
                });
            }
            fresh.version = old.version.wrapping_add(1);
            let fresh = Arc::new(fresh);
            updates.push_back(MediaUpdate::Upsert(Arc::clone(&fresh)));
            stream.published = Some(fresh);
        }
        (Some(mut fresh), None) => {
            fresh.version = 1;
            let fresh = Arc::new(fresh);
            updates.push_back(MediaUpdate::Upsert(Arc::clone(&fresh)));
            stream.published = Some(fresh);
        }
        (None, Some(old)) => updates.push_back(MediaUpdate::Remove {
            id: old.id,
            ports: old.ports,
        }),
        (None, None) => {}
    }
}

fn call_stats(call: &Call) -> CallStats {
    CallStats {
        call_id: call.id.clone(),
        created: call.created,
        last_signal: call.last_signal,
        legs: call
            .legs
            .iter()
            .map(|leg| LegStats {
                tag: leg.tag.clone(),
                created: leg.created,
                media: leg
                    .streams
                    .iter()
                    .enumerate()
                    .map(|(i, s)| media_stats(i, s))
                    .collect(),
            })
            .collect(),
    }
}

fn media_stats(index: usize, s: &Stream) -> MediaStats {
    let peer = s.peer.as_ref();
    MediaStats {
        id: s.id,
        index,
        media_type: s.media_type.clone(),
        protocol: s.protocol,
        rejected: s.rejected,
        ice: s.ice.is_some(),
        keying: s
            .protocol
            .map_or(super::Keying::None, super::TransportProtocol::keying),
        crypto_suite: s.srtp_setup().sdes_profile(),
        rtcp_mux: s.rtcp_mux,
        local_ports: s.ports,
        advertised_rtp: peer.and_then(|p| p.rtp),
        advertised_rtcp: if s.rtcp_mux {
            peer.and_then(|p| p.rtp)
        } else {
            peer.and_then(|p| p.rtcp)
        },
        traffic: s.traffic,
    }
}
