//! The in-process store: AORs spread over shards, each a `parking_lot::Mutex<HashMap>`, so registrations of
//! different AORs rarely wait for each other and nothing holds a global lock.

use super::{CredentialStore, LocationStore};
use crate::aor::Aor;
use crate::binding::{Binding, BindingChange, order_by_q};
use crate::credential::{Credential, DigestAlgorithm, Ha1};
use crate::error::Error;
use parking_lot::{Mutex, RwLock};
use std::collections::HashMap;
use std::hash::{BuildHasher, RandomState};
use std::time::SystemTime;

/// Shards when none are asked for: enough that a few cores rarely meet on one.
const DEFAULT_SHARDS: usize = 64;

type Shard = Mutex<HashMap<Aor, Vec<Binding>>>;

/// Bindings and credentials in memory, for one process (tests, a single-host stack, or a cache).
///
/// [`LocationStore::sweep`] scans one shard at a time, so it never stops registrations of other shards; a
/// scan is linear in the number of bindings, which for a memory store is the price of refreshes never having
/// to update a second index.
#[derive(Debug)]
pub struct MemoryStore {
    shards: Box<[Shard]>,
    hasher: RandomState,
    credentials: RwLock<HashMap<(String, String), Credential>>,
}

impl MemoryStore {
    /// An empty store with the default number of shards.
    pub fn new() -> MemoryStore {
        MemoryStore::with_shards(DEFAULT_SHARDS)
    }

    /// An empty store with `shards` shards (at least one).
    pub fn with_shards(shards: usize) -> MemoryStore {
        MemoryStore {
            shards: (0..shards.max(1)).map(|_| Mutex::default()).collect(),
            hasher: RandomState::new(),
            credentials: RwLock::default(),
        }
    }

    fn shard(&self, aor: &Aor) -> &Shard {
        let index = self.hasher.hash_one(aor) % self.shards.len() as u64;
        // `index` is below the length, which is at least one.
        &self.shards[usize::try_from(index).unwrap_or(0)]
    }
}

impl Default for MemoryStore {
    fn default() -> MemoryStore {
        MemoryStore::new()
    }
}

impl LocationStore for MemoryStore {
    async fn bindings(&self, aor: &Aor, now: SystemTime) -> Result<Vec<Binding>, Error> {
        let mut live: Vec<Binding> = self
            .shard(aor)
            .lock()
            .get(aor)
            .map(|list| {
                list.iter()
                    .filter(|b| !b.is_expired(now))
                    .cloned()
                    .collect()
            })
            .unwrap_or_default();
        order_by_q(&mut live);
        Ok(live)
    }

    async fn apply(&self, aor: &Aor, changes: &[BindingChange]) -> Result<(), Error> {
        let mut shard = self.shard(aor).lock();
        let list = shard.entry(aor.clone()).or_default();
        for change in changes {
            match change {
                BindingChange::Upsert(binding) => {
                    match list.iter_mut().find(|b| b.key == binding.key) {
                        Some(slot) => *slot = binding.clone(),
                        None => list.push(binding.clone()),
                    }
                }
                BindingChange::Remove(key) => list.retain(|b| b.key != *key),
            }
        }
        if list.is_empty() {
            shard.remove(aor);
        }
        Ok(())
    }

    async fn sweep(&self, now: SystemTime) -> Result<usize, Error> {
        let mut removed = 0;
        for shard in self.shards.iter() {
            let mut shard = shard.lock();
            shard.retain(|_, list| {
                let before = list.len();
                list.retain(|b| !b.is_expired(now));
                removed += before - list.len();
                !list.is_empty()
            });
        }
        Ok(removed)
    }

    async fn aors(&self, now: SystemTime) -> Result<Vec<Aor>, Error> {
        let mut aors = Vec::new();
        for shard in self.shards.iter() {
            let shard = shard.lock();
            aors.extend(
                shard
                    .iter()
                    .filter(|(_, list)| list.iter().any(|b| !b.is_expired(now)))
                    .map(|(aor, _)| aor.clone()),
            );
        }
        aors.sort();
        Ok(aors)
    }

    async fn binding_count(&self, now: SystemTime) -> Result<usize, Error> {
        let mut count = 0;
        for shard in self.shards.iter() {
            let shard = shard.lock();
            count += shard
                .values()
                .flatten()
                .filter(|b| !b.is_expired(now))
                .count();
        }
        Ok(count)
    }
}

impl CredentialStore for MemoryStore {
    async fn ha1(
        &self,
        username: &str,
        realm: &str,
        algorithm: DigestAlgorithm,
    ) -> Result<Option<Ha1>, Error> {
        let credentials = self.credentials.read();
        let key = (username.to_owned(), realm.to_owned());
        Ok(credentials
            .get(&key)
            .and_then(|c| c.ha1(algorithm))
            .cloned())
    }

    async fn put_credential(&self, credential: &Credential) -> Result<(), Error> {
        let key = (
            credential.username().to_owned(),
            credential.realm().to_owned(),
        );
        self.credentials.write().insert(key, credential.clone());
        Ok(())
    }

    async fn remove_credential(&self, username: &str, realm: &str) -> Result<bool, Error> {
        let key = (username.to_owned(), realm.to_owned());
        Ok(self.credentials.write().remove(&key).is_some())
    }
}
