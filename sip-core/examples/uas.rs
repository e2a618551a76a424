//! A small SIP user agent server on the Tandem endpoint: answers OPTIONS with 200, INVITE with 180 then 200
//! carrying SDP (and BYE with 200, done by the endpoint), REGISTER with 200; optionally challenges REGISTER
//! and INVITE with digest authentication. Prints one `ready …` line once its transports are bound.
//!
//! ```text
//! cargo run -p tandem-sip-core --all-features --example uas -- --udp 127.0.0.1:5060 --tcp 127.0.0.1:5060
//! cargo run -p tandem-sip-core --all-features --example uas -- --tls 127.0.0.1:5061 --auth alice:secret
//! ```
//!
//! TLS and WSS use `--cert`/`--key` (PEM files), or a self-signed development certificate for localhost and
//! 127.0.0.1 when those are not given.

use anyhow::Context;
use clap::Parser;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use tandem_sip_core::auth::{Algorithm, DigestServer, ha1};
use tandem_sip_core::endpoint::{Endpoint, ServerTransaction};
use tandem_sip_core::transport::tls;
use tandem_sip_core::{HeaderName, Method, StatusCode, TransportKind};

/// Command-line options.
#[derive(Parser, Debug, Clone, Default)]
#[command(about = "Tandem example UAS: answers OPTIONS, INVITE, BYE and REGISTER")]
pub struct Options {
    /// Listen for UDP on this address.
    #[arg(long)]
    pub udp: Option<SocketAddr>,
    /// Listen for TCP on this address.
    #[arg(long)]
    pub tcp: Option<SocketAddr>,
    /// Listen for TLS on this address.
    #[arg(long)]
    pub tls: Option<SocketAddr>,
    /// Listen for WebSocket on this address.
    #[arg(long)]
    pub ws: Option<SocketAddr>,
    /// Listen for secure WebSocket on this address.
    #[arg(long)]
    pub wss: Option<SocketAddr>,
    /// Certificate chain (PEM) for TLS and WSS.
    #[arg(long, requires = "key")]
    pub cert: Option<PathBuf>,
    /// Private key (PEM) for TLS and WSS.
    #[arg(long, requires = "cert")]
    pub key: Option<PathBuf>,
    /// Challenge REGISTER and INVITE with digest authentication for USER:PASSWORD.
    #[arg(long, value_name = "USER:PASSWORD")]
    pub auth: Option<String>,
    /// The digest realm.
    #[arg(long, default_value = "tandem")]
    pub realm: String,
    /// Digest algorithms offered, preferred first (SIPp answers only the first, and only MD5).
    #[arg(long, value_delimiter = ',', default_value = "SHA-256,MD5")]
    pub algorithms: Vec<String>,
}

/// The SDP answer the UAS gives every call.
const ANSWER: &str = "v=0\r\no=tandem 1 1 IN IP4 127.0.0.1\r\ns=tandem\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n\
m=audio 40000 RTP/AVP 0 101\r\na=rtpmap:0 PCMU/8000\r\na=rtpmap:101 telephone-event/8000\r\n";

/// Who may authenticate, and how they are checked.
struct Credentials {
    server: DigestServer,
    user: String,
    ha1_sha256: String,
    ha1_md5: String,
}

impl Credentials {
    fn new(spec: &str, realm: &str, algorithms: &[String]) -> anyhow::Result<Credentials> {
        let (user, password) = spec.split_once(':').context("--auth takes USER:PASSWORD")?;
        let mut secret = [0u8; 32];
        getrandom::fill(&mut secret).map_err(|e| anyhow::anyhow!("no randomness: {e}"))?;
        let algorithms = algorithms
            .iter()
            .map(|name| Algorithm::from_token(name.as_bytes()).context("unknown digest algorithm"))
            .collect::<anyhow::Result<Vec<_>>>()?;
        Ok(Credentials {
            server: DigestServer::new(realm, &secret).with_algorithms(&algorithms),
            user: user.to_owned(),
            ha1_sha256: ha1(Algorithm::Sha256, user, realm, password),
            ha1_md5: ha1(Algorithm::Md5, user, realm, password),
        })
    }

    fn lookup(&self, user: &str, algorithm: Algorithm) -> Option<String> {
        if user != self.user {
            return None;
        }
        Some(match algorithm {
            Algorithm::Md5 => self.ha1_md5.clone(),
            _ => self.ha1_sha256.clone(),
        })
    }
}

