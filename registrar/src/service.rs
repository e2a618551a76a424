//! The async glue between the sans-IO [`Registrar`] and a [`LocationStore`]: load, decide, store.

use crate::binding::Flow;
use crate::error::Error;
use crate::register::{RegisterOutcome, Registrar};
use crate::store::LocationStore;
use std::hash::{BuildHasher, RandomState};
use std::time::SystemTime;
use tandem_sip_core::Request;
use tokio::sync::Mutex;

/// Lock stripes serialising REGISTERs of one AOR within a process.
const STRIPES: usize = 64;

/// A registrar over a store: hand it a REGISTER and the flow it came on, get the response. No sockets.
///
/// Within one process, REGISTERs for the same AOR are handled one at a time (striped async locks around
/// load → decide → apply), so concurrent refreshes cannot lose each other's bindings. Several processes
/// sharing one store (PostgreSQL, Redis) are not serialised against each other; the last write for a binding
/// wins, which RFC 3261's Call-ID/CSeq rules make harmless for the usual one-phone-per-binding traffic.
#[derive(Debug)]
pub struct RegistrarService<S> {
    registrar: Registrar,
    store: S,
    stripes: Box<[Mutex<()>]>,
    hasher: RandomState,
}

impl<S: LocationStore> RegistrarService<S> {
    /// A service deciding with `registrar` and keeping bindings in `store`.
    pub fn new(registrar: Registrar, store: S) -> RegistrarService<S> {
        RegistrarService {
            registrar,
            store,
            stripes: (0..STRIPES).map(|_| Mutex::new(())).collect(),
            hasher: RandomState::new(),
        }
    }

    /// The sans-IO registrar deciding.
    pub fn registrar(&self) -> &Registrar {
        &self.registrar
    }

    /// The store.
    pub fn store(&self) -> &S {
        &self.store
    }

    /// Handle a REGISTER received at `now` on `flow`: read the AOR's bindings, decide, store the changes.
    ///
    /// The outcome's response is the one to send. On `Err` nothing was stored; send
    /// [`Registrar::server_error`] (RFC 3261 §10.3: a failed commit is a 500).
    pub async fn handle(
        &self,
        now: SystemTime,
        request: &Request,
        flow: &Flow,
    ) -> Result<RegisterOutcome, Error> {
        let aor = match self.registrar.address_of_record(request) {
            Ok(aor) => aor,
            Err(refused) => return Ok(*refused),
        };
        let stripe = self.hasher.hash_one(&aor) % self.stripes.len() as u64;
        // `stripe` is below the number of stripes.
        let _serialised = self.stripes[usize::try_from(stripe).unwrap_or(0)]
            .lock()
            .await;
        let current = self.store.bindings(&aor, now).await?;
        // The AOR was found above: the registrar does not look for it again.
        let outcome = self
            .registrar
            .handle_register_of(now, request, flow, &current, aor);
        if let Some(aor) = &outcome.aor
            && !outcome.changes.is_empty()
        {
            self.store.apply(aor, &outcome.changes).await?;
        }
        Ok(outcome)
    }
}
