//! SDES keying for SRTP (RFC 4568): the `a=crypto` attribute and fresh key material.
//!
//! ```text
//! a=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:WVNfX19zZW1jdGwgKCkgewkyMjA7fQp9CnVubGVz|2^20|1:4
//!          tag suite                 key||salt (base64)                        lifetime MKI:length
//! ```

use std::fmt;

use base64::Engine as _;
use base64::alphabet;
use base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};
use bytestring::ByteString;

use crate::sdp::SdpError;
use crate::sdp::error::FieldError;
use crate::sdp::scanner::Scanner;
use crate::srtp::SrtpProfile;

/// Most key parameters (`;`-separated) in one `a=crypto` line, and most session parameters.
const MAX_PARAMS: usize = 16;
/// Longest accepted base64 key||salt text.
const MAX_KEY_TEXT: usize = 512;

/// Standard alphabet; padding accepted with or without `=` (some SDES stacks drop it), written padded.
const BASE64: GeneralPurpose = GeneralPurpose::new(
    &alphabet::STANDARD,
    GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent),
);

/// An `a=crypto` line: `<tag> <crypto-suite> <key-params> [<session-params>]`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Crypto {
    /// Identifies this line among the offered ones; the answer repeats the accepted tag (1-9 digits).
    pub tag: u32,
    /// The SRTP crypto suite.
    pub suite: CryptoSuite,
    /// One or more key parameters (several only with MKIs).
    pub key_params: Vec<KeyParam>,
    /// Session parameters (`KDR=1`, `UNENCRYPTED_SRTCP`, `WSH=64`, …), verbatim and in order.
    pub session_params: Vec<ByteString>,
}

impl Crypto {
    /// A line with one freshly generated key (see [`KeyParam::generate`]) and no session parameters.
    pub fn generate(tag: u32, suite: CryptoSuite) -> Result<Self, SdesError> {
        let key = KeyParam::generate(&suite)?;
        Ok(Crypto {
            tag,
            suite,
            key_params: vec![key],
            session_params: Vec::new(),
        })
    }

    /// Parses the value of an `a=crypto` line; a leading `a=crypto:` or `crypto:` is skipped.
    ///
    /// Errors report line 1 and offsets inside `text`.
    pub fn parse(text: &str) -> Result<Self, SdpError> {
        let value = text.strip_prefix("a=").unwrap_or(text);
        let value = value.strip_prefix("crypto:").unwrap_or(value);
        let skipped = text.len() - value.len();
        Self::parse_value(&ByteString::from(value)).map_err(|mut e| {
            e.at = e.at.saturating_add(skipped);
            e.standalone()
        })
    }

    pub(crate) fn parse_value(value: &ByteString) -> Result<Self, FieldError> {
        let mut s = Scanner::new(value);
        let tag_at = s.pos();
        let tag = s.u32("tag (1-9 digits)")?;
        if s.pos() - tag_at > 9 {
            return Err(FieldError::out_of_range(tag_at, "tag (1-9 digits)"));
        }
        skip_wsp(&mut s)?;
        let suite = CryptoSuite::from_name(
            s.take(|b| b.is_ascii_alphanumeric() || b == b'_', "crypto suite")?,
        );
        skip_wsp(&mut s)?;
        let mut key_params = vec![KeyParam::parse(&mut s, &suite)?];
        while s.eat(b';') {
            if key_params.len() >= MAX_PARAMS {
                return Err(FieldError::out_of_range(
                    s.pos(),
                    "at most 16 key parameters",
                ));
            }
            key_params.push(KeyParam::parse(&mut s, &suite)?);
        }
        let mut session_params = Vec::new();
        while !s.is_empty() {
            if session_params.len() >= MAX_PARAMS {
                return Err(FieldError::out_of_range(
                    s.pos(),
                    "at most 16 session parameters",
                ));
            }
            skip_wsp(&mut s)?;
            session_params.push(s.take(|b| (0x21..=0x7e).contains(&b), "session parameter")?);
        }
        Ok(Crypto {
            tag,
            suite,
            key_params,
            session_params,
        })
    }
}

