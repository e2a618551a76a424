//! The in-process store: AORs spread over shards, each a `parking_lot::Mutex<HashMap>`, so registrations of
//! different AORs rarely wait for each other and nothing holds a global lock.

use super::{CredentialStore, LocationStore};
use crate::aor::Aor;
use crate::binding::{
    Binding, BindingChange, BindingKey, Flow, FlowToken, from_unix_millis, order_by_q, unix_millis,
};
use crate::credential::{Credential, DigestAlgorithm, Ha1};
use crate::error::Error;
use bytes::Bytes;
use parking_lot::{Mutex, RwLock};
use std::collections::HashMap;
use std::hash::{BuildHasher, RandomState};
use std::time::SystemTime;
use tandem_sip_core::header::{Path, QValue};
use tandem_sip_core::{CallId, NameAddr, TypedHeader};

/// Shards when none are asked for: enough that a few cores rarely meet on one.
const DEFAULT_SHARDS: usize = 64;

/// AOR text → its bindings, each slice exactly as long as the AOR has bindings (nearly always one).
type Shard = Mutex<HashMap<Box<str>, Box<[Stored]>>>;

/// Bindings and credentials in memory, for one process (tests, a single-host stack, or a cache).
///
/// [`LocationStore::sweep`] scans one shard at a time, so it never stops registrations of other shards; a
/// scan is linear in the number of bindings, which for a memory store is the price of refreshes never having
/// to update a second index.
///
/// A binding is kept compact, not as the [`Binding`] the registrar hands over: its text fields are copied
/// out of the REGISTER (a [`Binding`] slices the datagram, which would keep all of it alive), fields most
/// bindings lack (instance, reg-id, Path) live behind one optional box, and the contact is kept as its wire
/// text and parsed again on read. About 300 heap bytes per registered user in all (see
/// `tests/memory_footprint.rs`).
#[derive(Debug)]
pub struct MemoryStore {
    shards: Box<[Shard]>,
    hasher: RandomState,
    credentials: RwLock<HashMap<(String, String), Credential>>,
}

/// One binding as the memory store keeps it.
#[derive(Debug)]
struct Stored {
    /// The binding's name, when it is not the contact URI's text (the usual name of a non-outbound binding).
    key: StoredKey,
    /// The contact's wire form (as [`NameAddr`] writes it).
    contact: Box<str>,
    call_id: Box<[u8]>,
    expires_ms: i64,
    cseq: u32,
    q: Option<QValue>,
    flow: Option<Box<Flow>>,
    user_agent: Option<Box<str>>,
    rare: Option<Box<Rare>>,
}

/// A stored binding's name.
#[derive(Debug)]
enum StoredKey {
    /// Text found in the stored contact at these byte offsets (for a plain binding: its contact URI).
    InContact(u32, u32),
    /// Any other name.
    Own(Box<str>),
}

/// What few bindings carry: RFC 5626 instance and reg-id, RFC 3327 Path.
#[derive(Debug)]
struct Rare {
    instance: Option<Box<str>>,
    reg_id: Option<u32>,
    /// Path entries in wire form, first entry first.
    path: Box<[Box<str>]>,
}

impl Stored {
    fn new(binding: &Binding) -> Stored {
        let contact = binding.contact.to_string();
        let key = binding.key.as_str();
        // The key of a plain binding is its contact URI's text, found in the contact's (any occurrence of
        // the key's text will do: `key()` reads back the same text).
        let key = match contact.find(key) {
            Some(start) => u32::try_from(start)
                .ok()
                .zip(u32::try_from(start + key.len()).ok())
                .map_or_else(
                    || StoredKey::Own(key.into()),
                    |(s, e)| StoredKey::InContact(s, e),
                ),
            _ => StoredKey::Own(key.into()),
        };
        let rare =
            (binding.instance.is_some() || binding.reg_id.is_some() || !binding.path.is_empty())
                .then(|| {
                    Box::new(Rare {
                        instance: binding.instance.as_deref().map(Box::from),
                        reg_id: binding.reg_id,
                        path: binding
                            .path
                            .iter()
                            .map(|p| p.0.to_string().into_boxed_str())
                            .collect(),
                    })
                });
        Stored {
            key,
            contact: contact.into_boxed_str(),
            call_id: Box::from(binding.call_id.as_bytes().as_ref()),
            expires_ms: unix_millis(binding.expires_at),
            cseq: binding.cseq,
            q: binding.q,
            flow: binding.flow.as_ref().map(|f| {
                Box::new(Flow::new(
                    FlowToken::new(Bytes::copy_from_slice(f.token.as_bytes())),
                    f.transport.clone(),
                    f.remote,
                ))
            }),
            user_agent: binding.user_agent.as_deref().map(Box::from),
            rare,
        }
    }

