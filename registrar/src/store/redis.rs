//! The Redis store: bindings shared by several proxies, with every change published so that each proxy
//! learns of registrations made through the others as they happen.
//!
//! Layout under the key prefix `P` (default `tandem`):
//!
//! | key | type | holds |
//! |---|---|---|
//! | `P:loc:<aor>` | hash | binding key → the binding as JSON |
//! | `P:exp:<aor>` | sorted set | binding key, scored by its expiry (ms since the Unix epoch) |
//! | `P:aors:next` | sorted set | AOR, scored by its earliest binding expiry (what the sweep visits) |
//! | `P:aors:last` | sorted set | AOR, scored by its latest binding expiry (which AORs are live) |
//! | `P:cred:<realm>` | hash | `<ALGORITHM>:<username>` → HA1 hex |
//!
//! Every binding carries its own expiry: reads skip expired entries, [`LocationStore::sweep`] deletes them,
//! and the AOR's two keys get a Redis TTL at the latest expiry, so an AOR whose bindings all lapse
//! disappears even if no sweeper runs. (Redis 7.4 has TTLs per hash field; this layout works on the 7.0
//! servers still common.) Those TTLs follow the Redis server's clock, so `now` must be wall-clock time with
//! this backend, as it is in production.
//!
//! Writes run as Lua scripts, so each AOR update is atomic and published on the channel `P:registrations`
//! (`tandem:registrations` by default) in the same step; sweeps publish the removals too. The scripts build
//! keys from the prefix, so the store needs a single Redis server (or a primary with replicas), not a
//! cluster.

use super::record::BindingRecord;
use super::{CredentialStore, LocationStore};
use crate::aor::Aor;
use crate::binding::{Binding, BindingChange, BindingKey, order_by_q, unix_millis};
use crate::credential::{Credential, DigestAlgorithm, Ha1};
use crate::error::Error;
use futures_util::StreamExt;
use redis::aio::{MultiplexedConnection, PubSubStream};
use redis::{Client, Script};
use std::time::SystemTime;

/// AORs one sweep script run visits; the sweep repeats until a run visits fewer.
const SWEEP_BATCH: usize = 256;

/// Keeps the AOR index and the TTLs in step with the AOR's bindings (shared by the scripts).
const REFRESH_AOR: &str = r"
local function refresh_aor(loc, exp, next_index, last_index, aor)
  local first = redis.call('ZRANGE', exp, 0, 0, 'WITHSCORES')
  if #first == 0 then
    redis.call('DEL', loc, exp)
    redis.call('ZREM', next_index, aor)
    redis.call('ZREM', last_index, aor)
    return
  end
  local last = redis.call('ZRANGE', exp, -1, -1, 'WITHSCORES')
  redis.call('ZADD', next_index, first[2], aor)
  redis.call('ZADD', last_index, last[2], aor)
  redis.call('PEXPIREAT', loc, last[2])
  redis.call('PEXPIREAT', exp, last[2])
end
";

/// KEYS: loc, exp, aors:next, aors:last. ARGV: aor, channel, event, upsert count, then (key, JSON, expiry)
/// per upsert, then the keys to remove.
const APPLY: &str = r"
local upserts = tonumber(ARGV[4])
local i = 5
for _ = 1, upserts do
  redis.call('HSET', KEYS[1], ARGV[i], ARGV[i + 1])
  redis.call('ZADD', KEYS[2], ARGV[i + 2], ARGV[i])
  i = i + 3
end
while i <= #ARGV do
  redis.call('HDEL', KEYS[1], ARGV[i])
  redis.call('ZREM', KEYS[2], ARGV[i])
  i = i + 1
end
refresh_aor(KEYS[1], KEYS[2], KEYS[3], KEYS[4], ARGV[1])
redis.call('PUBLISH', ARGV[2], ARGV[3])
return 1
";