/// `1*WSP` (RFC 4568 allows runs of spaces and tabs between fields).
fn skip_wsp(s: &mut Scanner<'_>) -> Result<(), FieldError> {
    if !matches!(s.peek(), Some(b' ' | b'\t')) {
        return Err(s.error("SP"));
    }
    while matches!(s.peek(), Some(b' ' | b'\t')) {
        s.eat(b' ');
        s.eat(b'\t');
    }
    Ok(())
}

impl fmt::Display for Crypto {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {} ", self.tag, self.suite.name())?;
        for (i, k) in self.key_params.iter().enumerate() {
            if i > 0 {
                f.write_str(";")?;
            }
            write!(f, "{k}")?;
        }
        for p in &self.session_params {
            write!(f, " {p}")?;
        }
        Ok(())
    }
}

/// The crypto suite of an `a=crypto` line: one of the [`SrtpProfile`]s this crate implements, or
/// any other suite by name.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum CryptoSuite {
    /// A suite the [`srtp`](crate::srtp) module implements: `AES_CM_128_HMAC_SHA1_80`,
    /// `AES_CM_128_HMAC_SHA1_32` (RFC 4568), `AEAD_AES_128_GCM`, `AEAD_AES_256_GCM` (RFC 7714).
    Srtp(SrtpProfile),
    /// Any other suite, by name (its key is not length-checked).
    Other(ByteString),
}

impl CryptoSuite {
    /// The name as written in `a=crypto`.
    pub fn name(&self) -> &str {
        match self {
            CryptoSuite::Srtp(profile) => profile.sdes_name(),
            CryptoSuite::Other(name) => name,
        }
    }

    /// The suite called `name` (exact, upper case as registered).
    pub fn from_name(name: impl Into<ByteString>) -> Self {
        let name = name.into();
        match SrtpProfile::from_sdes_name(&name) {
            Some(profile) => CryptoSuite::Srtp(profile),
            None => CryptoSuite::Other(name),
        }
    }

    /// The SRTP profile to build an [`SrtpContext`](crate::srtp::SrtpContext) with (`None` for a
    /// suite this crate does not implement).
    pub fn profile(&self) -> Option<SrtpProfile> {
        match self {
            CryptoSuite::Srtp(profile) => Some(*profile),
            CryptoSuite::Other(_) => None,
        }
    }

    /// Master key length in bytes (`None` for an unknown suite).
    pub fn key_len(&self) -> Option<usize> {
        self.profile().map(SrtpProfile::master_key_len)
    }

    /// Master salt length in bytes (`None` for an unknown suite).
    pub fn salt_len(&self) -> Option<usize> {
        self.profile().map(SrtpProfile::master_salt_len)
    }

    /// Length of the concatenated key and salt carried inline.
    pub fn key_salt_len(&self) -> Option<usize> {
        Some(self.key_len()? + self.salt_len()?)
    }
}

impl From<SrtpProfile> for CryptoSuite {
    fn from(profile: SrtpProfile) -> Self {
        CryptoSuite::Srtp(profile)
    }
}

impl fmt::Display for CryptoSuite {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// One `inline:<key||salt>[|<lifetime>][|<MKI>:<length>]` key parameter.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct KeyParam {
    /// Master key followed by master salt (decoded from base64).
    pub key_salt: Vec<u8>,
    /// Maximum number of packets protected with this key.
    pub lifetime: Option<KeyLifetime>,
    /// Master key identifier carried in each packet.
    pub mki: Option<Mki>,
}

impl KeyParam {
    /// A fresh random key and salt for `suite` from the operating system's CSPRNG (no lifetime, no MKI).
    pub fn generate(suite: &CryptoSuite) -> Result<Self, SdesError> {
        let len = suite
            .key_salt_len()
            .ok_or_else(|| SdesError::UnknownSuite(suite.name().into()))?;
        let mut key_salt = vec![0u8; len];
        getrandom::fill(&mut key_salt).map_err(|e| SdesError::Random {
            os_error: e.raw_os_error(),
        })?;
        Ok(KeyParam {
            key_salt,
            lifetime: None,
            mki: None,
        })
    }

    /// The master key and master salt for `suite`, when the length matches it.
    pub fn split(&self, suite: &CryptoSuite) -> Option<(&[u8], &[u8])> {
        let key_len = suite.key_len()?;
        if Some(self.key_salt.len()) != suite.key_salt_len() {
            return None;
        }
        Some(self.key_salt.split_at(key_len))
    }

