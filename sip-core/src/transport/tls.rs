//! TLS configuration for SIP over TLS and WSS (rustls with the ring provider): certificates from PEM, and a
//! self-signed certificate for development.

use super::error::TransportError;
use rustls::crypto::CryptoProvider;
use rustls::{ClientConfig, RootCertStore, ServerConfig};
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer, ServerName};
use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use tokio::net::TcpStream;
use tokio_rustls::{TlsAcceptor, TlsConnector, client, server};

/// The ring crypto provider, which every configuration here uses. It is also installed as the process
/// default if none is, so that rustls configurations built elsewhere in the program agree with it.
pub fn crypto_provider() -> Arc<CryptoProvider> {
    let provider = rustls::crypto::ring::default_provider();
    // Fails only when a default is already installed, which is fine.
    let _ = provider.clone().install_default();
    Arc::new(provider)
}

/// A server configuration presenting the certificate chain and private key given in PEM (the leaf
/// certificate first), for TLS and WSS listeners.
pub fn server_config(
    cert_chain_pem: &[u8],
    key_pem: &[u8],
) -> Result<Arc<ServerConfig>, TransportError> {
    let chain = certificates(cert_chain_pem)?;
    let key =
        PrivateKeyDer::from_pem_slice(key_pem).map_err(|_| TransportError::Pem("private key"))?;
    let config = ServerConfig::builder_with_provider(crypto_provider())
        .with_safe_default_protocol_versions()
        .map_err(TransportError::Tls)?
        .with_no_client_auth()
        .with_single_cert(chain, key)
        .map_err(TransportError::Tls)?;
    Ok(Arc::new(config))
}

/// A client configuration trusting the CA certificates given in PEM, for TLS connections this layer opens.
pub fn client_config(trusted_pem: &[u8]) -> Result<Arc<ClientConfig>, TransportError> {
    let mut roots = RootCertStore::empty();
    for cert in certificates(trusted_pem)? {
        roots.add(cert).map_err(TransportError::Tls)?;
    }
    let config = ClientConfig::builder_with_provider(crypto_provider())
        .with_safe_default_protocol_versions()
        .map_err(TransportError::Tls)?
        .with_root_certificates(roots)
        .with_no_client_auth();
    Ok(Arc::new(config))
}

/// Every certificate in `pem`; at least one.
fn certificates(pem: &[u8]) -> Result<Vec<CertificateDer<'static>>, TransportError> {
    let certs = CertificateDer::pem_slice_iter(pem)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|_| TransportError::Pem("certificate"))?;
    if certs.is_empty() {
        return Err(TransportError::Pem("certificate"));
    }
    Ok(certs)
}

/// A self-signed certificate and its key, for development and tests only: clients must be told to trust it
/// ([`DevCertificate::client_config`]).
#[derive(Clone)]
pub struct DevCertificate {
    cert_pem: String,
    key_pem: String,
}

impl std::fmt::Debug for DevCertificate {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The private key stays out of logs.
        f.debug_struct("DevCertificate")
            .field("cert_pem", &self.cert_pem)
            .finish_non_exhaustive()
    }
}

impl DevCertificate {
    /// A new key pair and a certificate for `names` (DNS names or IP addresses, e.g. `localhost`,
    /// `127.0.0.1`).
    pub fn generate(names: &[&str]) -> Result<DevCertificate, TransportError> {
        let names: Vec<String> = names.iter().map(|n| n.to_string()).collect();
        let certified =
            rcgen::generate_simple_self_signed(names).map_err(TransportError::Certificate)?;
        Ok(DevCertificate {
            cert_pem: certified.cert.pem(),
            key_pem: certified.signing_key.serialize_pem(),
        })
    }

    /// The certificate in PEM.
    pub fn cert_pem(&self) -> &str {
        &self.cert_pem
    }

    /// The private key in PEM (PKCS #8).
    pub fn key_pem(&self) -> &str {
        &self.key_pem
    }

    /// A server configuration presenting this certificate.
    pub fn server_config(&self) -> Result<Arc<ServerConfig>, TransportError> {
        server_config(self.cert_pem.as_bytes(), self.key_pem.as_bytes())
    }

    /// A client configuration trusting this certificate.
    pub fn client_config(&self) -> Result<Arc<ClientConfig>, TransportError> {
        client_config(self.cert_pem.as_bytes())
    }
}

/// The layer's TLS acceptor and connector, when configured.
pub(crate) struct TlsContext {
    acceptor: Option<TlsAcceptor>,
    connector: Option<TlsConnector>,
}

impl TlsContext {
    pub(crate) fn new(
        server: Option<Arc<ServerConfig>>,
        client: Option<Arc<ClientConfig>>,
    ) -> TlsContext {
        TlsContext {
            acceptor: server.map(TlsAcceptor::from),
            connector: client.map(TlsConnector::from),
        }
    }

    /// The server side of a handshake.
    pub(crate) async fn accept(&self, tcp: TcpStream) -> io::Result<server::TlsStream<TcpStream>> {
        let acceptor = self.acceptor.as_ref().ok_or(io::ErrorKind::Unsupported)?;
        acceptor.accept(tcp).await
    }

    /// The client side of a handshake with `addr`, verifying `server_name` (or the IP address).
    pub(crate) async fn connect(
        &self,
        tcp: TcpStream,
        addr: SocketAddr,
        server_name: Option<&str>,
    ) -> Result<client::TlsStream<TcpStream>, TransportError> {
        let connector = self
            .connector
            .as_ref()
            .ok_or(TransportError::NotAvailable(super::TransportKind::Tls))?;
        let name = match server_name {
            Some(name) => {
                ServerName::try_from(name.to_owned()).map_err(|_| TransportError::Connect {
                    addr,
                    kind: io::ErrorKind::InvalidInput,
                })?
            }
            None => ServerName::IpAddress(addr.ip().into()),
        };
        connector
            .connect(name, tcp)
            .await
            .map_err(|e| handshake_error(addr, e))
    }
}

/// A failed client handshake: rustls's own error when there is one (a certificate the client does not
/// trust, say), the I/O error kind otherwise.
fn handshake_error(addr: SocketAddr, error: io::Error) -> TransportError {
    let tls = error
        .get_ref()
        .and_then(|inner| inner.downcast_ref::<rustls::Error>())
        .cloned();
    match tls {
        Some(tls) => TransportError::Tls(tls),
        None => TransportError::Connect {
            addr,
            kind: error.kind(),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dev_certificate_makes_server_and_client_configs() {
        let dev = DevCertificate::generate(&["localhost", "127.0.0.1"]).unwrap();
        assert!(dev.cert_pem().starts_with("-----BEGIN CERTIFICATE-----"));
        assert!(dev.server_config().is_ok());
        assert!(dev.client_config().is_ok());
        assert!(!format!("{dev:?}").contains("PRIVATE KEY"));
    }

    #[test]
    fn rejects_pem_without_certificate_or_key() {
        let dev = DevCertificate::generate(&["localhost"]).unwrap();
        assert_eq!(
            server_config(b"nothing here", dev.key_pem().as_bytes()).err(),
            Some(TransportError::Pem("certificate"))
        );
        assert_eq!(
            server_config(dev.cert_pem().as_bytes(), b"").err(),
            Some(TransportError::Pem("private key"))
        );
        assert_eq!(
            client_config(dev.key_pem().as_bytes()).err(),
            Some(TransportError::Pem("certificate"))
        );
    }
}