/// Bind the transports `options` name (UDP on 127.0.0.1:5060 when none is named) and start answering.
pub async fn start(options: &Options) -> anyhow::Result<Endpoint> {
    let mut builder = Endpoint::builder()
        .allow(Method::Register)
        .user("uas")
        .product("tandem-uas");
    let none = [
        options.udp,
        options.tcp,
        options.tls,
        options.ws,
        options.wss,
    ]
    .iter()
    .all(Option::is_none);
    if none {
        builder = builder.bind_udp("127.0.0.1:5060".parse()?);
    }
    if let Some(addr) = options.udp {
        builder = builder.bind_udp(addr);
    }
    if let Some(addr) = options.tcp {
        builder = builder.bind_tcp(addr);
    }
    if let Some(addr) = options.ws {
        builder = builder.bind_ws(addr);
    }
    if options.tls.is_some() || options.wss.is_some() {
        builder = builder.tls_server(server_config(options)?);
    }
    if let Some(addr) = options.tls {
        builder = builder.bind_tls(addr);
    }
    if let Some(addr) = options.wss {
        builder = builder.bind_wss(addr);
    }
    let endpoint = builder.build().await?;
    let credentials = match &options.auth {
        Some(spec) => Some(Arc::new(Credentials::new(
            spec,
            &options.realm,
            &options.algorithms,
        )?)),
        None => None,
    };
    tokio::spawn(serve(endpoint.clone(), credentials));
    Ok(endpoint)
}

fn server_config(options: &Options) -> anyhow::Result<Arc<rustls::ServerConfig>> {
    match (&options.cert, &options.key) {
        (Some(cert), Some(key)) => {
            let cert = std::fs::read(cert).context("reading --cert")?;
            let key = std::fs::read(key).context("reading --key")?;
            Ok(tls::server_config(&cert, &key)?)
        }
        _ => Ok(tls::DevCertificate::generate(&["localhost", "127.0.0.1"])?.server_config()?),
    }
}

/// Answer every request outside a dialog, each in its own task.
async fn serve(endpoint: Endpoint, credentials: Option<Arc<Credentials>>) {
    while let Some(transaction) = endpoint.incoming().await {
        tokio::spawn(answer(endpoint.clone(), transaction, credentials.clone()));
    }
}

async fn answer(
    endpoint: Endpoint,
    mut transaction: ServerTransaction,
    credentials: Option<Arc<Credentials>>,
) {
    let method = transaction.request().method().clone();
    let challenged = matches!(method, Method::Register | Method::Invite);
    if let (true, Some(credentials)) = (challenged, &credentials) {
        let lookup = |user: &str, algorithm| credentials.lookup(user, algorithm);
        match transaction.authenticate(&credentials.server, lookup).await {
            Ok(Some(_user)) => {}
            _ => return,
        }
    }
    let _ = match method {
        Method::Invite => {
            let _ = transaction.reply(StatusCode::RINGING).await;
            match endpoint.create_uas(transaction, ANSWER).await {
                // The endpoint answers the BYE; wait for it so the dialog lives until then.
                Ok(mut dialog) => {
                    dialog.ended().await;
                    Ok(())
                }
                Err(error) => Err(error),
            }
        }
        Method::Register => {
            let contact = transaction
                .request()
                .headers()
                .get(&HeaderName::Contact)
                .cloned();
            let mut ok = transaction.response(StatusCode::OK);
            if let Some(contact) = contact {
                ok = ok.field(contact).header(HeaderName::Expires, "3600");
            }
            let ok = ok.build();
            transaction.respond(ok).await
        }
        _ => transaction.reply(StatusCode::OK).await,
    };
}

/// The `ready` line: every listener with its bound address.
pub fn ready_line(endpoint: &Endpoint) -> String {
    let mut line = String::from("ready");
    for (kind, name) in [
        (TransportKind::Udp, "udp"),
        (TransportKind::Tcp, "tcp"),
        (TransportKind::Tls, "tls"),
        (TransportKind::Ws, "ws"),
        (TransportKind::Wss, "wss"),
    ] {
        if let Some(addr) = endpoint.local_addr(kind) {
            line.push_str(&format!(" {name}={addr}"));
        }
    }
    line
}

#[allow(dead_code)]
#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let options = Options::parse();
    let endpoint = start(&options).await?;
    println!("{}", ready_line(&endpoint));
    std::future::pending::<()>().await;
    Ok(())
}
