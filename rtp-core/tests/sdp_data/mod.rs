//! The SDP samples in `tests/data/sdp/` (see its README), embedded at compile time.

/// The text of `tests/data/sdp/$name`, as a `&'static str`.
macro_rules! sample {
    ($name:literal) => {
        include_str!(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/data/sdp/",
            $name
        ))
    };
}

pub(crate) use sample;
