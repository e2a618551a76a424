//! `tandem media` configuration: one TOML file, `TANDEM_*` environment overrides, sane defaults.
//!
//! Every field is optional; `MediaConfig::default()` is a working development relay: NG on 127.0.0.1:22222,
//! media sockets on 127.0.0.1 ports 30000–40000, one worker per core, a 60 s media timeout and metrics on
//! 127.0.0.1:9091.

pub use crate::config::ConfigError;
use crate::config::{parse, parse_optional, read_toml};
use serde::Deserialize;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::Path;
use std::time::Duration;
use tandem_media_bridge::MediaIo;

/// The whole configuration.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct MediaConfig {
    /// The `[media]` section.
    pub media: MediaSection,
}

/// The `[media]` section.
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct MediaSection {
    /// NG control listen address (the NG protocol has no authentication: keep it on a trusted network).
    pub ng: SocketAddr,
    /// The local address media sockets bind to.
    pub bind: IpAddr,
    /// The address written into rewritten SDP (`c=`, candidates); default: `bind`, which must then not be a
    /// wildcard address.
    pub advertise: Option<IpAddr>,
    /// First UDP port of the media port pool (RTP/RTCP pairs).
    pub port_min: u16,
    /// Last UDP port of the media port pool.
    pub port_max: u16,
    /// Packet-path worker threads; 0 means one per available core.
    pub workers: usize,
    /// After a wake-up that received packets, a worker waits this many microseconds before reading again,
    /// so that one wake-up relays many packets (less CPU per packet, up to this much added delay); 0 reads
    /// again at once.
    pub batch_window_us: u64,
    /// How workers do their socket I/O: `auto` (io_uring when the kernel offers it, else epoll),
    /// `io_uring` or `epoll`.
    pub io: String,
    /// A call without media in either direction (and without signalling) for this many seconds is expired.
    pub media_timeout_secs: u64,
    /// How often workers report per-stream statistics (milliseconds); the metrics lag by at most this.
    pub stats_interval_ms: u64,
    /// Most calls held at once.
    pub max_calls: usize,
    /// Address of the Prometheus `/metrics` HTTP endpoint (`None` for none).
    pub metrics: Option<SocketAddr>,
}

impl Default for MediaSection {
    fn default() -> MediaSection {
        MediaSection {
            ng: SocketAddr::from((Ipv4Addr::LOCALHOST, 22222)),
            bind: IpAddr::V4(Ipv4Addr::LOCALHOST),
            advertise: None,
            port_min: 30000,
            port_max: 40000,
            workers: 0,
            batch_window_us: 500,
            io: "auto".to_owned(),
            media_timeout_secs: 60,
            stats_interval_ms: 1000,
            max_calls: 100_000,
            metrics: Some(SocketAddr::from((Ipv4Addr::LOCALHOST, 9091))),
        }
    }
}

impl MediaConfig {
    /// Parse a TOML document (not validated: see [`MediaConfig::validate`]).
    pub fn from_toml(text: &str) -> Result<MediaConfig, ConfigError> {
        Ok(toml::from_str(text)?)
    }

    /// Load `path` (or the defaults when `None`), apply the environment overrides and validate.
    pub fn load(path: Option<&Path>) -> Result<MediaConfig, ConfigError> {
        let mut config: MediaConfig = read_toml(path)?;
        config.apply_env(|name| std::env::var(name).ok())?;
        config.validate()?;
        Ok(config)
    }

    /// Apply `TANDEM_MEDIA_*` overrides read through `var` (the environment, or a map in tests). An empty
    /// `TANDEM_MEDIA_METRICS` or `TANDEM_MEDIA_ADVERTISE` turns the option off.
    pub fn apply_env(&mut self, var: impl Fn(&str) -> Option<String>) -> Result<(), ConfigError> {
        let m = &mut self.media;
        if let Some(v) = var("TANDEM_MEDIA_NG") {
            m.ng = parse("TANDEM_MEDIA_NG", &v)?;
        }
        if let Some(v) = var("TANDEM_MEDIA_BIND") {
            m.bind = parse("TANDEM_MEDIA_BIND", &v)?;
        }
        if let Some(v) = var("TANDEM_MEDIA_ADVERTISE") {
            m.advertise = parse_optional("TANDEM_MEDIA_ADVERTISE", &v)?;
        }
        if let Some(v) = var("TANDEM_MEDIA_PORT_MIN") {
            m.port_min = parse("TANDEM_MEDIA_PORT_MIN", &v)?;
        }
        if let Some(v) = var("TANDEM_MEDIA_PORT_MAX") {
            m.port_max = parse("TANDEM_MEDIA_PORT_MAX", &v)?;
        }
        if let Some(v) = var("TANDEM_MEDIA_WORKERS") {
            m.workers = parse("TANDEM_MEDIA_WORKERS", &v)?;
        }
        if let Some(v) = var("TANDEM_MEDIA_BATCH_WINDOW_US") {
            m.batch_window_us = parse("TANDEM_MEDIA_BATCH_WINDOW_US", &v)?;
        }
        if let Some(v) = var("TANDEM_MEDIA_IO") {
            m.io = v;
        }
        if let Some(v) = var("TANDEM_MEDIA_TIMEOUT") {
            m.media_timeout_secs = parse("TANDEM_MEDIA_TIMEOUT", &v)?;
        }
        if let Some(v) = var("TANDEM_MEDIA_METRICS") {
            m.metrics = parse_optional("TANDEM_MEDIA_METRICS", &v)?;
        }
        Ok(())
    }

