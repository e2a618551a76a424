//! The SIP message model (RFC 3261 §7): requests, responses, their header fields and body, all sharing the
//! received buffer through [`Bytes`] slices, and their wire form.
//!
//! Messages come from [`crate::parse_message`], from a [`crate::StreamFramer`], or from the builders
//! ([`Request::builder`], [`Response::builder`], [`Response::from_request`]). Writing a parsed message gives
//! back its header fields exactly as received (name spelling, value bytes, order), so that
//! parse → write → parse yields an equal message.

mod builder;
mod headers;

pub use builder::{RequestBuilder, ResponseBuilder};
pub use headers::{Elements, HeaderField, Headers, ListElement, ListElements, TypedValues};

pub(crate) use headers::{count_elements, is_lws, trim_range};

use crate::header::HeaderName;
use crate::method::{Method, StatusCode};
use crate::uri::Uri;
use bytes::Bytes;
use std::fmt;

/// The SIP-Version of a start line (`SIP/2.0`; RFC 3261 §7.1).
///
/// The parser accepts any well-formed `SIP/x.y` so that a UAS can answer a request of another version with
/// `505 Version Not Supported` (RFC 3261 §8.2.2 … RFC 4475 §3.3.14); check [`Version::is_sip_2_0`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Version {
    major: u16,
    minor: u16,
}

impl Version {
    /// `SIP/2.0`, the only version this crate speaks.
    pub const SIP_2_0: Version = Version { major: 2, minor: 0 };

    /// A version from its numbers.
    pub const fn new(major: u16, minor: u16) -> Version {
        Version { major, minor }
    }

    /// The major version number.
    pub const fn major(self) -> u16 {
        self.major
    }

    /// The minor version number.
    pub const fn minor(self) -> u16 {
        self.minor
    }

    /// `true` for `SIP/2.0`.
    pub const fn is_sip_2_0(self) -> bool {
        self.major == 2 && self.minor == 0
    }

    fn write_to(self, out: &mut Vec<u8>) {
        if self.is_sip_2_0() {
            out.extend_from_slice(b"SIP/2.0");
        } else {
            out.extend_from_slice(self.to_string().as_bytes());
        }
    }
}

impl Default for Version {
    fn default() -> Version {
        Version::SIP_2_0
    }
}

impl fmt::Display for Version {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SIP/{}.{}", self.major, self.minor)
    }
}

/// A SIP request: request line, header fields and body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Request {
    method: Method,
    uri: Uri,
    version: Version,
    headers: Headers,
    body: Bytes,
}

impl Request {
    /// Put a request together from its parts as they are (no Content-Length is added; see
    /// [`Request::builder`] for that).
    pub fn from_parts(
        method: Method,
        uri: Uri,
        version: Version,
        headers: Headers,
        body: Bytes,
    ) -> Request {
        Request {
            method,
            uri,
            version,
            headers,
            body,
        }
    }

    /// The method.
    pub fn method(&self) -> &Method {
        &self.method
    }

    /// The Request-URI.
    pub fn uri(&self) -> &Uri {
        &self.uri
    }

    /// Replace the Request-URI (a proxy retargeting the request, RFC 3261 §16.6 step 2).
    pub fn set_uri(&mut self, uri: Uri) {
        self.uri = uri;
    }

    /// The SIP-Version of the request line.
    pub fn version(&self) -> Version {
        self.version
    }

    /// The header fields.
    pub fn headers(&self) -> &Headers {
        &self.headers
    }

    /// The header fields, to add, remove or replace some.
    pub fn headers_mut(&mut self) -> &mut Headers {
        &mut self.headers
    }

    /// The body (empty if there is none).
    pub fn body(&self) -> &Bytes {
        &self.body
    }

    /// Replace the body and set Content-Length to its length.
    pub fn set_body(&mut self, body: impl Into<Bytes>) {
        self.body = body.into();
        self.headers.replace(content_length_field(self.body.len()));
    }

    /// Split into method, Request-URI, version, header fields and body.
    pub fn into_parts(self) -> (Method, Uri, Version, Headers, Bytes) {
        (self.method, self.uri, self.version, self.headers, self.body)
    }

    /// Append the wire form to `out`: the request line, every header field as kept, an empty line, the body.
    pub fn write_to(&self, out: &mut Vec<u8>) {
        out.reserve(self.wire_len_hint());
        out.extend_from_slice(self.method.as_bytes());
        out.push(b' ');
        self.uri.write_to(out);
        out.push(b' ');
        self.version.write_to(out);
        out.extend_from_slice(b"\r\n");
        write_tail(&self.headers, &self.body, out);
    }

    /// The wire form as one buffer.
    pub fn to_bytes(&self) -> Bytes {
        let mut out = Vec::new();
        self.write_to(&mut out);
        Bytes::from(out)
    }

    fn wire_len_hint(&self) -> usize {
        // The URI's length is not known without writing it; 64 bytes covers most.
        self.method.as_bytes().len() + 64 + 12 + self.headers.wire_len() + 2 + self.body.len()
    }
}

/// A SIP response: status line, header fields and body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Response {
    version: Version,
    status: StatusCode,
    reason: Bytes,
    headers: Headers,
    body: Bytes,
}

