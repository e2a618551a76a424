//! `tandem`: the Tandem reference stack and its command-line tools.

use clap::{Parser, Subcommand};
use std::path::PathBuf;

/// The Tandem reference stack.
#[derive(Parser)]
#[command(name = "tandem", version)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the SIP proxy, registrar and dispatcher (`tandem proxy --config proxy.toml`).
    Proxy {
        /// The TOML configuration (defaults apply without one; TANDEM_* variables override it).
        #[arg(long)]
        config: Option<PathBuf>,
    },
}

fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    match cli.command {
        Command::Proxy { config } => run_proxy(config),
    }
}

fn run_proxy(config: Option<PathBuf>) -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .init();
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
