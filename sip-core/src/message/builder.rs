//! Building requests and responses in code, including a response to a received request (RFC 3261 §8.2.6).

use super::headers::has_header_param;
use super::{HeaderField, Headers, Request, Response, Version, content_length_field};
use crate::header::{HeaderName, TypedHeader};
use crate::method::{Method, StatusCode};
use crate::uri::Uri;
use bytes::{BufMut, Bytes};

/// Builds a [`Request`]; start with [`Request::builder`].
///
/// ```
/// use tandem_sip_core::{HeaderName, Method, Request, Uri};
/// use bytes::Bytes;
///
/// let uri = Uri::parse(&Bytes::from_static(b"sip:bob@example.com")).unwrap();
/// let request = Request::builder(Method::Options, uri)
///     .header(HeaderName::Via, "SIP/2.0/UDP host.example.com;branch=z9hG4bK1")
///     .header(HeaderName::MaxForwards, "70")
///     .build();
/// assert!(request.to_bytes().ends_with(b"Content-Length: 0\r\n\r\n"));
/// ```
#[derive(Debug, Clone)]
#[must_use]
pub struct RequestBuilder {
    method: Method,
    uri: Uri,
    headers: Headers,
    body: Bytes,
}

impl Request {
    /// Start building a `SIP/2.0` request.
    pub fn builder(method: Method, uri: Uri) -> RequestBuilder {
        RequestBuilder {
            method,
            uri,
            headers: Headers::with_capacity(8),
            body: Bytes::new(),
        }
    }
}

impl RequestBuilder {
    /// Append a header field with a raw value.
    pub fn header(mut self, name: HeaderName, value: impl Into<Bytes>) -> RequestBuilder {
        self.headers.push(HeaderField::new(name, value));
        self
    }

    /// Append a header field holding a typed value.
    pub fn typed<H: TypedHeader>(mut self, header: &H) -> RequestBuilder {
        self.headers.push(HeaderField::from_typed(header));
        self
    }

    /// Append a prepared header field.
    pub fn field(mut self, field: HeaderField) -> RequestBuilder {
        self.headers.push(field);
        self
    }

    /// The header fields added so far, to insert, remove or replace some.
    pub fn headers_mut(&mut self) -> &mut Headers {
        &mut self.headers
    }

    /// Set the body.
    pub fn body(mut self, body: impl Into<Bytes>) -> RequestBuilder {
        self.body = body.into();
        self
    }

    /// The request, with a Content-Length matching the body (replacing any given one, or appended last).
    pub fn build(mut self) -> Request {
        self.headers.replace(content_length_field(self.body.len()));
        Request::from_parts(
            self.method,
            self.uri,
            Version::SIP_2_0,
            self.headers,
            self.body,
        )
    }
}

/// Builds a [`Response`]; start with [`Response::builder`] or [`Response::from_request`].
#[derive(Debug, Clone)]
#[must_use]
pub struct ResponseBuilder {
    status: StatusCode,
    reason: Bytes,
    headers: Headers,
    body: Bytes,
}

impl Response {
    /// Start building a `SIP/2.0` response with the status code's canonical reason phrase.
    pub fn builder(status: StatusCode) -> ResponseBuilder {
        Response::builder_for(status, 8)
    }

    /// [`Response::builder`] with room for `fields` header fields.
    fn builder_for(status: StatusCode, fields: usize) -> ResponseBuilder {
        ResponseBuilder {
            status,
            reason: Bytes::from_static(status.canonical_reason().as_bytes()),
            headers: Headers::with_capacity(fields),
            body: Bytes::new(),
        }
    }

    /// Start a response to `request` as RFC 3261 §8.2.6.2 asks: every Via in order, From, To, Call-ID and
    /// CSeq copied from the request (raw, in that order); a 100 (Trying) also copies the Timestamp
    /// (§8.2.6.1). When the status is above 100 and the To has no tag, `to_tag` is added to it as the tag
    /// (a UAS must give one, §8.2.6.2; a stateless proxy may pass `None`).
    pub fn from_request(
        request: &Request,
        status: StatusCode,
        to_tag: Option<&str>,
    ) -> ResponseBuilder {
        let source = request.headers();
        // The copied fields and what a response usually adds (Contact, Supported, Date, …, Content-Length) in
        // one allocation.
        let vias = source.get_all(&HeaderName::Via).count();
        let mut builder = Response::builder_for(status, vias + 8);
        for field in source.get_all(&HeaderName::Via) {
            builder.headers.push(field.clone());
        }
        for name in [
            HeaderName::From,
            HeaderName::To,
            HeaderName::CallId,
            HeaderName::CSeq,
        ] {
            if let Some(field) = source.get(&name) {
                builder.headers.push(field.clone());
            }
        }
        if status.as_u16() > 100 {
            if let Some(tag) = to_tag {
                add_to_tag(&mut builder.headers, tag);
            }
        } else if let Some(field) = source.get(&HeaderName::Timestamp) {
            builder.headers.push(field.clone());
        }
        builder
    }
}

/// Add `;tag=` to the To field unless it already has a tag.
fn add_to_tag(headers: &mut Headers, tag: &str) {
    let Some(to) = headers.get_mut(&HeaderName::To) else {
        return;
    };
    if has_header_param(to.value(), b"tag") {
        return;
    }
    let mut value = Vec::with_capacity(to.value().len() + 5 + tag.len());
    value.put_slice(to.value());
    value.put_slice(b";tag=");
    value.put_slice(tag.as_bytes());
    to.set_value(value);
}

impl ResponseBuilder {
    /// Set the reason phrase (the default is the status code's canonical one).
    pub fn reason(mut self, reason: impl Into<Bytes>) -> ResponseBuilder {
        self.reason = reason.into();
        self
    }

    /// Append a header field with a raw value.
    pub fn header(mut self, name: HeaderName, value: impl Into<Bytes>) -> ResponseBuilder {
        self.headers.push(HeaderField::new(name, value));
        self
    }

    /// Append a header field holding a typed value.
    pub fn typed<H: TypedHeader>(mut self, header: &H) -> ResponseBuilder {
        self.headers.push(HeaderField::from_typed(header));
        self
    }

    /// Append a prepared header field.
    pub fn field(mut self, field: HeaderField) -> ResponseBuilder {
        self.headers.push(field);
        self
    }

    /// The header fields added so far, to insert, remove or replace some.
    pub fn headers_mut(&mut self) -> &mut Headers {
        &mut self.headers
    }

    /// Set the body.
    pub fn body(mut self, body: impl Into<Bytes>) -> ResponseBuilder {
        self.body = body.into();
        self
    }

    /// The response, with a Content-Length matching the body (replacing any given one, or appended last).
    pub fn build(mut self) -> Response {
        self.headers.replace(content_length_field(self.body.len()));
        Response::from_parts(
            Version::SIP_2_0,
            self.status,
            self.reason,
            self.headers,
            self.body,
        )
    }
}
