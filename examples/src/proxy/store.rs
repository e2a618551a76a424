//! Where `tandem proxy` keeps bindings and digest credentials: the `[registrar] store` setting, parsed into
//! a [`StoreSpec`] and opened as a [`ProxyStore`].
//!
//! | `store =` | backend | cargo feature |
//! |---|---|---|
//! | `memory` | one process, lost on restart | always |
//! | `sqlite:PATH` | one file (created, migrated) | `sqlite` |
//! | `postgres://…` / `postgresql://…` | shared by several proxies (migrated; `postgres_schema`) | `postgres` |
//! | `redis://…` / `rediss://…` | shared by several proxies (`redis_prefix`) | `redis` |
//!
//! The registrar's store traits are not object-safe (native `async fn`), so the backends are the variants
//! of one enum, each call a `match`. The proxy keeps no copy of any binding: every location lookup reads the
//! store, so a REGISTER made through another proxy sharing PostgreSQL or Redis is visible to the next
//! lookup, with nothing to invalidate.
//!
//! A binding's flow token names a connection of the proxy that received the REGISTER, and means nothing to
//! another proxy (the same number may be another client's connection there). So each [`ProxyStore`] writes
//! tokens under a random scope of its own and, reading, keeps the flow of its own bindings only: a binding
//! registered through another proxy is reached at its contact address (or Path) instead.

use super::config::RegistrarSection;
use super::server::ProxyError;
use bytes::{BufMut, Bytes, BytesMut};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::SystemTime;
use tandem_registrar::{
    Aor, Binding, BindingChange, Credential, CredentialStore, DigestAlgorithm, Error, Flow,
    FlowToken, Ha1, LocationStore, MemoryStore,
};

/// The store a configuration asks for, before it is opened.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum StoreSpec {
    /// In this process only.
    Memory,
    /// An SQLite database file.
    Sqlite(PathBuf),
    /// A PostgreSQL database, optionally with the tables in their own schema.
    Postgres {
        /// The connection URL.
        url: String,
        /// The schema holding the tables (`None`: the server's search path).
        schema: Option<String>,
    },
    /// A Redis server.
    Redis {
        /// The connection URL.
        url: String,
        /// The key prefix (and of the change channel `<prefix>:registrations`).
        prefix: String,
    },
}

impl StoreSpec {
    /// Read the `[registrar]` section: `store` picks the backend, `postgres_schema` and `redis_prefix`
    /// refine it.
    pub fn from_section(section: &RegistrarSection) -> Result<StoreSpec, ProxyError> {
        let store = section.store.trim();
        if store == "memory" {
            return Ok(StoreSpec::Memory);
        }
        if let Some(path) = store.strip_prefix("sqlite:") {
            // `sqlite:///abs/path` and `sqlite://rel` name the same files as `sqlite:/abs/path`, `sqlite:rel`.
            let path = path.strip_prefix("//").unwrap_or(path);
            if path.is_empty() {
                return Err(ProxyError::Config(
                    "registrar store sqlite: needs a path".into(),
                ));
            }
            return Ok(StoreSpec::Sqlite(PathBuf::from(path)));
        }
        if store.starts_with("postgres://") || store.starts_with("postgresql://") {
            return Ok(StoreSpec::Postgres {
                url: store.to_owned(),
                schema: section.postgres_schema.clone().filter(|s| !s.is_empty()),
            });
        }
        if store.starts_with("redis://") || store.starts_with("rediss://") {
            return Ok(StoreSpec::Redis {
                url: store.to_owned(),
                prefix: section
                    .redis_prefix
                    .clone()
                    .filter(|p| !p.is_empty())
                    .unwrap_or_else(|| "tandem".into()),
            });
        }
        Err(ProxyError::Config(format!(
            "registrar store {store:?}: expected memory, sqlite:PATH, postgres://… or redis://…"
        )))
    }
}

/// One of the registrar's stores, chosen at run time, with this proxy's flow tokens scoped to it.
#[derive(Debug)]
pub struct ProxyStore {
    backend: Backend,
    /// Prefix of the flow tokens this proxy writes: random, and ending in `/`.
    scope: Bytes,
}

#[derive(Debug)]
enum Backend {
    Memory(Arc<MemoryStore>),
    #[cfg(feature = "sqlite")]
    Sqlite(tandem_registrar::SqliteStore),
    #[cfg(feature = "postgres")]
    Postgres(tandem_registrar::PostgresStore),
    /// Boxed: a Redis store (client, connection, scripts) is several times the size of the others.
    #[cfg(feature = "redis")]
    Redis(Box<tandem_registrar::RedisStore>),
}

