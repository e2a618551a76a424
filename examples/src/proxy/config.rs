//! `tandem proxy` configuration: one TOML file, `TANDEM_*` environment overrides, sane defaults.
//!
//! Every section and field is optional; `ProxyConfig::default()` is a working development proxy on
//! 127.0.0.1:5060 (UDP and TCP) for the domain `localhost`, with an in-memory registrar, digest
//! authentication and a per-source flood limit.

use super::flood::FloodConfig;
pub use crate::config::ConfigError;
use crate::config::{parse, parse_optional, read_toml};
use serde::Deserialize;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;
use tandem_sip_core::Limits;
use tandem_sip_core::proxy::{ProxyOptions, RelayPolicy};
use tandem_sip_core::transaction::TimerConfig;
use tandem_sip_core::transport::ConnectionLimits;

/// The whole configuration.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ProxyConfig {
    /// Listening, domains, authentication, metrics.
    pub proxy: ListenConfig,
    /// The location store and expiry limits.
    pub registrar: RegistrarSection,
    /// Provisioned users (digest credentials).
    pub users: Vec<UserConfig>,
    /// Destination sets and probing.
    pub dispatcher: DispatcherSection,
    /// Request-URI user prefixes routed to a dispatcher set.
    pub routes: Vec<PrefixRoute>,
    /// Anti-flood limits.
    pub flood: FloodConfig,
    /// SIP transaction timers.
    pub timers: TimersSection,
    /// Message and connection limits.
    pub limits: LimitsSection,
}

/// The `[proxy]` section.
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ListenConfig {
    /// Domains served (registrar and location lookups); requests for others are refused with 403.
    pub domains: Vec<String>,
    /// UDP listen address (`None` to not listen).
    pub udp: Option<SocketAddr>,
    /// TCP listen address.
    pub tcp: Option<SocketAddr>,
    /// TLS listen address (needs `tls_cert` and `tls_key`, or a development certificate is generated).
    pub tls: Option<SocketAddr>,
    /// WebSocket listen address.
    pub ws: Option<SocketAddr>,
    /// Secure WebSocket listen address.
    pub wss: Option<SocketAddr>,
    /// The IP put in Via and Record-Route when listening on a wildcard address.
    pub advertise: Option<std::net::IpAddr>,
    /// PEM certificate chain for TLS and WSS.
    pub tls_cert: Option<PathBuf>,
    /// PEM private key for TLS and WSS.
    pub tls_key: Option<PathBuf>,
    /// Whether REGISTER needs digest authentication (and, with `auth_invite`, initial requests from our users).
    pub auth: bool,
    /// With `auth`: whether initial non-REGISTER requests (INVITE, MESSAGE, SUBSCRIBE, …) whose From is in
    /// one of our domains are challenged with 407 and checked against the registrar's credentials. ACK,
    /// CANCEL, in-dialog requests and requests from other domains are never challenged.
    pub auth_invite: bool,
    /// The digest realm (default: the first domain).
    pub realm: Option<String>,
    /// The secret signing nonces (share it between proxies of one realm); random when absent.
    pub nonce_secret: Option<String>,
    /// Address of the Prometheus `/metrics` HTTP endpoint (`None` for none).
    pub metrics: Option<SocketAddr>,
    /// Where requests that do not route through this proxy (no Route entry of ours) may go.
    pub relay: RelayMode,
    /// How many proxy loops share the work, each with its own transaction layer and proxy core (messages
    /// are steered to one by a hash of their Call-ID). Absent or 0: one per core
    /// (`std::thread::available_parallelism`); 1: a single loop.
    pub shards: Option<usize>,
}

impl ListenConfig {
    /// The number of shards to run: `shards`, or one per core when it is absent or 0.
    pub fn shard_count(&self) -> usize {
        match self.shards {
            Some(n) if n > 0 => n,
            _ => std::thread::available_parallelism().map_or(1, std::num::NonZeroUsize::get),
        }
    }
}

/// `[proxy] relay`: the open-relay rule for requests that do not route through this proxy.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum RelayMode {
    /// `own-domains` (default, not an open relay): an in-dialog request is answered 403 and an ACK dropped
    /// unless its next hop is one of our domains or addresses; an initial request's preloaded Route is
    /// ignored (it is routed by its Request-URI, and foreign domains get 403).
    #[default]
    OwnDomains,
    /// `open`: follow any Route set and relay in-dialog requests and ACKs to any target (plain RFC 3261
    /// §16.4; only behind something that already restricts who may send).
    Open,
}

impl std::str::FromStr for RelayMode {
    type Err = String;