    fn parse(s: &mut Scanner<'_>, suite: &CryptoSuite) -> Result<Self, FieldError> {
        if !s.eat_str("inline:") {
            return Err(s.error("\"inline:\" key method"));
        }
        let key_at = s.pos();
        let text = s.take(
            |b| b.is_ascii_alphanumeric() || matches!(b, b'+' | b'/' | b'='),
            "base64 key||salt",
        )?;
        if text.len() > MAX_KEY_TEXT {
            return Err(FieldError::out_of_range(
                key_at,
                "key||salt of at most 512 base64 characters",
            ));
        }
        let key_salt = BASE64
            .decode(text.as_bytes())
            .map_err(|_| FieldError::syntax(key_at, "base64 key||salt"))?;
        if suite
            .key_salt_len()
            .is_some_and(|len| len != key_salt.len())
        {
            return Err(FieldError::out_of_range(
                key_at,
                "key||salt of the suite's length",
            ));
        }
        let mut param = KeyParam {
            key_salt,
            lifetime: None,
            mki: None,
        };
        if s.eat(b'|') {
            if s.rest_str()
                .bytes()
                .take_while(|&b| b != b'|' && b != b';' && b != b' ')
                .any(|b| b == b':')
            {
                param.mki = Some(Mki::parse(s)?);
                return Ok(param);
            }
            param.lifetime = Some(KeyLifetime::parse(s)?);
        }
        if s.eat(b'|') {
            param.mki = Some(Mki::parse(s)?);
        }
        Ok(param)
    }
}

/// Key material stays out of logs: `Debug` shows its length only.
impl fmt::Debug for KeyParam {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("KeyParam")
            .field("key_salt", &format_args!("<{} bytes>", self.key_salt.len()))
            .field("lifetime", &self.lifetime)
            .field("mki", &self.mki)
            .finish()
    }
}

impl fmt::Display for KeyParam {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "inline:{}", BASE64.encode(&self.key_salt))?;
        if let Some(l) = self.lifetime {
            write!(f, "|{l}")?;
        }
        if let Some(m) = self.mki {
            write!(f, "|{}:{}", m.value, m.length)?;
        }
        Ok(())
    }
}

/// A key lifetime: `2^n` or a plain packet count.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum KeyLifetime {
    /// `2^<exponent>` packets.
    PowerOfTwo(u8),
    /// A decimal number of packets.
    Packets(u64),
}

impl KeyLifetime {
    /// The lifetime in packets (saturating at `u64::MAX` for `2^64` and above).
    pub fn packets(self) -> u64 {
        match self {
            KeyLifetime::PowerOfTwo(e) => 1u64.checked_shl(u32::from(e)).unwrap_or(u64::MAX),
            KeyLifetime::Packets(n) => n,
        }
    }

    fn parse(s: &mut Scanner<'_>) -> Result<Self, FieldError> {
        if s.eat_str("2^") {
            return Ok(KeyLifetime::PowerOfTwo(
                s.number_up_to(64, "lifetime exponent (0-64)")? as u8,
            ));
        }
        Ok(KeyLifetime::Packets(s.u64("lifetime")?))
    }
}

impl fmt::Display for KeyLifetime {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            KeyLifetime::PowerOfTwo(e) => write!(f, "2^{e}"),
            KeyLifetime::Packets(n) => write!(f, "{n}"),
        }
    }
}

/// A master key identifier: `<value>:<length in bytes>`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Mki {
    /// The MKI value.
    pub value: u64,
    /// Bytes the MKI occupies in each packet (1-128).
    pub length: u8,
}

impl Mki {
    fn parse(s: &mut Scanner<'_>) -> Result<Self, FieldError> {
        let value_at = s.pos();
        let value = s.u64("MKI value")?;
        s.expect(b':', "':' and MKI length")?;
        let length_at = s.pos();
        let length = s.number_up_to(128, "MKI length (1-128)")? as u8;
        if length == 0 || s.pos() - length_at > 3 {
            return Err(FieldError::out_of_range(length_at, "MKI length (1-128)"));
        }
        if length < 8 && value >> (u32::from(length) * 8) != 0 {
            return Err(FieldError::out_of_range(
                value_at,
                "MKI value that fits its length",
            ));
        }
        Ok(Mki { value, length })
    }
}