impl Response {
    /// Put a response together from its parts as they are (no Content-Length is added; see
    /// [`Response::builder`] for that).
    pub fn from_parts(
        version: Version,
        status: StatusCode,
        reason: Bytes,
        headers: Headers,
        body: Bytes,
    ) -> Response {
        Response {
            version,
            status,
            reason,
            headers,
            body,
        }
    }

    /// The SIP-Version of the status line.
    pub fn version(&self) -> Version {
        self.version
    }

    /// The status code.
    pub fn status(&self) -> StatusCode {
        self.status
    }

    /// The reason phrase as received (may be empty).
    pub fn reason(&self) -> &Bytes {
        &self.reason
    }

    /// The header fields.
    pub fn headers(&self) -> &Headers {
        &self.headers
    }

    /// The header fields, to add, remove or replace some.
    pub fn headers_mut(&mut self) -> &mut Headers {
        &mut self.headers
    }

    /// The body (empty if there is none).
    pub fn body(&self) -> &Bytes {
        &self.body
    }

    /// Replace the body and set Content-Length to its length.
    pub fn set_body(&mut self, body: impl Into<Bytes>) {
        self.body = body.into();
        self.headers.replace(content_length_field(self.body.len()));
    }

    /// Split into version, status code, reason phrase, header fields and body.
    pub fn into_parts(self) -> (Version, StatusCode, Bytes, Headers, Bytes) {
        (
            self.version,
            self.status,
            self.reason,
            self.headers,
            self.body,
        )
    }

    /// Append the wire form to `out`: the status line, every header field as kept, an empty line, the body.
    pub fn write_to(&self, out: &mut Vec<u8>) {
        out.reserve(self.wire_len());
        self.version.write_to(out);
        out.push(b' ');
        let code = self.status.as_u16();
        // Status codes are three digits (100..=699) by construction.
        out.extend_from_slice(&[
            b'0' + (code / 100 % 10) as u8,
            b'0' + (code / 10 % 10) as u8,
            b'0' + (code % 10) as u8,
        ]);
        out.push(b' ');
        out.extend_from_slice(&self.reason);
        out.extend_from_slice(b"\r\n");
        write_tail(&self.headers, &self.body, out);
    }

    /// The wire form as one buffer.
    pub fn to_bytes(&self) -> Bytes {
        let mut out = Vec::new();
        self.write_to(&mut out);
        Bytes::from(out)
    }

    fn wire_len(&self) -> usize {
        12 + 2 + self.reason.len() + 2 + self.headers.wire_len() + 2 + self.body.len()
    }
}

fn write_tail(headers: &Headers, body: &Bytes, out: &mut Vec<u8>) {
    headers.write_to(out);
    out.extend_from_slice(b"\r\n");
    out.extend_from_slice(body);
}

/// A `Content-Length` field for a body of `len` bytes.
pub(crate) fn content_length_field(len: usize) -> HeaderField {
    let value = match len {
        0 => Bytes::from_static(b"0"),
        n => Bytes::from(n.to_string()),
    };
    HeaderField::new(HeaderName::ContentLength, value)
}

/// A SIP message: a request or a response.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Message {
    /// A request.
    Request(Request),
    /// A response.
    Response(Response),
}

impl Message {
    /// The header fields.
    pub fn headers(&self) -> &Headers {
        match self {
            Message::Request(r) => r.headers(),
            Message::Response(r) => r.headers(),
        }
    }

    /// The header fields, to add, remove or replace some.
    pub fn headers_mut(&mut self) -> &mut Headers {
        match self {
            Message::Request(r) => r.headers_mut(),
            Message::Response(r) => r.headers_mut(),
        }
    }

    /// The body (empty if there is none).
    pub fn body(&self) -> &Bytes {
        match self {
            Message::Request(r) => r.body(),
            Message::Response(r) => r.body(),
        }
    }

    /// The SIP-Version of the start line.
    pub fn version(&self) -> Version {
        match self {
            Message::Request(r) => r.version(),
            Message::Response(r) => r.version(),
        }
    }

    /// The request, if this is one.
    pub fn as_request(&self) -> Option<&Request> {
        match self {
            Message::Request(r) => Some(r),
            Message::Response(_) => None,
        }
    }

    /// The response, if this is one.
    pub fn as_response(&self) -> Option<&Response> {
        match self {
            Message::Request(_) => None,
            Message::Response(r) => Some(r),
        }
    }

    /// `true` for a request.
    pub fn is_request(&self) -> bool {
        matches!(self, Message::Request(_))
    }

    /// Attach the body framed by the parser, leaving the header fields as received.
    pub(crate) fn set_wire_body(&mut self, body: Bytes) {
        match self {
            Message::Request(r) => r.body = body,
            Message::Response(r) => r.body = body,
        }
    }

    /// Append the wire form to `out`.
    pub fn write_to(&self, out: &mut Vec<u8>) {
        match self {
            Message::Request(r) => r.write_to(out),
            Message::Response(r) => r.write_to(out),
        }
    }

    /// The wire form as one buffer.
    pub fn to_bytes(&self) -> Bytes {
        match self {
            Message::Request(r) => r.to_bytes(),
            Message::Response(r) => r.to_bytes(),
        }
    }
}

impl From<Request> for Message {
    fn from(r: Request) -> Message {
        Message::Request(r)
    }
}

impl From<Response> for Message {
    fn from(r: Response) -> Message {
        Message::Response(r)
    }
}
