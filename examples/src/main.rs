//! `tandem`: the Tandem reference stack and its command-line tools.
//!
//! - `tandem sip parse` shows how tandem-sip-core reads a SIP message: every header field as received, its typed
//!   view where the crate has one, and (with `--validate`) the reply a UAS would send.
//! - `tandem proxy` runs the SIP proxy, registrar and dispatcher (the Kamailio role).
//! - `tandem media` runs the media relay controlled over the NG protocol (the rtpengine role).
//!
//! The other stack roles (`stack`, `ivr`, `admin`) come later.

/// The binary allocates with jemalloc, not the C library's malloc. After a registration burst (10,000
/// REGISTERs in 10 s) glibc kept ~18 MB of freed transaction memory resident for good: the bindings that
/// stay were allocated between the transactions that went, so few pages ever became wholly free, even with
/// `malloc_trim`. jemalloc keeps allocations of one size class together and returns freed pages; the
/// delta after the burst fell to ~7 MB, below Kamailio's 12.7 MB (docs/bench-proxy.md, "Memory").
#[cfg(not(target_env = "msvc"))]
#[global_allocator]
static GLOBAL: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

/// jemalloc's options, read before `main` runs. A background thread returns unused pages to the OS even
/// when the proxy is idle (otherwise purging happens only on allocator activity); freed pages are returned
/// after about a second (`dirty_decay_ms`, default 10 s), and directly with `MADV_DONTNEED`
/// (`muzzy_decay_ms:0`): pages given back with `MADV_FREE` stay counted in RSS until the kernel runs short
/// of memory. `_RJEM_MALLOC_CONF` in the environment still overrides these.
#[cfg(not(target_env = "msvc"))]
#[allow(non_upper_case_globals)]
#[unsafe(export_name = "_rjem_malloc_conf")]
pub static malloc_conf: Option<&'static std::ffi::c_char> = Some(
    // SAFETY: a pointer to the first byte of a static, NUL-terminated string, which is what jemalloc reads.
    unsafe { &*c"background_thread:true,dirty_decay_ms:1000,muzzy_decay_ms:0".as_ptr() },
);

mod sip_json;
mod sip_parse;

use clap::{Parser, Subcommand};
use std::path::PathBuf;
use std::process::ExitCode;

/// The Tandem VoIP toolkit's reference stack and tools.
#[derive(Debug, Parser)]
#[command(name = "tandem", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// SIP tools.
    #[command(subcommand)]
    Sip(SipCommand),
    /// Run the SIP proxy, registrar and dispatcher (`tandem proxy --config proxy.toml`).
    Proxy {
        /// The TOML configuration (defaults apply without one; TANDEM_* variables override it).
        #[arg(long)]
        config: Option<PathBuf>,
    },
    /// Run the media relay with its NG control server (`tandem media --config media.toml`).
    Media {
        /// The TOML configuration (defaults apply without one; TANDEM_MEDIA_* variables override it).
        #[arg(long)]
        config: Option<PathBuf>,
    },
}

#[derive(Debug, Subcommand)]
enum SipCommand {
    /// Parse one SIP message (a datagram's bytes) and print it as JSON.
    ///
    /// Exits 0 when the message parses (whatever `--validate` concludes) and 1 when it does not, printing
    /// `error at byte N: <kind>: expected <what>` on stderr.
    Parse {
        /// The file holding the message; `-` or nothing reads standard input.
        file: Option<PathBuf>,
        /// Also run the checks a UAS applies (RFC 3261 §8.2; §8.1.3 for a response) and print the status code
        /// and reason phrase it would answer with.
        #[arg(long)]
        validate: bool,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let outcome = match cli.command {
        Command::Sip(SipCommand::Parse { file, validate }) => sip_parse::run(file, validate),
        Command::Proxy { config } => run_proxy(config).map(|()| ExitCode::SUCCESS),
        Command::Media { config } => run_media(config).map(|()| ExitCode::SUCCESS),
    };
    match outcome {
        Ok(code) => code,
        Err(error) => {
            eprintln!("tandem: {error:#}");
            ExitCode::from(2)
        }
    }
}

fn run_proxy(config: Option<PathBuf>) -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .init();
    log_open_files();
    let config = tandem_stack::proxy::ProxyConfig::load(config.as_deref())?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async {
        let proxy = tandem_stack::proxy::start(config).await?;
        tokio::select! {
            () = proxy.wait() => {}
            _ = tokio::signal::ctrl_c() => tracing::info!("stopping"),
        }
        anyhow::Ok(())
    })
}

/// Raises the soft limit on open files to the hard one (sockets per stream or connection) and logs both.
fn log_open_files() {
    match tandem_stack::limits::raise_open_files() {
        Some(limits) if limits.after > limits.before => {
            tracing::info!(
                from = limits.before,
                to = limits.after,
                "open files limit raised"
            )
        }
        Some(limits) => tracing::info!(limit = limits.after, "open files limit"),
        None => {}
    }
}

fn run_media(config: Option<PathBuf>) -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .with_writer(std::io::stderr)
        .init();
    log_open_files();
    let config = tandem_stack::media::MediaConfig::load(config.as_deref())?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    runtime.block_on(async {
        let mut media = tandem_stack::media::start(config).await?;
        // One machine-readable line on stdout once listening (ports may have been chosen by the system).
        let metrics = media
            .metrics_addr()
            .map_or_else(|| "none".to_owned(), |a| a.to_string());
        println!("tandem media: ng={} metrics={metrics}", media.ng_addr());
        let mut terminate =
            tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?;
        let outcome = tokio::select! {
            result = media.wait() => result.map_err(anyhow::Error::from),
            _ = tokio::signal::ctrl_c() => { tracing::info!("SIGINT: stopping"); Ok(()) }
            _ = terminate.recv() => { tracing::info!("SIGTERM: stopping"); Ok(()) }
        };
        media.stop().await;
        tracing::info!("stopped");
        outcome
    })
}