/// Failure to produce SDES key material.
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SdesError {
    /// The suite's key and salt lengths are not known, so no key can be generated for it.
    #[error("unknown crypto suite {0}")]
    UnknownSuite(ByteString),
    /// The operating system's random number generator failed.
    #[error("the system random number generator failed (OS error {os_error:?})")]
    Random {
        /// The OS error code, when there is one.
        os_error: Option<i32>,
    },
}

#[cfg(test)]
mod tests {
    use super::*;

    const RFC_EXAMPLE: &str =
        "1 AES_CM_128_HMAC_SHA1_80 inline:WVNfX19zZW1jdGwgKCkgewkyMjA7fQp9CnVubGVz|2^20|1:4";

    #[test]
    fn parses_rfc_4568_example() {
        let c = Crypto::parse(RFC_EXAMPLE).unwrap();
        assert_eq!(c.tag, 1);
        assert_eq!(c.suite, CryptoSuite::Srtp(SrtpProfile::Aes128CmHmacSha1_80));
        let k = &c.key_params[0];
        assert_eq!(k.key_salt.len(), 30);
        assert_eq!(k.lifetime, Some(KeyLifetime::PowerOfTwo(20)));
        assert_eq!(k.lifetime.map(KeyLifetime::packets), Some(1 << 20));
        assert_eq!(
            k.mki,
            Some(Mki {
                value: 1,
                length: 4
            })
        );
        let (key, salt) = k.split(&c.suite).unwrap();
        assert_eq!((key.len(), salt.len()), (16, 14));
        assert_eq!(&key[..4], b"YS__");
        assert_eq!(c.to_string(), RFC_EXAMPLE);
    }

    #[test]
    fn parses_mki_without_lifetime_multiple_keys_and_session_params() {
        let text = "2 AES_CM_128_HMAC_SHA1_32 inline:NzB4d1BINUAvLEw6UzF3WSJ+PSdFcGdUJShpX1Zj|1:2;\
                    inline:QUJjZGVmMTIzNDU2Nzg5QUJDREUwMTIzNDU2Nzg5|1066:2 KDR=1 UNENCRYPTED_SRTCP";
        let c = Crypto::parse(text).unwrap();
        assert_eq!(c.key_params.len(), 2);
        assert_eq!(c.key_params[0].lifetime, None);
        assert_eq!(
            c.key_params[0].mki,
            Some(Mki {
                value: 1,
                length: 2
            })
        );
        assert_eq!(
            c.key_params[1].mki,
            Some(Mki {
                value: 1066,
                length: 2
            })
        );
        assert_eq!(
            c.session_params,
            vec![
                ByteString::from("KDR=1"),
                ByteString::from("UNENCRYPTED_SRTCP")
            ]
        );
        assert_eq!(c.to_string(), text);
    }

    #[test]
    fn accepts_the_attribute_prefix_and_reports_offsets_past_it() {
        assert!(Crypto::parse(&format!("a=crypto:{RFC_EXAMPLE}")).is_ok());
        let err = Crypto::parse("a=crypto:1 AES_CM_128_HMAC_SHA1_80 plain:abc").unwrap_err();
        assert_eq!(err.offset, "a=crypto:1 AES_CM_128_HMAC_SHA1_80 ".len());
        assert_eq!(err.expected, "\"inline:\" key method");
    }

    #[test]
    fn rejects_key_of_wrong_length_for_the_suite() {
        let err =
            Crypto::parse("1 AEAD_AES_256_GCM inline:WVNfX19zZW1jdGwgKCkgewkyMjA7fQp9CnVubGVz")
                .unwrap_err();
        assert_eq!(err.kind, crate::sdp::SdpErrorKind::OutOfRange);
    }

    #[test]
    fn rejects_mki_length_out_of_range_and_oversized_value() {
        assert!(
            Crypto::parse(
                "1 AES_CM_128_HMAC_SHA1_80 inline:WVNfX19zZW1jdGwgKCkgewkyMjA7fQp9CnVubGVz|1:0"
            )
            .is_err()
        );
        assert!(
            Crypto::parse(
                "1 AES_CM_128_HMAC_SHA1_80 inline:WVNfX19zZW1jdGwgKCkgewkyMjA7fQp9CnVubGVz|1:129"
            )
            .is_err()
        );
        assert!(
            Crypto::parse(
                "1 AES_CM_128_HMAC_SHA1_80 inline:WVNfX19zZW1jdGwgKCkgewkyMjA7fQp9CnVubGVz|256:1"
            )
            .is_err()
        );
    }

