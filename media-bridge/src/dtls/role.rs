//! Which side opens the DTLS handshake, from the SDP `a=setup` attributes (RFC 8842 §5).

use tandem_rtp_core::sdp::Setup;

/// The DTLS role of this endpoint.
///
/// RFC 8842 §5 ties it to `a=setup`: the `active` side is the DTLS client (it sends the
/// ClientHello), the `passive` side the server. An offer says `actpass` and the answer picks:
///
/// ```
/// use tandem_media_bridge::dtls::DtlsRole;
/// use tandem_rtp_core::sdp::Setup;
/// // We answer a browser's actpass offer; a relay prefers to be the server.
/// let ours = DtlsRole::for_answer(Setup::ActPass, DtlsRole::Server).unwrap();
/// assert_eq!(ours.setup(), Setup::Passive); // put a=setup:passive in the answer
/// // We offered actpass and the peer answered active.
/// assert_eq!(DtlsRole::from_answer(Setup::Active), Some(DtlsRole::Server));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DtlsRole {
    /// Sends the ClientHello (`a=setup:active`).
    Client,
    /// Waits for the ClientHello (`a=setup:passive`).
    Server,
}

impl DtlsRole {
    /// The `a=setup` value announcing this role in an answer.
    pub const fn setup(self) -> Setup {
        match self {
            DtlsRole::Client => Setup::Active,
            DtlsRole::Server => Setup::Passive,
        }
    }

    /// Our role when answering an offer with `remote_offer`: the opposite of what the offerer
    /// chose, or `preferred` if it left the choice to us (`actpass`). `None` for `holdconn`,
    /// which RFC 8842 §5.1 removed for DTLS.
    pub const fn for_answer(remote_offer: Setup, preferred: DtlsRole) -> Option<DtlsRole> {
        match remote_offer {
            Setup::Active => Some(DtlsRole::Server),
            Setup::Passive => Some(DtlsRole::Client),
            Setup::ActPass => Some(preferred),
            Setup::HoldConn => None,
        }
    }

    /// Our role after the peer answered our (`actpass`) offer with `remote_answer`. `None` if the
    /// answer did not choose (`actpass` or `holdconn` in an answer break RFC 8842 §5.3).
    pub const fn from_answer(remote_answer: Setup) -> Option<DtlsRole> {
        match remote_answer {
            Setup::Active => Some(DtlsRole::Server),
            Setup::Passive => Some(DtlsRole::Client),
            Setup::ActPass | Setup::HoldConn => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn answer_takes_the_opposite_of_an_active_or_passive_offer() {
        for preferred in [DtlsRole::Client, DtlsRole::Server] {
            assert_eq!(
                DtlsRole::for_answer(Setup::Active, preferred),
                Some(DtlsRole::Server)
            );
            assert_eq!(
                DtlsRole::for_answer(Setup::Passive, preferred),
                Some(DtlsRole::Client)
            );
            assert_eq!(
                DtlsRole::for_answer(Setup::ActPass, preferred),
                Some(preferred)
            );
        }
    }

    #[test]
    fn refuses_holdconn_and_an_undecided_answer() {
        assert_eq!(
            DtlsRole::for_answer(Setup::HoldConn, DtlsRole::Client),
            None
        );
        assert_eq!(DtlsRole::from_answer(Setup::ActPass), None);
        assert_eq!(DtlsRole::from_answer(Setup::HoldConn), None);
    }

    #[test]
    fn both_ends_of_a_negotiation_get_opposite_roles() {
        for answerer in [DtlsRole::Client, DtlsRole::Server] {
            let answer = DtlsRole::for_answer(Setup::ActPass, answerer).unwrap();
            let offerer = DtlsRole::from_answer(answer.setup()).unwrap();
            assert_ne!(offerer, answer);
        }
    }
}