    fn key(&self) -> &str {
        match &self.key {
            StoredKey::Own(key) => key,
            StoredKey::InContact(start, end) => usize::try_from(*start)
                .ok()
                .zip(usize::try_from(*end).ok())
                .and_then(|(s, e)| self.contact.get(s..e))
                .unwrap_or_default(),
        }
    }

    fn is_expired(&self, now_ms: i64) -> bool {
        self.expires_ms <= now_ms
    }

    /// The binding again: equal to the one stored.
    fn to_binding(&self) -> Result<Binding, Error> {
        let contact = NameAddr::parse(&Bytes::copy_from_slice(self.contact.as_bytes()))
            .map_err(|e| Error::corrupt("contact", e))?;
        let call_id = CallId::new(Bytes::copy_from_slice(&self.call_id))
            .map_err(|e| Error::corrupt("Call-ID", e))?;
        let mut binding = Binding::new(
            BindingKey::new(self.key()),
            contact,
            from_unix_millis(self.expires_ms),
            call_id,
            self.cseq,
        );
        binding.q = self.q;
        binding.flow = self.flow.as_deref().cloned();
        binding.user_agent = self.user_agent.as_deref().map(str::to_owned);
        if let Some(rare) = &self.rare {
            binding.instance = rare.instance.as_deref().map(str::to_owned);
            binding.reg_id = rare.reg_id;
            binding.path = rare
                .path
                .iter()
                .map(|p| {
                    Path::parse(&Bytes::copy_from_slice(p.as_bytes()))
                        .map_err(|e| Error::corrupt("Path", e))
                })
                .collect::<Result<_, _>>()?;
        }
        Ok(binding)
    }
}

/// One change, ready to apply under the shard's lock.
enum Change<'a> {
    Put(Stored),
    Remove(&'a str),
}

