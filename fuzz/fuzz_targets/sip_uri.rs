//! URI parsing (SIP, SIPS, TEL, other absolute URIs): no input panics, and a URI that parses is written to a form
//! that parses to an equivalent URI (RFC 3261 §19.1.4 comparison) and is written the same again.
#![no_main]

use bytes::Bytes;
use libfuzzer_sys::fuzz_target;
use tandem_sip_core::Uri;

fuzz_target!(|data: &[u8]| {
    let Ok(uri) = Uri::parse(&Bytes::copy_from_slice(data)) else {
        return;
    };
    if let Some(sip) = uri.as_sip() {
        let _ = (
            sip.user_unescaped(),
            sip.password_unescaped(),
            sip.transport(),
            sip.maddr(),
        );
        let _ = (
            sip.is_loose_route(),
            sip.params().len(),
            sip.headers().iter().count(),
        );
    }
    if let Some(tel) = uri.as_tel() {
        let _ = (tel.digits().count(), tel.phone_context(), tel.is_global());
    }
    let mut written = Vec::new();
    uri.write_to(&mut written);
    let again = Uri::parse(&Bytes::from(written.clone()))
        .unwrap_or_else(|e| panic!("{uri:?} written as {written:?} does not parse: {e}"));
    assert!(
        uri.equivalent(&again),
        "{uri:?} written as {:?} parses to {again:?}",
        String::from_utf8_lossy(&written)
    );
    let mut rewritten = Vec::new();
    again.write_to(&mut rewritten);
    assert_eq!(written, rewritten);
});
