//! SDP parser: arbitrary bytes must never panic, and whatever parses must write back to text that parses to the
//! same description (and writes identically again).
#![no_main]

use bytes::Bytes;
use libfuzzer_sys::fuzz_target;
use tandem_rtp_core::sdp::SessionDescription;

fuzz_target!(|data: &[u8]| {
    let Ok(sdp) = SessionDescription::parse(&Bytes::copy_from_slice(data)) else {
        return;
    };
    let written = sdp.to_string();
    let reparsed: SessionDescription = match written.parse() {
        Ok(s) => s,
        Err(e) => panic!("written description does not parse: {e}\n{written}"),
    };
    assert_eq!(reparsed, sdp, "round trip changed the description");
    assert_eq!(reparsed.to_string(), written, "second write differs");
});