    /// Check what the types cannot: a usable port range and an advertisable address.
    pub fn validate(&self) -> Result<(), ConfigError> {
        let m = &self.media;
        if m.port_min == 0 || m.port_min >= m.port_max {
            return Err(ConfigError::Invalid(
                "port_min must be non-zero and below port_max",
            ));
        }
        if m.advertise.is_none() && m.bind.is_unspecified() {
            return Err(ConfigError::Invalid(
                "bind is a wildcard address: set advertise to the address peers reach",
            ));
        }
        if MediaIo::parse(&m.io).is_none() {
            return Err(ConfigError::Invalid(
                "io must be one of auto, io_uring, epoll",
            ));
        }
        if m.media_timeout_secs == 0 {
            return Err(ConfigError::Invalid("media_timeout_secs must be positive"));
        }
        Ok(())
    }

    /// The address put into rewritten SDP.
    pub fn advertised(&self) -> IpAddr {
        self.media.advertise.unwrap_or(self.media.bind)
    }

    /// The media timeout.
    pub fn media_timeout(&self) -> Duration {
        Duration::from_secs(self.media.media_timeout_secs)
    }

    /// The workers' batch window.
    pub fn batch_window(&self) -> Duration {
        Duration::from_micros(self.media.batch_window_us)
    }

    /// The workers' I/O back end (`auto` if the name is unknown; [`MediaConfig::validate`] refuses that).
    pub fn io(&self) -> MediaIo {
        MediaIo::parse(&self.media.io).unwrap_or_default()
    }

    /// The statistics interval (at least 10 ms).
    pub fn stats_interval(&self) -> Duration {
        Duration::from_millis(self.media.stats_interval_ms.max(10))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    #[test]
    fn an_empty_file_gives_working_defaults() {
        let config = MediaConfig::from_toml("").unwrap();
        config.validate().unwrap();
        assert_eq!(config.media.ng, "127.0.0.1:22222".parse().unwrap());
        assert_eq!(
            (config.media.port_min, config.media.port_max),
            (30000, 40000)
        );
        assert_eq!(config.media.workers, 0);
        assert_eq!(config.advertised(), "127.0.0.1".parse::<IpAddr>().unwrap());
        assert_eq!(config.media_timeout(), Duration::from_secs(60));
        assert_eq!(config.batch_window(), Duration::from_micros(500));
        assert_eq!(config.io(), MediaIo::Auto);
    }

    #[test]
    fn reads_the_media_section() {
        let config = MediaConfig::from_toml(
            r#"
            [media]
            ng = "127.0.0.1:2223"
            bind = "0.0.0.0"
            advertise = "192.0.2.10"
            port_min = 20000
            port_max = 20100
            workers = 3
            batch_window_us = 250
            io = "epoll"
            media_timeout_secs = 30
            metrics = "127.0.0.1:0"
            "#,
        )
        .unwrap();
        config.validate().unwrap();
        assert_eq!(config.advertised(), "192.0.2.10".parse::<IpAddr>().unwrap());
        assert_eq!(config.media.workers, 3);
        assert_eq!(config.batch_window(), Duration::from_micros(250));
        assert_eq!(config.io(), MediaIo::Epoll);
        assert_eq!(config.media.port_max, 20100);
    }

    #[test]
    fn the_shipped_example_parses_and_validates() {
        let config = MediaConfig::from_toml(include_str!("../../config/media.toml")).unwrap();
        config.validate().unwrap();
        assert_eq!(config.io(), MediaIo::Auto);
    }

    #[test]
    fn rejects_unknown_fields_and_unusable_values() {
        assert!(MediaConfig::from_toml("[media]\nlisten = 1\n").is_err());
        let wildcard = MediaConfig::from_toml("[media]\nbind = \"0.0.0.0\"\n").unwrap();
        assert!(matches!(wildcard.validate(), Err(ConfigError::Invalid(_))));
        let backwards =
            MediaConfig::from_toml("[media]\nport_min = 5000\nport_max = 4000\n").unwrap();
        assert!(matches!(backwards.validate(), Err(ConfigError::Invalid(_))));
        let unknown_io = MediaConfig::from_toml("[media]\nio = \"kqueue\"\n").unwrap();
        assert!(matches!(
            unknown_io.validate(),
            Err(ConfigError::Invalid(_))
        ));
    }

    #[test]
    fn environment_overrides_the_file_and_empty_turns_metrics_off() {
        let mut config = MediaConfig::default();
        let env: HashMap<&str, &str> = [
            ("TANDEM_MEDIA_NG", "127.0.0.1:23000"),
            ("TANDEM_MEDIA_WORKERS", "2"),
            ("TANDEM_MEDIA_PORT_MIN", "31000"),
            ("TANDEM_MEDIA_METRICS", ""),
            ("TANDEM_MEDIA_BATCH_WINDOW_US", "0"),
            ("TANDEM_MEDIA_IO", "io_uring"),
        ]
        .into();
        config
            .apply_env(|name| env.get(name).map(|v| v.to_string()))
            .unwrap();
        assert_eq!(config.media.ng, "127.0.0.1:23000".parse().unwrap());
        assert_eq!(config.media.workers, 2);
        assert_eq!(config.media.port_min, 31000);
        assert_eq!(config.media.metrics, None);
        assert_eq!(config.batch_window(), Duration::ZERO);
        assert_eq!(config.io(), MediaIo::IoUring);
    }

    #[test]
    fn a_bad_override_is_an_error() {
        let mut config = MediaConfig::default();
        let result =
            config.apply_env(|name| (name == "TANDEM_MEDIA_WORKERS").then(|| "many".into()));
        assert!(matches!(result, Err(ConfigError::Env { .. })));
    }
}
