//! Requests outside any dialog: building them from the user agent's template, resolving where they go.

use super::EndpointError;
use super::addressing::{default_port, uri_transport};
use super::driver::Endpoint;
use super::handles::ClientTransactionHandle;
use crate::auth::DigestClient;
use crate::header::HeaderName;
use crate::message::HeaderField;
use crate::method::Method;
use crate::transaction::{Target, TransportKind};
use crate::uri::{Host, Uri};
use bytes::Bytes;
use std::net::SocketAddr;

/// A request outside any dialog being put together, from [`Endpoint::request`].
///
/// It starts from the user agent's template — From this endpoint with a fresh tag, To the Request-URI, a
/// fresh Call-ID, `CSeq: 1`, `Max-Forwards: 70`, a Contact for INVITE, REGISTER, SUBSCRIBE and REFER —
/// and goes to the target the Request-URI names unless [`OutgoingRequest::target`] says otherwise.
///
/// ```no_run
/// # async fn run(endpoint: tandem_sip_core::endpoint::Endpoint) -> Result<(), tandem_sip_core::endpoint::EndpointError> {
/// use tandem_sip_core::{Method, Uri};
/// let uri = Uri::parse(&"sip:registrar@192.0.2.10".into()).unwrap();
/// let mut register = endpoint
///     .request(Method::Register, uri)
///     .header(tandem_sip_core::HeaderName::Expires, "3600")
///     .credentials("alice", "secret")
///     .send()
///     .await?;
/// let response = register.final_response().await?;
/// # Ok(()) }
/// ```
#[derive(Debug)]
#[must_use]
pub struct OutgoingRequest {
    endpoint: Endpoint,
    method: Method,
    uri: Uri,
    target: Option<Target>,
    transport: Option<TransportKind>,
    headers: Vec<HeaderField>,
    replacements: Vec<HeaderField>,
    body: Bytes,
    credentials: Option<DigestClient>,
}

impl OutgoingRequest {
    pub(super) fn new(endpoint: Endpoint, method: Method, uri: Uri) -> OutgoingRequest {
        OutgoingRequest {
            endpoint,
            method,
            uri,
            target: None,
            transport: None,
            headers: Vec::new(),
            replacements: Vec::new(),
            body: Bytes::new(),
            credentials: None,
        }
    }

    /// Add a header field.
    pub fn header(mut self, name: HeaderName, value: impl Into<Bytes>) -> Self {
        self.headers.push(HeaderField::new(name, value));
        self
    }

    /// Replace the template's header field of the same name (e.g. the To of a REGISTER, the From).
    pub fn replace(mut self, field: HeaderField) -> Self {
        self.replacements.push(field);
        self
    }

    /// Set the body and its Content-Type.
    pub fn body(mut self, content_type: &str, body: impl Into<Bytes>) -> Self {
        self.replacements.push(HeaderField::new(
            HeaderName::ContentType,
            Bytes::copy_from_slice(content_type.as_bytes()),
        ));
        self.body = body.into();
        self
    }

    /// Set the body, keeping the Content-Type given with [`OutgoingRequest::header`] or
    /// [`OutgoingRequest::replace`].
    pub fn body_bytes(mut self, body: impl Into<Bytes>) -> Self {
        self.body = body.into();
        self
    }

    /// Answer 401/407 challenges with these credentials.
    pub fn credentials(mut self, username: &str, password: &str) -> Self {
        self.credentials = Some(DigestClient::new(username, password));
        self
    }

    /// Answer challenges with this digest client (which may already hold a challenge, to authorize the
    /// first request).
    pub fn digest_client(mut self, client: DigestClient) -> Self {
        self.credentials = Some(client);
        self
    }

    /// Send to `target` rather than where the Request-URI points (an outbound proxy, a known flow).
    pub fn target(mut self, target: Target) -> Self {
        self.target = Some(target);
        self
    }

    /// Use `transport` when the Request-URI names none.
    pub fn transport(mut self, transport: TransportKind) -> Self {
        self.transport = Some(transport);
        self
    }

    /// The request and where it goes.
    pub(super) async fn prepare(
        self,
    ) -> Result<(crate::message::Request, Target, Option<DigestClient>), EndpointError> {
        let target = match self.target {
            Some(target) => target,
            None => resolve(&self.uri, self.transport).await?,
        };
        let mut builder = self
            .endpoint
            .template(self.method, self.uri, target.transport)
            .await?;
        for field in self.replacements {
            builder.headers_mut().replace(field);
        }
        for field in self.headers {
            builder = builder.field(field);
        }
        let request = builder.body(self.body).build();
        Ok((request, target, self.credentials))
    }

    /// Send it; the responses come through the returned handle.
    pub async fn send(self) -> Result<ClientTransactionHandle, EndpointError> {
        let endpoint = self.endpoint.clone();
        let (request, target, credentials) = self.prepare().await?;
        endpoint.send_request(request, target, credentials).await
    }
}

/// Where a request to `uri` goes: the IP address it names, or its host name looked up (A/AAAA only; SRV
/// and NAPTR, RFC 3263, are not done). `transport` applies when the URI names none (UDP by default).
pub async fn resolve(uri: &Uri, transport: Option<TransportKind>) -> Result<Target, EndpointError> {
    let unresolvable = || {
        let mut text = Vec::new();
        uri.write_to(&mut text);
        EndpointError::Unresolvable(String::from_utf8_lossy(&text).into_owned())
    };
    let sip = uri.as_sip().ok_or_else(unresolvable)?;
    let kind = uri_transport(sip, transport.unwrap_or(TransportKind::Udp));
    let port = sip.port().unwrap_or_else(|| default_port(kind));
    if let Some(ip) = sip.host().ip() {
        return Ok(Target::new(kind, SocketAddr::new(ip, port)));
    }
    let Host::Domain(name) = sip.host() else {
        return Err(unresolvable());
    };
    let host = std::str::from_utf8(name).map_err(|_| unresolvable())?;
    let addr = tokio::net::lookup_host((host, port))
        .await
        .map_err(|_| unresolvable())?
        .next()
        .ok_or_else(unresolvable)?;
    Ok(Target::new(kind, addr))
}
