//! Matching NG keys and flag words the way rtpengine does: `transport protocol`, `transport-protocol` and
//! `transport_protocol` are the same key (its documentation: "spaces in each string may be replaced by
//! hyphens"). Matching also ignores ASCII case, so a script that writes `ice=force` is understood too.

use bytes::Bytes;

fn fold(b: u8) -> u8 {
    match b {
        b' ' | b'_' => b'-',
        b => b.to_ascii_lowercase(),
    }
}

/// Whether `input` spells `word` (spaces, hyphens and underscores interchangeable, ASCII case ignored).
pub(crate) fn eq(input: &[u8], word: &str) -> bool {
    input.len() == word.len()
        && input
            .iter()
            .zip(word.as_bytes())
            .all(|(&a, &b)| fold(a) == fold(b))
}

/// The rest of `input` after `prefix`, matched like [`eq`]; a slice of `input`, not a copy.
pub(crate) fn strip_prefix(input: &Bytes, prefix: &str) -> Option<Bytes> {
    let head = input.get(..prefix.len())?;
    eq(head, prefix).then(|| input.slice(prefix.len()..))
}

/// `input` as a small unsigned integer, for values Kamailio sends as digit strings (`ptime=20`).
pub(crate) fn parse_u32(input: &[u8]) -> Option<u32> {
    if input.is_empty() || input.len() > 10 {
        return None;
    }
    std::str::from_utf8(input).ok()?.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn treats_space_hyphen_and_underscore_alike() {
        assert!(eq(b"transport protocol", "transport-protocol"));
        assert!(eq(b"transport_protocol", "transport-protocol"));
        assert!(eq(b"ICE", "ice"));
        assert!(!eq(b"ICE-lite", "ice"));
        assert!(!eq(b"transport-protocols", "transport-protocol"));
    }

    #[test]
    fn strips_a_prefix_without_copying() {
        let input = Bytes::from_static(b"codec-strip-PCMA");
        let rest = strip_prefix(&input, "codec strip-").unwrap();
        assert_eq!(&rest[..], b"PCMA");
        assert_eq!(strip_prefix(&input, "codec-mask-"), None);
        assert_eq!(strip_prefix(&Bytes::from_static(b"co"), "codec-"), None);
    }

    #[test]
    fn parses_only_plain_decimal() {
        assert_eq!(parse_u32(b"20"), Some(20));
        assert_eq!(parse_u32(b"-1"), None);
        assert_eq!(parse_u32(b""), None);
        assert_eq!(parse_u32(b"99999999999"), None);
    }
}