fn apply_to(list: &mut Vec<Stored>, changes: Vec<Change<'_>>) {
    for change in changes {
        match change {
            Change::Put(new) => match list.iter_mut().find(|b| b.key() == new.key()) {
                Some(slot) => *slot = new,
                None => list.push(new),
            },
            Change::Remove(key) => list.retain(|b| b.key() != key),
        }
    }
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
        let index = self.hasher.hash_one(aor.as_str()) % self.shards.len() as u64;
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
        let now_ms = unix_millis(now);
        let mut live = {
            let shard = self.shard(aor).lock();
            let Some(list) = shard.get(aor.as_str()) else {
                return Ok(Vec::new());
            };
            list.iter()
                .filter(|b| !b.is_expired(now_ms))
                .map(Stored::to_binding)
                .collect::<Result<Vec<_>, _>>()?
        };
        order_by_q(&mut live);
        Ok(live)
    }

    async fn apply(&self, aor: &Aor, changes: &[BindingChange]) -> Result<(), Error> {
        // Copy the new bindings out of their requests before taking the lock.
        let changes: Vec<Change<'_>> = changes
            .iter()
            .map(|change| match change {
                BindingChange::Upsert(binding) => Change::Put(Stored::new(binding)),
                BindingChange::Remove(key) => Change::Remove(key.as_str()),
            })
            .collect();
        let mut shard = self.shard(aor).lock();
        match shard.get_mut(aor.as_str()) {
            Some(slot) => {
                let mut list = std::mem::take(slot).into_vec();
                apply_to(&mut list, changes);
                if list.is_empty() {
                    shard.remove(aor.as_str());
                } else {
                    *slot = list.into_boxed_slice();
                }
            }
            None => {
                let mut list = Vec::with_capacity(1);
                apply_to(&mut list, changes);
                if !list.is_empty() {
                    shard.insert(Box::from(aor.as_str()), list.into_boxed_slice());
                }
            }
        }
        Ok(())
    }

    async fn sweep(&self, now: SystemTime) -> Result<usize, Error> {
        let now_ms = unix_millis(now);
        let mut removed = 0;
        for shard in self.shards.iter() {
            let mut shard = shard.lock();
            shard.retain(|_, list| {
                let expired = list.iter().filter(|b| b.is_expired(now_ms)).count();
                let live = list.len() - expired;
                if expired > 0 && live > 0 {
                    let kept: Vec<Stored> = std::mem::take(list)
                        .into_vec()
                        .into_iter()
                        .filter(|b| !b.is_expired(now_ms))
                        .collect();
                    *list = kept.into_boxed_slice();
                }
                removed += expired;
                live > 0
            });
        }
        Ok(removed)
    }

    async fn aors(&self, now: SystemTime) -> Result<Vec<Aor>, Error> {
        let now_ms = unix_millis(now);
        let mut aors = Vec::new();
        for shard in self.shards.iter() {
            let shard = shard.lock();
            for (aor, list) in shard.iter() {
                if list.iter().any(|b| !b.is_expired(now_ms)) {
                    aors.push(Aor::from_canonical(aor));
                }
            }
        }
        aors.sort();
        Ok(aors)
    }

    async fn binding_count(&self, now: SystemTime) -> Result<usize, Error> {
        let now_ms = unix_millis(now);
        let mut count = 0;
        for shard in self.shards.iter() {
            let shard = shard.lock();
            count += shard
                .values()
                .flat_map(|list| list.iter())
                .filter(|b| !b.is_expired(now_ms))
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

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::{Duration, UNIX_EPOCH};

    fn binding(contact: &str, key: &str) -> Binding {
        let contact = NameAddr::parse(&Bytes::copy_from_slice(contact.as_bytes()))
            .unwrap_or_else(|e| panic!("{contact}: {e}"));
        Binding::new(
            BindingKey::new(key),
            contact,
            UNIX_EPOCH + Duration::from_millis(1_700_000_600_123),
            CallId::new(Bytes::from_static(b"id@host")).unwrap_or_else(|e| panic!("{e}")),
            3,
        )
    }

    #[test]
    fn a_stored_binding_reads_back_equal_whatever_its_key() {
        let cases = [
            // The key is the contact URI: kept as a span of the contact text.
            binding(
                "<sip:a@192.0.2.1;transport=tcp>;x=1",
                "sip:a@192.0.2.1;transport=tcp",
            ),
            // The URI's text also appears in the display name: any occurrence is the same text.
            binding("\"sip:a@192.0.2.1\" <sip:a@192.0.2.1>", "sip:a@192.0.2.1"),
            // An outbound key, and a contact URI renamed by a later equivalent registration: own text.
            binding("<sip:a@192.0.2.1;ob>", "<urn:uuid:1>;reg-id=1"),
            binding("<sip:A@192.0.2.1>", "sip:A@192.0.2.1;transport=udp"),
        ];
        for b in cases {
            let stored = Stored::new(&b);
            assert_eq!(stored.key(), b.key.as_str());
            assert_eq!(stored.to_binding().ok(), Some(b));
        }
    }

    #[test]
    fn the_contact_uri_key_costs_no_text_of_its_own() {
        let stored = Stored::new(&binding("<sip:a@192.0.2.1>", "sip:a@192.0.2.1"));
        assert!(matches!(stored.key, StoredKey::InContact(1, 16)));
    }
}