/// ARGV: prefix, now (ms), channel, batch. Returns { bindings removed, AORs visited }.
const SWEEP: &str = r"
local prefix = ARGV[1]
local now = ARGV[2]
local next_index = prefix .. ':aors:next'
local last_index = prefix .. ':aors:last'
local due = redis.call('ZRANGEBYSCORE', next_index, '-inf', now, 'LIMIT', 0, tonumber(ARGV[4]))
local removed = 0
for _, aor in ipairs(due) do
  local loc = prefix .. ':loc:' .. aor
  local exp = prefix .. ':exp:' .. aor
  local expired = redis.call('ZRANGEBYSCORE', exp, '-inf', now)
  for _, key in ipairs(expired) do
    redis.call('HDEL', loc, key)
  end
  redis.call('ZREMRANGEBYSCORE', exp, '-inf', now)
  removed = removed + #expired
  refresh_aor(loc, exp, next_index, last_index, aor)
  if #expired > 0 then
    redis.call('PUBLISH', ARGV[3], cjson.encode({ aor = aor, removes = expired }))
  end
end
return { removed, #due }
";

/// ARGV: prefix, now (ms). Counts bindings unexpired at `now`.
const COUNT: &str = r"
local aors = redis.call('ZRANGEBYSCORE', ARGV[1] .. ':aors:last', '(' .. ARGV[2], '+inf')
local count = 0
for _, aor in ipairs(aors) do
  count = count + redis.call('ZCOUNT', ARGV[1] .. ':exp:' .. aor, '(' .. ARGV[2], '+inf')
end
return count
";

/// Where a [`RedisStore`] connects and which keys it uses.
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RedisConfig {
    /// The server, e.g. `redis://127.0.0.1:6379` (or `rediss://` for TLS when the redis crate has it).
    pub url: String,
    /// Prefix of every key, and of the change channel `<prefix>:registrations` (default `tandem`). Stores
    /// sharing registrations use the same prefix.
    pub key_prefix: String,
}

impl RedisConfig {
    /// The server at `url` with the default prefix `tandem`.
    pub fn new(url: impl Into<String>) -> RedisConfig {
        RedisConfig {
            url: url.into(),
            key_prefix: "tandem".into(),
        }
    }

    /// The same server with another key prefix.
    pub fn with_prefix(mut self, prefix: impl Into<String>) -> RedisConfig {
        self.key_prefix = prefix.into();
        self
    }

    /// The channel changes are published on: `<prefix>:registrations`.
    pub fn channel(&self) -> String {
        format!("{}:registrations", self.key_prefix)
    }
}

/// Bindings and credentials in Redis, shared by every proxy that uses the same server and prefix.
#[derive(Clone)]
pub struct RedisStore {
    client: Client,
    connection: MultiplexedConnection,
    prefix: String,
    channel: String,
    apply: Script,
    sweep: Script,
    count: Script,
}

impl std::fmt::Debug for RedisStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisStore")
            .field("prefix", &self.prefix)
            .field("channel", &self.channel)
            .finish_non_exhaustive()
    }
}

/// A change to the bindings of one AOR, as published by a [`RedisStore`].
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RegistrationEvent {
    /// The AOR whose bindings changed.
    pub aor: Aor,
    /// What changed: upserts (registrations and refreshes) first, then removals (de-registrations and
    /// expiries).
    pub changes: Vec<BindingChange>,
}

/// The wire form of a [`RegistrationEvent`].
#[derive(serde::Serialize, serde::Deserialize)]
struct EventRecord {
    aor: String,
    #[serde(default)]
    upserts: Vec<BindingRecord>,
    #[serde(default)]
    removes: Vec<String>,
}

/// A subscription to the changes published by every [`RedisStore`] with the same prefix.
pub struct RegistrationWatch {
    messages: PubSubStream,
}

impl std::fmt::Debug for RegistrationWatch {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RegistrationWatch").finish_non_exhaustive()
    }
}

impl RegistrationWatch {
    /// The next change; `None` once the connection is gone. A message that cannot be read is an
    /// [`Error::Corrupt`] and the watch goes on.
    pub async fn next(&mut self) -> Option<Result<RegistrationEvent, Error>> {
        let message = self.messages.next().await?;
        Some(decode_event(message.get_payload_bytes()))
    }
}