    #[test]
    fn rejects_ten_digit_tag() {
        assert!(
            Crypto::parse(
                "1234567890 AES_CM_128_HMAC_SHA1_80 inline:WVNfX19zZW1jdGwgKCkgewkyMjA7fQp9CnVubGVz"
            )
            .is_err()
        );
    }

    #[test]
    fn keeps_unknown_suite_and_its_key() {
        let text = "3 F8_128_HMAC_SHA1_80 inline:MTIzNDU2Nzg5QUJDREUwMTIzNDU2Nzg5QUJjZGVm|2^20";
        let c = Crypto::parse(text).unwrap();
        assert_eq!(c.suite, CryptoSuite::Other("F8_128_HMAC_SHA1_80".into()));
        assert_eq!(c.key_params[0].split(&c.suite), None);
        assert_eq!(c.to_string(), text);
    }

    #[test]
    fn accepts_unpadded_base64_and_writes_padding() {
        let key = [7u8; 28];
        let padded = BASE64.encode(key);
        assert!(padded.ends_with("=="));
        let text = format!("1 AEAD_AES_128_GCM inline:{}", padded.trim_end_matches('='));
        let c = Crypto::parse(&text).unwrap();
        assert_eq!(c.key_params[0].key_salt, key);
        assert_eq!(c.to_string(), format!("1 AEAD_AES_128_GCM inline:{padded}"));
    }

    #[test]
    fn generates_keys_of_the_suite_length() {
        for suite in SrtpProfile::ALL.map(CryptoSuite::from) {
            let c = Crypto::generate(1, suite.clone()).unwrap();
            let (key, salt) = c.key_params[0].split(&suite).unwrap();
            assert_eq!(Some(key.len()), suite.key_len());
            assert_eq!(Some(salt.len()), suite.salt_len());
            assert_eq!(Crypto::parse(&c.to_string()).unwrap(), c);
        }
        let a = KeyParam::generate(&CryptoSuite::Srtp(SrtpProfile::AeadAes256Gcm)).unwrap();
        let b = KeyParam::generate(&CryptoSuite::Srtp(SrtpProfile::AeadAes256Gcm)).unwrap();
        assert_ne!(a.key_salt, b.key_salt);
        assert!(KeyParam::generate(&CryptoSuite::Other("X".into())).is_err());
    }

    #[test]
    fn suite_names_map_to_srtp_profiles() {
        for profile in SrtpProfile::ALL {
            let suite = CryptoSuite::from_name(profile.sdes_name());
            assert_eq!(suite, CryptoSuite::Srtp(profile));
            assert_eq!(suite.profile(), Some(profile));
            assert_eq!(suite.name(), profile.sdes_name());
        }
        assert_eq!(CryptoSuite::from_name("aead_aes_128_gcm").profile(), None);
    }

    #[test]
    fn a_generated_crypto_line_keys_srtp_contexts_at_both_ends() {
        use crate::srtp::{SrtpContext, SrtpPolicy};

        let offered = Crypto::generate(1, SrtpProfile::AeadAes128Gcm.into()).unwrap();
        let received = Crypto::parse(&offered.to_string()).unwrap();
        let keyed = |crypto: &Crypto| {
            let profile = crypto.suite.profile().unwrap();
            let (key, salt) = crypto.key_params[0].split(&crypto.suite).unwrap();
            SrtpContext::new(&SrtpPolicy::new(profile), key, salt).unwrap()
        };
        let (mut sender, mut receiver) = (keyed(&offered), keyed(&received));
        let mut buf = [0u8; 64];
        buf[..12].copy_from_slice(&[0x80, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 1]);
        let len = sender.protect_rtp(&mut buf, 32).unwrap();
        assert_eq!(receiver.unprotect_rtp(&mut buf[..len]), Ok(32));
    }

    #[test]
    fn debug_output_hides_key_material() {
        let c = Crypto::parse(RFC_EXAMPLE).unwrap();
        let dbg = format!("{c:?}");
        assert!(dbg.contains("<30 bytes>"));
        assert!(!dbg.contains("89"), "{dbg}");
    }
}