    fn from_str(text: &str) -> Result<RelayMode, String> {
        match text.trim() {
            "own-domains" => Ok(RelayMode::OwnDomains),
            "open" => Ok(RelayMode::Open),
            other => Err(format!(
                "unknown relay mode {other:?} (own-domains or open)"
            )),
        }
    }
}

impl From<RelayMode> for RelayPolicy {
    fn from(mode: RelayMode) -> RelayPolicy {
        match mode {
            RelayMode::OwnDomains => RelayPolicy::OwnDomains,
            RelayMode::Open => RelayPolicy::Open,
        }
    }
}

impl Default for ListenConfig {
    fn default() -> ListenConfig {
        ListenConfig {
            domains: vec!["localhost".into()],
            udp: Some(SocketAddr::from(([127, 0, 0, 1], 5060))),
            tcp: Some(SocketAddr::from(([127, 0, 0, 1], 5060))),
            tls: None,
            ws: None,
            wss: None,
            advertise: None,
            tls_cert: None,
            tls_key: None,
            auth: true,
            auth_invite: true,
            realm: None,
            nonce_secret: None,
            metrics: Some(SocketAddr::from(([127, 0, 0, 1], 9090))),
            relay: RelayMode::OwnDomains,
            shards: None,
        }
    }
}

/// The `[registrar]` section.
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RegistrarSection {
    /// Where bindings and credentials live: `memory` (default, one process), `sqlite:PATH` (one file),
    /// `postgres://…` or `redis://…` (shared by several proxies); see [`super::store::StoreSpec`].
    pub store: String,
    /// Prefix of every Redis key and of the change channel `<prefix>:registrations` (default `tandem`);
    /// proxies sharing registrations use the same prefix.
    pub redis_prefix: Option<String>,
    /// PostgreSQL schema holding the registrar tables, created if missing (default: the search path).
    pub postgres_schema: Option<String>,
    /// How often expired bindings are removed from the store (seconds).
    pub sweep_secs: u64,
    /// Expiry given when the REGISTER names none (seconds).
    pub default_expires: u32,
    /// Shortest expiry accepted (seconds).
    pub min_expires: u32,
    /// Longest expiry granted (seconds).
    pub max_expires: u32,
}

impl Default for RegistrarSection {
    fn default() -> RegistrarSection {
        RegistrarSection {
            store: "memory".into(),
            redis_prefix: None,
            postgres_schema: None,
            sweep_secs: 30,
            default_expires: 3600,
            min_expires: 60,
            max_expires: 86_400,
        }
    }
}

/// One `[[users]]` entry: a username with a password (hashed to HA1 at load, for development) or an MD5 HA1.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UserConfig {
    /// The username (the user part of the AOR).
    pub username: String,
    /// A plain password (development only: it is turned into HA1 values at load).
    pub password: Option<String>,
    /// The MD5 HA1 (`md5(username:realm:password)`, hex).
    pub ha1: Option<String>,
}

/// The `[dispatcher]` section.
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct DispatcherSection {
    /// Path of a `dispatcher.list` file, re-read at each reload (SIGHUP, `POST /dispatcher/reload`).
    pub list: Option<PathBuf>,
    /// A database table with Kamailio's `dispatcher` columns instead of a file: `postgres://…` or
    /// `sqlite:PATH`, re-read at each reload.
    pub source: Option<String>,
    /// The list inline (used when `list` is absent).
    pub destinations: Option<String>,
    /// Selection algorithm (a Kamailio number or a name such as `round-robin`).
    pub algorithm: String,
    /// Whether destinations are probed with OPTIONS.
    pub probing: bool,
    /// Probe interval in milliseconds.
    pub probe_interval_ms: u64,
    /// Probe timeout in milliseconds.
    pub probe_timeout_ms: u64,
    /// Failed probes that take a destination down.
    pub down_threshold: u32,
    /// Milliseconds without any response after which a dispatched INVITE fails over (Kamailio's fr timer).
    pub no_answer_ms: u64,
}

impl Default for DispatcherSection {
    fn default() -> DispatcherSection {
        DispatcherSection {
            list: None,
            source: None,
            destinations: None,
            algorithm: "round-robin".into(),
            probing: true,
            probe_interval_ms: 5000,
            probe_timeout_ms: 2000,
            down_threshold: 2,
            no_answer_ms: 2000,
        }
    }
}

/// One `[[routes]]` entry.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PrefixRoute {
    /// Request-URI user prefix, e.g. `9999`.
    pub prefix: String,
    /// The dispatcher set the requests go to.
    pub set: u32,
}

