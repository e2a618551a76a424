//! SRTP packet index estimation (RFC 3711 §3.3.1): ROC || SEQ from a 16-bit sequence number.

use super::SrtpError;

/// Half the sequence number space: a packet more than this far from the highest one is taken
/// to belong to the previous or the next rollover.
const HALF_SEQ: i32 = 1 << 15;

/// The 48-bit packet index of sequence number `seq`.
///
/// `highest` is the highest index authenticated so far in this stream (`s_l` and `ROC` of the RFC);
/// before the first packet, `initial_roc` (0 unless signalled) is assumed. The guess follows
/// §3.3.1: `v` is `ROC - 1`, `ROC` or `ROC + 1`, whichever puts `seq` closest to `s_l`.
pub(crate) fn estimate_index(
    highest: Option<u64>,
    initial_roc: u32,
    seq: u16,
) -> Result<u64, SrtpError> {
    let Some(highest) = highest else {
        return Ok(index_of(initial_roc, seq));
    };
    let roc = (highest >> 16) as u32;
    let s_l = i32::from(highest as u16);
    let seq_i = i32::from(seq);
    let guess = if s_l < HALF_SEQ {
        if seq_i - s_l > HALF_SEQ {
            roc.checked_sub(1)
        } else {
            Some(roc)
        }
    } else if s_l - HALF_SEQ > seq_i {
        // A sequence number that wrapped: the next rollover. Past ROC 2^32 - 1 the index space
        // of these keys is exhausted.
        return roc
            .checked_add(1)
            .map(|next| index_of(next, seq))
            .ok_or(SrtpError::IndexExhausted);
    } else {
        Some(roc)
    };
    // `None`: a late packet from before the first one of the stream, at ROC -1.
    guess.map(|v| index_of(v, seq)).ok_or(SrtpError::TooOld {
        index: u64::from(seq),
    })
}

/// The rollover counter part of an index.
pub(crate) fn roc_of(index: u64) -> u32 {
    (index >> 16) as u32
}

fn index_of(roc: u32, seq: u16) -> u64 {
    (u64::from(roc) << 16) | u64::from(seq)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_first_packet_takes_the_initial_rollover_counter() {
        assert_eq!(estimate_index(None, 0, 65_535), Ok(65_535));
        assert_eq!(estimate_index(None, 3, 7), Ok(3 << 16 | 7));
    }

    #[test]
    fn a_sequence_wrap_increments_the_rollover_counter() {
        assert_eq!(estimate_index(Some(65_535), 0, 0), Ok(1 << 16));
        assert_eq!(estimate_index(Some(65_530), 0, 5), Ok(1 << 16 | 5));
        assert_eq!(
            estimate_index(Some(5 << 16 | 65_000), 0, 100),
            Ok(6 << 16 | 100)
        );
    }

    #[test]
    fn a_late_packet_from_before_the_wrap_keeps_the_previous_rollover_counter() {
        // Highest is ROC 1, SEQ 2; SEQ 65534 arriving late belongs to ROC 0.
        assert_eq!(estimate_index(Some(1 << 16 | 2), 0, 65_534), Ok(65_534));
        // Ordinary reordering in the middle of the space stays in the same rollover.
        assert_eq!(
            estimate_index(Some(1 << 16 | 40_000), 0, 39_990),
            Ok(1 << 16 | 39_990)
        );
    }

    #[test]
    fn a_late_packet_from_before_the_first_rollover_is_too_old() {
        assert_eq!(
            estimate_index(Some(10), 0, 65_000),
            Err(SrtpError::TooOld { index: 65_000 })
        );
    }

    #[test]
    fn the_rollover_counter_cannot_pass_its_32_bits() {
        let last = u64::from(u32::MAX) << 16 | 65_000;
        assert_eq!(
            estimate_index(Some(last), 0, 3),
            Err(SrtpError::IndexExhausted)
        );
    }
}
