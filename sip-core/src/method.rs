//! Request methods and response status codes.

use bytes::Bytes;
use std::fmt;

macro_rules! methods {
    ($( $(#[$doc:meta])* $variant:ident => $text:literal; )*) => {
        /// A SIP request method. Methods are case-sensitive (RFC 3261 §7.1); anything that is not one of the
        /// well-known methods is kept verbatim as [`Method::Extension`].
        #[non_exhaustive]
        #[derive(Debug, Clone, PartialEq, Eq, Hash)]
        pub enum Method {
            $( $(#[$doc])* $variant, )*
            /// An extension method, kept exactly as received.
            Extension(Bytes),
        }

        impl Method {
            /// The method's wire form.
            pub fn as_bytes(&self) -> &[u8] {
                match self {
                    $( Method::$variant => $text.as_bytes(), )*
                    Method::Extension(b) => b,
                }
            }

            /// Recognise a method from its wire form (case-sensitive); unknown tokens become
            /// [`Method::Extension`] sharing `token`'s storage. The caller has checked that `token` is a `token`.
            pub fn from_bytes(token: Bytes) -> Method {
                match &token[..] {
                    $( t if t == $text.as_bytes() => Method::$variant, )*
                    _ => Method::Extension(token),
                }
            }
        }
    };
}

methods! {
    /// `INVITE` (RFC 3261)
    Invite => "INVITE";
    /// `ACK` (RFC 3261)
    Ack => "ACK";
    /// `BYE` (RFC 3261)
    Bye => "BYE";
    /// `CANCEL` (RFC 3261)
    Cancel => "CANCEL";
    /// `OPTIONS` (RFC 3261)
    Options => "OPTIONS";
    /// `REGISTER` (RFC 3261)
    Register => "REGISTER";
    /// `PRACK` (RFC 3262)
    Prack => "PRACK";
    /// `SUBSCRIBE` (RFC 6665)
    Subscribe => "SUBSCRIBE";
    /// `NOTIFY` (RFC 6665)
    Notify => "NOTIFY";
    /// `PUBLISH` (RFC 3903)
    Publish => "PUBLISH";
    /// `INFO` (RFC 6086)
    Info => "INFO";
    /// `REFER` (RFC 3515)
    Refer => "REFER";
    /// `MESSAGE` (RFC 3428)
    Message => "MESSAGE";
    /// `UPDATE` (RFC 3311)
    Update => "UPDATE";
}

impl Method {
    /// The method as text (methods are tokens, so always ASCII; an invalid extension yields `""`).
    pub fn as_str(&self) -> &str {
        std::str::from_utf8(self.as_bytes()).unwrap_or("")
    }
}

impl fmt::Display for Method {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A response status code, 100..=699 (RFC 3261 §7.2, §21).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct StatusCode(u16);

impl StatusCode {
    /// `100 Trying`
    pub const TRYING: StatusCode = StatusCode(100);
    /// `180 Ringing`
    pub const RINGING: StatusCode = StatusCode(180);
    /// `183 Session Progress`
    pub const SESSION_PROGRESS: StatusCode = StatusCode(183);
    /// `200 OK`
    pub const OK: StatusCode = StatusCode(200);
    /// `400 Bad Request`
    pub const BAD_REQUEST: StatusCode = StatusCode(400);
    /// `401 Unauthorized`
    pub const UNAUTHORIZED: StatusCode = StatusCode(401);
    /// `403 Forbidden`
    pub const FORBIDDEN: StatusCode = StatusCode(403);
    /// `404 Not Found`
    pub const NOT_FOUND: StatusCode = StatusCode(404);
    /// `405 Method Not Allowed`
    pub const METHOD_NOT_ALLOWED: StatusCode = StatusCode(405);
    /// `407 Proxy Authentication Required`
    pub const PROXY_AUTHENTICATION_REQUIRED: StatusCode = StatusCode(407);
    /// `408 Request Timeout`
    pub const REQUEST_TIMEOUT: StatusCode = StatusCode(408);
    /// `415 Unsupported Media Type`
    pub const UNSUPPORTED_MEDIA_TYPE: StatusCode = StatusCode(415);
    /// `416 Unsupported URI Scheme`
    pub const UNSUPPORTED_URI_SCHEME: StatusCode = StatusCode(416);
    /// `420 Bad Extension`
    pub const BAD_EXTENSION: StatusCode = StatusCode(420);
    /// `423 Interval Too Brief`
    pub const INTERVAL_TOO_BRIEF: StatusCode = StatusCode(423);
    /// `480 Temporarily Unavailable`
    pub const TEMPORARILY_UNAVAILABLE: StatusCode = StatusCode(480);
    /// `481 Call/Transaction Does Not Exist`
    pub const CALL_DOES_NOT_EXIST: StatusCode = StatusCode(481);
    /// `482 Loop Detected`
    pub const LOOP_DETECTED: StatusCode = StatusCode(482);
    /// `483 Too Many Hops`
    pub const TOO_MANY_HOPS: StatusCode = StatusCode(483);
    /// `486 Busy Here`
    pub const BUSY_HERE: StatusCode = StatusCode(486);
    /// `487 Request Terminated`
    pub const REQUEST_TERMINATED: StatusCode = StatusCode(487);
    /// `491 Request Pending`
    pub const REQUEST_PENDING: StatusCode = StatusCode(491);
    /// `500 Server Internal Error`
    pub const SERVER_INTERNAL_ERROR: StatusCode = StatusCode(500);
    /// `501 Not Implemented`
    pub const NOT_IMPLEMENTED: StatusCode = StatusCode(501);
    /// `502 Bad Gateway`
    pub const BAD_GATEWAY: StatusCode = StatusCode(502);
    /// `503 Service Unavailable`
    pub const SERVICE_UNAVAILABLE: StatusCode = StatusCode(503);
    /// `505 Version Not Supported`
    pub const VERSION_NOT_SUPPORTED: StatusCode = StatusCode(505);
    /// `513 Message Too Large`
    pub const MESSAGE_TOO_LARGE: StatusCode = StatusCode(513);

    /// A status code from its number; `None` outside 100..=699.
    pub const fn new(code: u16) -> Option<StatusCode> {
        if code >= 100 && code <= 699 {
            Some(StatusCode(code))
        } else {
            None
        }
    }

    /// The numeric code.
    pub const fn as_u16(self) -> u16 {
        self.0
    }

    /// The class: 1 for provisional, 2 for success, … 6 for global failure.
    pub const fn class(self) -> u8 {
        (self.0 / 100) as u8
    }

    /// `true` for 1xx.
    pub const fn is_provisional(self) -> bool {
        self.0 < 200
    }

    /// `true` for 2xx.
    pub const fn is_success(self) -> bool {
        self.0 >= 200 && self.0 < 300
    }

    /// `true` for 200..=699.
    pub const fn is_final(self) -> bool {
        self.0 >= 200
    }

    /// The default reason phrase from RFC 3261 §21 (and extensions), or `""` for an unknown code.
    pub fn canonical_reason(self) -> &'static str {
        match self.0 {
            100 => "Trying",
            180 => "Ringing",
            181 => "Call Is Being Forwarded",
            182 => "Queued",
            183 => "Session Progress",
            199 => "Early Dialog Terminated",
            200 => "OK",
            202 => "Accepted",
            204 => "No Notification",
            300 => "Multiple Choices",
            301 => "Moved Permanently",
            302 => "Moved Temporarily",
            305 => "Use Proxy",
            380 => "Alternative Service",
            400 => "Bad Request",
            401 => "Unauthorized",
            402 => "Payment Required",
            403 => "Forbidden",
            404 => "Not Found",
            405 => "Method Not Allowed",
            406 => "Not Acceptable",
            407 => "Proxy Authentication Required",
            408 => "Request Timeout",
            410 => "Gone",
            412 => "Conditional Request Failed",
            413 => "Request Entity Too Large",
            414 => "Request-URI Too Long",
            415 => "Unsupported Media Type",
            416 => "Unsupported URI Scheme",
            417 => "Unknown Resource-Priority",
            420 => "Bad Extension",
            421 => "Extension Required",
            422 => "Session Interval Too Small",
            423 => "Interval Too Brief",
            428 => "Use Identity Header",
            429 => "Provide Referrer Identity",
            430 => "Flow Failed",
            433 => "Anonymity Disallowed",
            436 => "Bad Identity-Info",
            437 => "Unsupported Certificate",
            438 => "Invalid Identity Header",
            439 => "First Hop Lacks Outbound Support",
            440 => "Max-Breadth Exceeded",
            469 => "Bad Info Package",
            470 => "Consent Needed",
            480 => "Temporarily Unavailable",
            481 => "Call/Transaction Does Not Exist",
            482 => "Loop Detected",
            483 => "Too Many Hops",
            484 => "Address Incomplete",
            485 => "Ambiguous",
            486 => "Busy Here",
            487 => "Request Terminated",
            488 => "Not Acceptable Here",
            489 => "Bad Event",
            491 => "Request Pending",
            493 => "Undecipherable",
            494 => "Security Agreement Required",
            500 => "Server Internal Error",
            501 => "Not Implemented",
            502 => "Bad Gateway",
            503 => "Service Unavailable",
            504 => "Server Time-out",
            505 => "Version Not Supported",
            513 => "Message Too Large",
            555 => "Push Notification Service Not Supported",
            580 => "Precondition Failure",
            600 => "Busy Everywhere",
            603 => "Decline",
            604 => "Does Not Exist Anywhere",
            606 => "Not Acceptable",
            607 => "Unwanted",
            608 => "Rejected",
            _ => "",
        }
    }
}

impl fmt::Display for StatusCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn methods_are_case_sensitive_and_extensions_kept_verbatim() {
        assert_eq!(
            Method::from_bytes(Bytes::from_static(b"INVITE")),
            Method::Invite
        );
        let m = Method::from_bytes(Bytes::from_static(b"invite"));
        assert_eq!(m, Method::Extension(Bytes::from_static(b"invite")));
        assert_eq!(m.as_bytes(), b"invite");
    }

    #[test]
    fn status_codes_outside_100_to_699_are_rejected() {
        assert!(StatusCode::new(99).is_none());
        assert!(StatusCode::new(700).is_none());
        assert_eq!(StatusCode::new(699).map(StatusCode::class), Some(6));
        assert_eq!(
            StatusCode::MESSAGE_TOO_LARGE.canonical_reason(),
            "Message Too Large"
        );
    }
}