/// The `[timers]` section: RFC 3261 transaction timers (defaults are the RFC's). Shorter values make
/// transactions end sooner; tests use them to watch transactions drain.
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct TimersSection {
    /// T1, the RTT estimate, in milliseconds (64·T1 is the transaction timeout).
    pub t1_ms: u64,
    /// T2, the longest retransmission interval, in milliseconds.
    pub t2_ms: u64,
    /// T4, how long the network may hold a message, in milliseconds.
    pub t4_ms: u64,
    /// Timer C (RFC 3261 §16.6 step 11), in milliseconds: a forwarded INVITE branch that sends no
    /// provisional response (other than 100) for this long is cancelled, or counted as a 408 if it never
    /// answered at all. Every provisional response restarts it. The RFC wants more than 3 minutes.
    pub timer_c_ms: u64,
}

impl Default for TimersSection {
    fn default() -> TimersSection {
        let rfc = TimerConfig::DEFAULT;
        TimersSection {
            t1_ms: duration_ms(rfc.t1),
            t2_ms: duration_ms(rfc.t2),
            t4_ms: duration_ms(rfc.t4),
            timer_c_ms: duration_ms(ProxyOptions::DEFAULT_TIMER_C),
        }
    }
}

impl TimersSection {
    /// The transaction layer's timer configuration (Timer D stays at 64·T1 or more, as RFC 3261 wants).
    pub fn timer_config(&self) -> TimerConfig {
        let t1 = Duration::from_millis(self.t1_ms.max(1));
        TimerConfig {
            t1,
            t2: Duration::from_millis(self.t2_ms.max(1)),
            t4: Duration::from_millis(self.t4_ms.max(1)),
            timer_d: TimerConfig::DEFAULT.timer_d.min(t1.saturating_mul(64)),
            ..TimerConfig::DEFAULT
        }
    }
}

