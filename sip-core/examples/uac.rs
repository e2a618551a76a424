//! A small SIP user agent client on the Tandem endpoint: places N calls (INVITE, ACK, BYE), or sends N
//! OPTIONS or REGISTER requests, to a target, answering digest challenges when given credentials. Prints
//! the success count and exits with 0 only if every attempt succeeded.
//!
//! ```text
//! cargo run -p tandem-sip-core --all-features --example uac -- --target sip:service@127.0.0.1:5060 --calls 10
//! cargo run -p tandem-sip-core --all-features --example uac -- \
//!     --target "sip:service@127.0.0.1:5061;transport=tls" --ca cert.pem --options 5
//! ```

use anyhow::Context;
use clap::Parser;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;
use tandem_sip_core::endpoint::{Endpoint, EndpointError};
use tandem_sip_core::transport::tls;
use tandem_sip_core::{HeaderField, HeaderName, Method, Response, Uri};

/// Command-line options.
#[derive(Parser, Debug, Clone)]
#[command(
    about = "Tandem example UAC: places calls or sends OPTIONS/REGISTER and counts successes"
)]
pub struct Options {
    /// The Request-URI, e.g. `sip:service@127.0.0.1:5060;transport=tcp`.
    #[arg(long)]
    pub target: String,
    /// Place this many calls (INVITE with SDP, ACK, BYE).
    #[arg(long, default_value_t = 0)]
    pub calls: usize,
    /// Send this many OPTIONS.
    #[arg(long, default_value_t = 0)]
    pub options: usize,
    /// Send this many REGISTER (To and From `sip:USER@target-host`).
    #[arg(long, default_value_t = 0)]
    pub register: usize,
    /// Attempts in flight at once.
    #[arg(long, default_value_t = 1)]
    pub concurrency: usize,
    /// How long each call is held before BYE, in milliseconds.
    #[arg(long, default_value_t = 0)]
    pub hold_ms: u64,
    /// Digest username.
    #[arg(long, requires = "password")]
    pub user: Option<String>,
    /// Digest password.
    #[arg(long, requires = "user")]
    pub password: Option<String>,
    /// Trust this CA certificate (PEM) for TLS.
    #[arg(long)]
    pub ca: Option<PathBuf>,
    /// Local IP address to bind the UDP and TCP transports to.
    #[arg(long, default_value = "127.0.0.1")]
    pub bind: std::net::IpAddr,
}

/// The SDP offer of every call.
const OFFER: &str = "v=0\r\no=tandem 1 1 IN IP4 127.0.0.1\r\ns=tandem\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n\
m=audio 40002 RTP/AVP 0\r\na=rtpmap:0 PCMU/8000\r\n";

/// What a run achieved.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Report {
    /// Attempts that succeeded.
    pub ok: usize,
    /// Attempts that failed.
    pub failed: usize,
}

/// What each attempt does.
#[derive(Debug, Clone, Copy)]
enum Kind {
    Call,
    Options,
    Register,
}

/// Start an endpoint on ephemeral ports and run every attempt `options` asks for.
pub async fn run(options: &Options) -> anyhow::Result<Report> {
    let endpoint = endpoint(options).await?;
    run_on(&endpoint, options).await
}

/// An endpoint on ephemeral UDP and TCP ports of `options.bind`, trusting `options.ca` for TLS.
pub async fn endpoint(options: &Options) -> anyhow::Result<Endpoint> {
    let local = SocketAddr::new(options.bind, 0);
    let mut builder = Endpoint::builder()
        .bind_udp(local)
        .bind_tcp(local)
        .user("uac")
        .product("tandem-uac");
    if let Some(ca) = &options.ca {
        let pem = std::fs::read(ca).context("reading --ca")?;
        builder = builder.tls_client(tls::client_config(&pem)?);
    }
    Ok(builder.build().await?)
}