impl ProxyStore {
    /// Open (connect, create, migrate) the store `spec` names.
    pub async fn open(spec: &StoreSpec) -> Result<ProxyStore, ProxyError> {
        let backend = match spec {
            StoreSpec::Memory => Backend::Memory(Arc::new(MemoryStore::new())),
            #[cfg(feature = "sqlite")]
            StoreSpec::Sqlite(path) => {
                Backend::Sqlite(tandem_registrar::SqliteStore::open(path).await?)
            }
            #[cfg(feature = "postgres")]
            StoreSpec::Postgres { url, schema } => Backend::Postgres(match schema {
                Some(schema) => {
                    tandem_registrar::PostgresStore::connect_in_schema(url, schema).await?
                }
                None => tandem_registrar::PostgresStore::connect(url).await?,
            }),
            #[cfg(feature = "redis")]
            StoreSpec::Redis { url, prefix } => {
                let config = tandem_registrar::RedisConfig::new(url.as_str()).with_prefix(prefix);
                Backend::Redis(Box::new(
                    tandem_registrar::RedisStore::connect(config).await?,
                ))
            }
            #[allow(unreachable_patterns)]
            other => {
                return Err(ProxyError::Config(format!(
                    "registrar store {other:?}: this build of tandem lacks the cargo feature it needs"
                )));
            }
        };
        Ok(ProxyStore::with_scope(backend, &random_scope()))
    }

    fn with_scope(backend: Backend, scope: &str) -> ProxyStore {
        ProxyStore {
            backend,
            scope: Bytes::from(format!("{scope}/")),
        }
    }

    /// The backend's name, for logs.
    pub fn backend(&self) -> &'static str {
        match self.backend {
            Backend::Memory(_) => "memory",
            #[cfg(feature = "sqlite")]
            Backend::Sqlite(_) => "sqlite",
            #[cfg(feature = "postgres")]
            Backend::Postgres(_) => "postgres",
            #[cfg(feature = "redis")]
            Backend::Redis(_) => "redis",
        }
    }

    /// Whether the store answers without waiting (the in-memory store), so that its futures are ready at
    /// the first poll and may be driven on the caller's loop rather than in a task.
    pub fn never_waits(&self) -> bool {
        matches!(self.backend, Backend::Memory(_))
    }

    /// `flow` as stored: its token under this proxy's scope.
    fn scoped(&self, flow: &Flow) -> Flow {
        let mut token = BytesMut::with_capacity(self.scope.len() + flow.token.as_bytes().len());
        token.put_slice(&self.scope);
        token.put_slice(flow.token.as_bytes());
        Flow::new(
            FlowToken::new(token.freeze()),
            flow.transport.clone(),
            flow.remote,
        )
    }

    /// A stored flow as this proxy sees it: its own with the scope removed, another proxy's not at all.
    fn local(&self, flow: Flow) -> Option<Flow> {
        let token = flow.token.as_bytes();
        if !token.starts_with(&self.scope) {
            return None;
        }
        let token = FlowToken::new(token.slice(self.scope.len()..));
        Some(Flow::new(token, flow.transport, flow.remote))
    }
}