fn duration_ms(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

/// The `[limits]` section: what one message and one connection may cost (defaults are sip-core's).
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct LimitsSection {
    /// Largest message in bytes; a larger request is answered 513 (over UDP) or its connection closed.
    pub max_message_size: usize,
    /// Most header fields in one message.
    pub max_headers: usize,
    /// How long a message may take to arrive on a stream once it has started, in milliseconds
    /// (slow senders are disconnected after it).
    pub message_timeout_ms: u64,
    /// How long a connection may stay idle, in milliseconds.
    pub idle_timeout_ms: u64,
}

impl Default for LimitsSection {
    fn default() -> LimitsSection {
        let connections = ConnectionLimits::DEFAULT;
        LimitsSection {
            max_message_size: Limits::DEFAULT.max_message_size,
            max_headers: Limits::DEFAULT.max_headers,
            message_timeout_ms: duration_ms(connections.message_timeout),
            idle_timeout_ms: duration_ms(connections.idle_timeout),
        }
    }
}

impl LimitsSection {
    /// The parser limits.
    pub fn parse_limits(&self) -> Limits {
        Limits {
            max_message_size: self.max_message_size.max(1),
            max_headers: self.max_headers.max(1),
            ..Limits::DEFAULT
        }
    }

    /// The connection limits.
    pub fn connection_limits(&self) -> ConnectionLimits {
        ConnectionLimits {
            message_timeout: Duration::from_millis(self.message_timeout_ms.max(1)),
            idle_timeout: Duration::from_millis(self.idle_timeout_ms.max(1)),
            ..ConnectionLimits::DEFAULT
        }
    }
}

impl ProxyConfig {
    /// The proxy core's policy: the relay rule (`[proxy] relay`) and Timer C (`[timers] timer_c_ms`).
    pub fn proxy_options(&self) -> ProxyOptions {
        ProxyOptions {
            relay: self.proxy.relay.into(),
            timer_c: Duration::from_millis(self.timers.timer_c_ms.max(1)),
            ..ProxyOptions::default()
        }
    }

    /// Parse a TOML document.
    pub fn from_toml(text: &str) -> Result<ProxyConfig, ConfigError> {
        Ok(toml::from_str(text)?)
    }

    /// Load `path` (or the defaults when `None`), then apply the environment overrides.
    pub fn load(path: Option<&Path>) -> Result<ProxyConfig, ConfigError> {
        let mut config: ProxyConfig = read_toml(path)?;
        config.apply_env(|name| std::env::var(name).ok())?;
        Ok(config)
    }

    /// Apply `TANDEM_*` overrides read through `var` (the environment, or a map in tests). An empty value
    /// turns an optional listener off.
    pub fn apply_env(&mut self, var: impl Fn(&str) -> Option<String>) -> Result<(), ConfigError> {
        let p = &mut self.proxy;
        for (name, slot) in [
            ("TANDEM_PROXY_UDP", &mut p.udp),
            ("TANDEM_PROXY_TCP", &mut p.tcp),
            ("TANDEM_PROXY_TLS", &mut p.tls),
            ("TANDEM_PROXY_WS", &mut p.ws),
            ("TANDEM_PROXY_WSS", &mut p.wss),
            ("TANDEM_PROXY_METRICS", &mut p.metrics),
        ] {
            if let Some(value) = var(name) {
                *slot = parse_optional(name, &value)?;
            }
        }
        if let Some(value) = var("TANDEM_PROXY_DOMAINS") {
            p.domains = value.split(',').map(|d| d.trim().to_owned()).collect();
        }
        if let Some(value) = var("TANDEM_PROXY_ADVERTISE") {
            p.advertise = parse_optional("TANDEM_PROXY_ADVERTISE", &value)?;
        }
        if let Some(value) = var("TANDEM_PROXY_AUTH") {
            p.auth = parse("TANDEM_PROXY_AUTH", &value)?;
        }
        if let Some(value) = var("TANDEM_PROXY_AUTH_INVITE") {
            p.auth_invite = parse("TANDEM_PROXY_AUTH_INVITE", &value)?;
        }
        if let Some(value) = var("TANDEM_PROXY_RELAY") {
            p.relay = parse("TANDEM_PROXY_RELAY", &value)?;
        }
        if let Some(value) = var("TANDEM_PROXY_SHARDS") {
            p.shards = parse_optional("TANDEM_PROXY_SHARDS", &value)?;
        }
        if let Some(value) = var("TANDEM_REGISTRAR_STORE") {
            self.registrar.store = value;
        }
        if let Some(value) = var("TANDEM_REGISTRAR_REDIS_PREFIX") {
            self.registrar.redis_prefix = Some(value);
        }
        if let Some(value) = var("TANDEM_REGISTRAR_POSTGRES_SCHEMA") {
            self.registrar.postgres_schema = Some(value);
        }
        if let Some(value) = var("TANDEM_DISPATCHER_LIST") {
            self.dispatcher.list = Some(PathBuf::from(value));
        }
        if let Some(value) = var("TANDEM_DISPATCHER_SOURCE") {
            self.dispatcher.source = (!value.trim().is_empty()).then(|| value.trim().to_owned());
        }
        if let Some(value) = var("TANDEM_DISPATCHER_ALGORITHM") {
            self.dispatcher.algorithm = value;
        }
        if let Some(value) = var("TANDEM_FLOOD_ENABLED") {
            self.flood.enabled = parse("TANDEM_FLOOD_ENABLED", &value)?;
        }
        if let Some(value) = var("TANDEM_FLOOD_MAX_REQUESTS") {
            self.flood.max_requests = parse("TANDEM_FLOOD_MAX_REQUESTS", &value)?;
        }
        Ok(())
    }

    /// The digest realm: the configured one, else the first domain.
    pub fn realm(&self) -> String {
        self.proxy
            .realm
            .clone()
            .or_else(|| self.proxy.domains.first().cloned())
            .unwrap_or_else(|| "localhost".into())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    #[test]
    fn an_empty_file_gives_the_defaults() {
        let config = ProxyConfig::from_toml("").unwrap();
        assert_eq!(config.proxy.udp, Some("127.0.0.1:5060".parse().unwrap()));
        assert_eq!(config.registrar.store, "memory");
        assert!(config.proxy.auth);
        assert!(config.proxy.auth_invite);
        assert_eq!(config.realm(), "localhost");
    }

    #[test]
    fn reads_users_routes_and_flood_limits() {
        let config = ProxyConfig::from_toml(
            r#"
            [proxy]
            domains = ["example.com"]
            ws = "127.0.0.1:8080"
            [[users]]
            username = "alice"
            password = "secret"
            [[routes]]
            prefix = "9999"
            set = 1
            [dispatcher]
            destinations = "1 sip:127.0.0.1:5080"
            algorithm = "4"
            [flood]
            max_requests = 10
            "#,
        )
        .unwrap();
        assert_eq!(config.users[0].username, "alice");
        assert_eq!(config.routes[0].set, 1);
        assert_eq!(config.flood.max_requests, 10);
        assert_eq!(config.proxy.ws, Some("127.0.0.1:8080".parse().unwrap()));
        assert_eq!(config.realm(), "example.com");
    }

    #[test]
    fn relay_and_timer_c_reach_the_proxy_core() {
        let defaults = ProxyConfig::default().proxy_options();
        assert_eq!(defaults.relay, RelayPolicy::OwnDomains);
        assert_eq!(defaults.timer_c, ProxyOptions::DEFAULT_TIMER_C);
        let config =
            ProxyConfig::from_toml("[proxy]\nrelay = \"open\"\n[timers]\ntimer_c_ms = 200000\n")
                .unwrap();
        let options = config.proxy_options();
        assert_eq!(options.relay, RelayPolicy::Open);
        assert_eq!(options.timer_c, Duration::from_secs(200));
        assert!(ProxyConfig::from_toml("[proxy]\nrelay = \"anywhere\"\n").is_err());
        let mut config = ProxyConfig::default();
        config
            .apply_env(|name| (name == "TANDEM_PROXY_RELAY").then(|| "open".into()))
            .unwrap();
        assert_eq!(config.proxy.relay, RelayMode::Open);
        let result = config.apply_env(|name| (name == "TANDEM_PROXY_RELAY").then(|| "x".into()));
        assert!(matches!(result, Err(ConfigError::Env { .. })));
    }

    #[test]
    fn shards_come_from_the_file_or_the_environment_else_one_per_core() {
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
        assert_eq!(ProxyConfig::default().proxy.shard_count(), cores);
        let config = ProxyConfig::from_toml("[proxy]\nshards = 3\n").unwrap();
        assert_eq!(config.proxy.shard_count(), 3);
        let config = ProxyConfig::from_toml("[proxy]\nshards = 0\n").unwrap();
        assert_eq!(config.proxy.shard_count(), cores);
        let mut config = ProxyConfig::from_toml("[proxy]\nshards = 3\n").unwrap();
        config
            .apply_env(|name| (name == "TANDEM_PROXY_SHARDS").then(|| "1".into()))
            .unwrap();
        assert_eq!(config.proxy.shard_count(), 1);
        config
            .apply_env(|name| (name == "TANDEM_PROXY_SHARDS").then(|| "".into()))
            .unwrap();
        assert_eq!(config.proxy.shards, None);
        let result = config.apply_env(|name| (name == "TANDEM_PROXY_SHARDS").then(|| "two".into()));
        assert!(matches!(result, Err(ConfigError::Env { .. })));
        assert!(ProxyConfig::from_toml("[proxy]\nshards = -1\n").is_err());
    }

    #[test]
    fn the_example_configuration_parses() {
        let config = ProxyConfig::from_toml(include_str!("../../config/proxy.toml")).unwrap();
        assert_eq!(config.proxy.relay, RelayMode::OwnDomains);
        assert_eq!(config.timers.timer_c_ms, 185_000);
    }

    #[test]
    fn rejects_unknown_fields() {
        assert!(ProxyConfig::from_toml("[proxy]\nlisten = 1\n").is_err());
    }

    #[test]
    fn environment_overrides_the_file_and_empty_turns_a_listener_off() {
        let mut config = ProxyConfig::default();
        let env: HashMap<&str, &str> = [
            ("TANDEM_PROXY_UDP", "127.0.0.1:6060"),
            ("TANDEM_PROXY_TCP", ""),
            ("TANDEM_PROXY_DOMAINS", "a.example, b.example"),
            ("TANDEM_FLOOD_MAX_REQUESTS", "7"),
            ("TANDEM_DISPATCHER_SOURCE", "postgres://db/kamailio"),
            ("TANDEM_REGISTRAR_STORE", "redis://127.0.0.1:6379"),
            ("TANDEM_REGISTRAR_REDIS_PREFIX", "edge"),
        ]
        .into();
        config
            .apply_env(|name| env.get(name).map(|v| v.to_string()))
            .unwrap();
        assert_eq!(config.proxy.udp, Some("127.0.0.1:6060".parse().unwrap()));
        assert_eq!(config.proxy.tcp, None);
        assert_eq!(config.proxy.domains, ["a.example", "b.example"]);
        assert_eq!(config.flood.max_requests, 7);
        assert_eq!(
            config.dispatcher.source.as_deref(),
            Some("postgres://db/kamailio")
        );
        assert_eq!(config.registrar.store, "redis://127.0.0.1:6379");
        assert_eq!(config.registrar.redis_prefix.as_deref(), Some("edge"));
    }

    #[test]
    fn a_bad_override_is_an_error() {
        let mut config = ProxyConfig::default();
        let result = config.apply_env(|name| (name == "TANDEM_PROXY_UDP").then(|| "nope".into()));
        assert!(matches!(result, Err(ConfigError::Env { .. })));
    }
}