fn decode_event(payload: &[u8]) -> Result<RegistrationEvent, Error> {
    let record: EventRecord =
        serde_json::from_slice(payload).map_err(|e| Error::corrupt("registration event", e))?;
    let aor = Aor::parse(&record.aor).map_err(|e| Error::corrupt("registration event AOR", e))?;
    let mut changes = record
        .upserts
        .into_iter()
        .map(|r| r.into_binding().map(BindingChange::Upsert))
        .collect::<Result<Vec<_>, _>>()?;
    changes.extend(
        record
            .removes
            .into_iter()
            .map(|k| BindingChange::Remove(BindingKey::new(k))),
    );
    Ok(RegistrationEvent { aor, changes })
}

impl RedisStore {
    /// Connect to the server of `config`.
    pub async fn connect(config: RedisConfig) -> Result<RedisStore, Error> {
        let client = Client::open(config.url.as_str())?;
        let connection = client.get_multiplexed_async_connection().await?;
        Ok(RedisStore {
            client,
            connection,
            channel: config.channel(),
            prefix: config.key_prefix,
            apply: Script::new(&format!("{REFRESH_AOR}{APPLY}")),
            sweep: Script::new(&format!("{REFRESH_AOR}{SWEEP}")),
            count: Script::new(COUNT),
        })
    }

    /// Subscribe to every change made through any store with this prefix (this one included), from now on.
    pub async fn watch(&self) -> Result<RegistrationWatch, Error> {
        let mut pubsub = self.client.get_async_pubsub().await?;
        pubsub.subscribe(&self.channel).await?;
        Ok(RegistrationWatch {
            messages: pubsub.into_on_message(),
        })
    }

    /// The channel changes are published on.
    pub fn channel(&self) -> &str {
        &self.channel
    }

    /// The key prefix.
    pub fn prefix(&self) -> &str {
        &self.prefix
    }

    fn key(&self, kind: &str, rest: &str) -> String {
        format!("{}:{kind}:{rest}", self.prefix)
    }

    fn credential_field(algorithm: DigestAlgorithm, username: &str) -> String {
        format!("{}:{username}", algorithm.as_str())
    }
}

impl LocationStore for RedisStore {
    async fn bindings(&self, aor: &Aor, now: SystemTime) -> Result<Vec<Binding>, Error> {
        let mut connection = self.connection.clone();
        let entries: Vec<(String, String)> = redis::cmd("HGETALL")
            .arg(self.key("loc", aor.as_str()))
            .query_async(&mut connection)
            .await?;
        let now = unix_millis(now);
        let mut bindings = Vec::with_capacity(entries.len());
        for (_, json) in entries {
            let record: BindingRecord =
                serde_json::from_str(&json).map_err(|e| Error::corrupt("binding", e))?;
            if record.expires_at > now {
                bindings.push(record.into_binding()?);
            }
        }
        order_by_q(&mut bindings);
        Ok(bindings)
    }

    async fn apply(&self, aor: &Aor, changes: &[BindingChange]) -> Result<(), Error> {
        if changes.is_empty() {
            return Ok(());
        }
        let mut event = EventRecord {
            aor: aor.as_str().to_owned(),
            upserts: Vec::new(),
            removes: Vec::new(),
        };
        for change in changes {
            match change {
                BindingChange::Upsert(b) => event.upserts.push(BindingRecord::new(aor, b)),
                BindingChange::Remove(key) => event.removes.push(key.as_str().to_owned()),
            }
        }
        let published =
            serde_json::to_string(&event).map_err(|e| Error::corrupt("registration event", e))?;
        let mut invocation = self.apply.prepare_invoke();
        invocation
            .key(self.key("loc", aor.as_str()))
            .key(self.key("exp", aor.as_str()))
            .key(format!("{}:aors:next", self.prefix))
            .key(format!("{}:aors:last", self.prefix))
            .arg(aor.as_str())
            .arg(&self.channel)
            .arg(published)
            .arg(event.upserts.len());
        for record in &event.upserts {
            let json = serde_json::to_string(record).map_err(|e| Error::corrupt("binding", e))?;
            invocation
                .arg(&record.binding_key)
                .arg(json)
                .arg(record.expires_at);
        }
        for key in &event.removes {
            invocation.arg(key);
        }
        let mut connection = self.connection.clone();
        let _: i64 = invocation.invoke_async(&mut connection).await?;
        Ok(())
    }