/// 64 random bits in hex, so that proxies sharing a store (or restarted) do not share a flow scope.
fn random_scope() -> String {
    let mut bytes = [0u8; 8];
    if getrandom::fill(&mut bytes).is_err() {
        // Without an OS random source, time and process id still tell proxies apart.
        let nanos = SystemTime::now()
            .duration_since(SystemTime::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos());
        bytes = (nanos as u64 ^ u64::from(std::process::id()).rotate_left(32)).to_be_bytes();
    }
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Run `$body` (an `.await`ing expression) with `$s` bound to the store inside whichever variant `$self`
/// is. The network backends' futures are boxed: they are large (the SQL and Redis clients' state), and
/// inline they would make every future of this store, the memory store's too, as large as the largest, so
/// that each REGISTER's future took kilobytes to build and move even when the memory store answers at once.
macro_rules! each {
    ($self:expr, $s:ident => $body:expr) => {
        match &$self.backend {
            Backend::Memory($s) => $body,
            #[cfg(feature = "sqlite")]
            Backend::Sqlite($s) => Box::pin(async { $body }).await,
            #[cfg(feature = "postgres")]
            Backend::Postgres($s) => Box::pin(async { $body }).await,
            #[cfg(feature = "redis")]
            Backend::Redis($s) => Box::pin(async { $body }).await,
        }
    };
}

impl LocationStore for ProxyStore {
    async fn bindings(&self, aor: &Aor, now: SystemTime) -> Result<Vec<Binding>, Error> {
        let mut bindings = each!(self, s => s.bindings(aor, now).await)?;
        for binding in &mut bindings {
            binding.flow = binding.flow.take().and_then(|flow| self.local(flow));
        }
        Ok(bindings)
    }

    async fn apply(&self, aor: &Aor, changes: &[BindingChange]) -> Result<(), Error> {
        let changes: Vec<BindingChange> = changes
            .iter()
            .map(|change| match change {
                BindingChange::Upsert(binding) if binding.flow.is_some() => {
                    let mut binding = binding.clone();
                    binding.flow = binding.flow.as_ref().map(|flow| self.scoped(flow));
                    BindingChange::Upsert(binding)
                }
                other => other.clone(),
            })
            .collect();
        each!(self, s => s.apply(aor, &changes).await)
    }

    async fn sweep(&self, now: SystemTime) -> Result<usize, Error> {
        each!(self, s => s.sweep(now).await)
    }

    async fn aors(&self, now: SystemTime) -> Result<Vec<Aor>, Error> {
        each!(self, s => s.aors(now).await)
    }

    async fn binding_count(&self, now: SystemTime) -> Result<usize, Error> {
        each!(self, s => s.binding_count(now).await)
    }
}

impl CredentialStore for ProxyStore {
    async fn ha1(
        &self,
        username: &str,
        realm: &str,
        algorithm: DigestAlgorithm,
    ) -> Result<Option<Ha1>, Error> {
        each!(self, s => s.ha1(username, realm, algorithm).await)
    }

    async fn put_credential(&self, credential: &Credential) -> Result<(), Error> {
        each!(self, s => s.put_credential(credential).await)
    }

    async fn remove_credential(&self, username: &str, realm: &str) -> Result<bool, Error> {
        each!(self, s => s.remove_credential(username, realm).await)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(store: &str) -> Result<StoreSpec, ProxyError> {
        let section = RegistrarSection {
            store: store.into(),
            ..RegistrarSection::default()
        };
        StoreSpec::from_section(&section)
    }

    #[test]
    fn every_store_form_parses() {
        assert_eq!(spec("memory").ok(), Some(StoreSpec::Memory));
        assert_eq!(
            spec("sqlite:/var/lib/tandem/registrar.db").ok(),
            Some(StoreSpec::Sqlite("/var/lib/tandem/registrar.db".into()))
        );
        assert_eq!(
            spec("sqlite:///tmp/r.db").ok(),
            Some(StoreSpec::Sqlite("/tmp/r.db".into()))
        );
        assert_eq!(
            spec("postgres://u@h/db").ok(),
            Some(StoreSpec::Postgres {
                url: "postgres://u@h/db".into(),
                schema: None
            })
        );
        assert_eq!(
            spec("redis://127.0.0.1:6379").ok(),
            Some(StoreSpec::Redis {
                url: "redis://127.0.0.1:6379".into(),
                prefix: "tandem".into()
            })
        );
    }

    #[test]
    fn prefix_and_schema_refine_the_url() {
        let section = RegistrarSection {
            store: "redis://r".into(),
            redis_prefix: Some("edge1".into()),
            postgres_schema: Some("tandem_a".into()),
            ..RegistrarSection::default()
        };
        assert!(matches!(
            StoreSpec::from_section(&section),
            Ok(StoreSpec::Redis { prefix, .. }) if prefix == "edge1"
        ));
        let section = RegistrarSection {
            store: "postgresql://p".into(),
            ..section
        };
        assert!(matches!(
            StoreSpec::from_section(&section),
            Ok(StoreSpec::Postgres { schema: Some(s), .. }) if s == "tandem_a"
        ));
    }

    fn binding_on_flow(token: &str) -> Binding {
        let uri = Bytes::from_static(b"sip:bob@192.0.2.7:5060;transport=tcp");
        let contact = tandem_sip_core::NameAddr::new(tandem_sip_core::Uri::parse(&uri).unwrap());
        let mut binding = Binding::new(
            tandem_registrar::BindingKey::new("sip:bob@192.0.2.7:5060;transport=tcp"),
            contact,
            SystemTime::UNIX_EPOCH + std::time::Duration::from_secs(2_000_000_000),
            tandem_sip_core::CallId::new(Bytes::from_static(b"c1")).unwrap(),
            1,
        );
        binding.flow = Some(Flow::new(
            FlowToken::new(token.to_owned()),
            tandem_sip_core::Transport::Tcp,
            "192.0.2.7:5060".parse().unwrap(),
        ));
        binding
    }

    #[tokio::test]
    async fn a_flow_is_kept_by_the_proxy_that_owns_it_and_dropped_by_the_others() {
        let shared = Arc::new(MemoryStore::new());
        let a = ProxyStore::with_scope(Backend::Memory(shared.clone()), "a");
        let b = ProxyStore::with_scope(Backend::Memory(shared.clone()), "b");
        let aor = Aor::parse("sip:bob@example.com").unwrap();
        let now = SystemTime::UNIX_EPOCH + std::time::Duration::from_secs(1_900_000_000);
        a.apply(&aor, &[BindingChange::Upsert(binding_on_flow("7"))])
            .await
            .unwrap();
        let through_a = a.bindings(&aor, now).await.unwrap();
        let through_b = b.bindings(&aor, now).await.unwrap();
        let stored = shared.bindings(&aor, now).await.unwrap();
        assert_eq!(
            through_a[0].flow.as_ref().map(|f| f.token.clone()),
            Some(FlowToken::new("7"))
        );
        assert_eq!(through_b.len(), 1);
        assert_eq!(through_b[0].flow, None);
        assert_eq!(
            stored[0].flow.as_ref().map(|f| f.token.clone()),
            Some(FlowToken::new("a/7"))
        );
    }

    #[test]
    fn unknown_or_incomplete_stores_are_refused() {
        assert!(matches!(spec("mysql://x"), Err(ProxyError::Config(_))));
        assert!(matches!(spec("sqlite:"), Err(ProxyError::Config(_))));
        assert!(matches!(spec(""), Err(ProxyError::Config(_))));
    }
}
