//! A serializable view of every destination's state, for dashboards, APIs and metrics.

use crate::destination::DestinationState;
use crate::health::LatencySummary;

/// The state of every set and destination at one moment ([`crate::Dispatcher::snapshot`]).
#[derive(Debug, Clone, Default, PartialEq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct Snapshot {
    /// The sets, by increasing id.
    pub sets: Vec<SetSnapshot>,
    /// Calls tracked for the call-load algorithm.
    pub tracked_calls: usize,
    /// Probes sent and not answered yet.
    pub probes_in_flight: usize,
}

impl Snapshot {
    /// The set with this id.
    pub fn set(&self, id: u32) -> Option<&SetSnapshot> {
        self.sets.iter().find(|s| s.id == id)
    }
}

/// One set in a [`Snapshot`].
#[derive(Debug, Clone, Default, PartialEq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct SetSnapshot {
    /// The set id.
    pub id: u32,
    /// Its destinations, in selection order (priority, then list order).
    pub destinations: Vec<DestinationSnapshot>,
}

/// One destination in a [`Snapshot`].
#[derive(Debug, Clone, PartialEq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct DestinationSnapshot {
    /// The destination id ([`crate::DestinationId::as_u64`]).
    pub id: u64,
    /// The destination URI.
    pub uri: String,
    /// The current state.
    pub state: DestinationState,
    /// Whether the destination is probed under [`crate::ProbeMode::Flagged`].
    pub probing: bool,
    /// The flags as loaded.
    pub flags: u32,
    /// The priority.
    pub priority: i32,
    /// The attributes as loaded.
    pub attrs: String,
    /// The `duid` attribute.
    pub duid: Option<String>,
    /// The `weight` attribute.
    pub weight: Option<u32>,
    /// The `rweight` attribute.
    pub rweight: Option<u32>,
    /// The `maxload` attribute.
    pub maxload: Option<u32>,
    /// Calls currently counted on the destination.
    pub active_calls: u32,
    /// Probes (or requests, when counted) failed in a row.
    pub consecutive_failures: u32,
    /// Probes succeeded in a row.
    pub consecutive_successes: u32,
    /// Probes sent.
    pub probes_sent: u64,
    /// Probes that failed (timeout, transport error or a reply code not accepted).
    pub probes_failed: u64,
    /// Requests that failed over away from the destination.
    pub traffic_failures: u64,
    /// Status code of the latest probe reply (`None` if none yet or it timed out).
    pub last_probe_status: Option<u16>,
    /// Probe round-trip statistics.
    pub latency: LatencySummary,
}