    async fn sweep(&self, now: SystemTime) -> Result<usize, Error> {
        let mut connection = self.connection.clone();
        let mut removed = 0usize;
        loop {
            let (count, visited): (usize, usize) = self
                .sweep
                .arg(&self.prefix)
                .arg(unix_millis(now))
                .arg(&self.channel)
                .arg(SWEEP_BATCH)
                .invoke_async(&mut connection)
                .await?;
            removed += count;
            if visited < SWEEP_BATCH {
                return Ok(removed);
            }
        }
    }

    async fn aors(&self, now: SystemTime) -> Result<Vec<Aor>, Error> {
        let mut connection = self.connection.clone();
        let names: Vec<String> = redis::cmd("ZRANGEBYSCORE")
            .arg(format!("{}:aors:last", self.prefix))
            .arg(format!("({}", unix_millis(now)))
            .arg("+inf")
            .query_async(&mut connection)
            .await?;
        let mut aors = names
            .iter()
            .map(|n| Aor::parse(n).map_err(|e| Error::corrupt("AOR", e)))
            .collect::<Result<Vec<_>, _>>()?;
        aors.sort();
        Ok(aors)
    }

    async fn binding_count(&self, now: SystemTime) -> Result<usize, Error> {
        let mut connection = self.connection.clone();
        let count: usize = self
            .count
            .arg(&self.prefix)
            .arg(unix_millis(now))
            .invoke_async(&mut connection)
            .await?;
        Ok(count)
    }
}

impl CredentialStore for RedisStore {
    async fn ha1(
        &self,
        username: &str,
        realm: &str,
        algorithm: DigestAlgorithm,
    ) -> Result<Option<Ha1>, Error> {
        let mut connection = self.connection.clone();
        let hex: Option<String> = redis::cmd("HGET")
            .arg(self.key("cred", realm))
            .arg(RedisStore::credential_field(algorithm, username))
            .query_async(&mut connection)
            .await?;
        hex.map(|hex| Ha1::new(algorithm, &hex).map_err(|e| Error::corrupt("HA1", e)))
            .transpose()
    }

    async fn put_credential(&self, credential: &Credential) -> Result<(), Error> {
        let key = self.key("cred", credential.realm());
        let mut pipe = redis::pipe();
        pipe.atomic();
        for algorithm in DigestAlgorithm::ALL {
            pipe.hdel(
                &key,
                RedisStore::credential_field(algorithm, credential.username()),
            )
            .ignore();
        }
        for ha1 in credential.ha1_values() {
            pipe.hset(
                &key,
                RedisStore::credential_field(ha1.algorithm(), credential.username()),
                ha1.as_str(),
            )
            .ignore();
        }
        let mut connection = self.connection.clone();
        let () = pipe.query_async(&mut connection).await?;
        Ok(())
    }

    async fn remove_credential(&self, username: &str, realm: &str) -> Result<bool, Error> {
        let mut command = redis::cmd("HDEL");
        command.arg(self.key("cred", realm));
        for algorithm in DigestAlgorithm::ALL {
            command.arg(RedisStore::credential_field(algorithm, username));
        }
        let mut connection = self.connection.clone();
        let removed: usize = command.query_async(&mut connection).await?;
        Ok(removed > 0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn events_published_by_the_sweep_script_decode() {
        // The shape `cjson.encode({ aor = …, removes = … })` produces.
        let event =
            decode_event(br#"{"removes":["sip:a@192.0.2.1"],"aor":"sip:alice@example.com"}"#)
                .unwrap();
        assert_eq!(event.aor.as_str(), "sip:alice@example.com");
        assert_eq!(
            event.changes,
            [BindingChange::Remove(BindingKey::new("sip:a@192.0.2.1"))]
        );
    }

    #[test]
    fn undecodable_events_are_corrupt() {
        assert!(matches!(decode_event(b"{"), Err(Error::Corrupt { .. })));
        assert!(matches!(
            decode_event(br#"{"aor":"tel:1"}"#),
            Err(Error::Corrupt { .. })
        ));
    }

    #[test]
    fn channel_follows_the_prefix() {
        assert_eq!(
            RedisConfig::new("redis://x").channel(),
            "tandem:registrations"
        );
        assert_eq!(
            RedisConfig::new("redis://x").with_prefix("t1").channel(),
            "t1:registrations"
        );
    }
}