/// Run every attempt `options` asks for from `endpoint`.
pub async fn run_on(endpoint: &Endpoint, options: &Options) -> anyhow::Result<Report> {
    let target = Uri::parse(&options.target.clone().into_bytes().into())
        .map_err(|e| anyhow::anyhow!("--target: {e}"))?;
    let plan = [
        (Kind::Call, options.calls),
        (Kind::Options, options.options),
        (Kind::Register, options.register),
    ];
    let mut report = Report::default();
    for (kind, count) in plan {
        let part = attempts(endpoint, options, &target, kind, count).await;
        report.ok += part.ok;
        report.failed += part.failed;
    }
    Ok(report)
}

/// Run `count` attempts of `kind`, `options.concurrency` at a time.
async fn attempts(
    endpoint: &Endpoint,
    options: &Options,
    target: &Uri,
    kind: Kind,
    count: usize,
) -> Report {
    let next = Arc::new(AtomicUsize::new(0));
    let ok = Arc::new(AtomicUsize::new(0));
    let mut workers = Vec::new();
    for _ in 0..options.concurrency.max(1).min(count.max(1)) {
        let (endpoint, options, target) = (endpoint.clone(), options.clone(), target.clone());
        let (next, ok) = (next.clone(), ok.clone());
        workers.push(tokio::spawn(async move {
            while next.fetch_add(1, Ordering::Relaxed) < count {
                match attempt(&endpoint, &options, &target, kind).await {
                    Ok(()) => {
                        ok.fetch_add(1, Ordering::Relaxed);
                    }
                    Err(error) => eprintln!("{kind:?} failed: {error}"),
                }
            }
        }));
    }
    for worker in workers {
        let _ = worker.await;
    }
    let ok = ok.load(Ordering::Relaxed);
    Report {
        ok,
        failed: count - ok.min(count),
    }
}

async fn attempt(
    endpoint: &Endpoint,
    options: &Options,
    target: &Uri,
    kind: Kind,
) -> Result<(), EndpointError> {
    let method = match kind {
        Kind::Call => Method::Invite,
        Kind::Options => Method::Options,
        Kind::Register => Method::Register,
    };
    let mut request = endpoint.request(method, target.clone());
    if let (Some(user), Some(password)) = (&options.user, &options.password) {
        request = request.credentials(user, password);
    }
    match kind {
        Kind::Call => {
            let mut dialog = endpoint
                .create_uac_with(request.body("application/sdp", OFFER))
                .await?;
            if options.hold_ms > 0 {
                tokio::time::sleep(Duration::from_millis(options.hold_ms)).await;
            }
            let bye = dialog.bye().await?;
            expect_success(bye)
        }
        Kind::Options => {
            let response = request.send().await?.final_response().await?;
            expect_success(response)
        }
        Kind::Register => {
            let aor = aor(target, options.user.as_deref().unwrap_or("uac"));
            let request = request
                .replace(HeaderField::new(HeaderName::To, aor.clone()))
                .replace(HeaderField::new(
                    HeaderName::From,
                    format!("{aor};tag=r{}", std::process::id()),
                ))
                .header(HeaderName::Expires, "60");
            let response = request.send().await?.final_response().await?;
            expect_success(response)
        }
    }
}

/// `<sip:USER@host[:port]>` for the target's host.
fn aor(target: &Uri, user: &str) -> String {
    let host = target.as_sip().map_or_else(String::new, |sip| {
        let mut out = Vec::new();
        sip.host().write_to(&mut out);
        if let Some(port) = sip.port() {
            out.extend_from_slice(format!(":{port}").as_bytes());
        }
        String::from_utf8_lossy(&out).into_owned()
    });
    format!("<sip:{user}@{host}>")
}

fn expect_success(response: Response) -> Result<(), EndpointError> {
    match response.status().is_success() {
        true => Ok(()),
        false => Err(EndpointError::Refused(Box::new(response))),
    }
}

#[allow(dead_code)]
#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let options = Options::parse();
    let report = run(&options).await?;
    println!("ok={} failed={}", report.ok, report.failed);
    std::process::exit(if report.failed == 0 { 0 } else { 1 });
}
