//! Signing keys: HMAC-SHA256 state computed once per key, and a ring of current and old keys.

use alloc::{borrow::ToOwned, string::String, vec::Vec};
use core::fmt;

use subtle::ConstantTimeEq;

use crate::sha256::{HmacKey, DIGEST_LEN};
use crate::{b64, ConfigError};

/// Length of an HMAC-SHA256 tag.
pub const TAG_LEN: usize = DIGEST_LEN;

/// Shortest secret accepted, in bytes (ASVS: 256 bits of key material for HMAC-SHA256).
pub const MIN_SECRET_LEN: usize = 32;

/// Longest key id, in characters.
pub const MAX_KEY_ID_LEN: usize = 16;

/// An HMAC-SHA256 key with its inner and outer pad state computed once, so signing and verifying
/// hash only the message.
///
/// ```
/// let signer = edge_session::Signer::new(b"key");
/// let tag = signer.sign(&[b"The quick brown fox ", b"jumps over the lazy dog"]);
/// assert!(signer.verify(&[b"The quick brown fox jumps over the lazy dog"], &tag));
/// ```
#[derive(Clone)]
pub struct Signer {
    key: HmacKey,
}

impl Signer {
    /// Precomputes the HMAC state for `key` (any length; longer than a block is hashed first).
    pub fn new(key: &[u8]) -> Self {
        Self {
            key: HmacKey::new(key),
        }
    }

    /// The tag over the concatenation of `parts`.
    pub fn sign(&self, parts: &[&[u8]]) -> [u8; TAG_LEN] {
        self.key.tag(parts)
    }

    /// Checks `tag` against the concatenation of `parts` in constant time. A tag of the wrong
    /// length is refused.
    #[inline(always)]
    pub fn verify(&self, parts: &[&[u8]], tag: &[u8]) -> bool {
        tag.len() == TAG_LEN && bool::from(self.key.tag(parts).ct_eq(tag))
    }

    /// A subkey for one purpose: HMAC-SHA256(key, "edge-session/v1/" || purpose).
    pub fn derive(&self, purpose: &str) -> Signer {
        let subkey = self.sign(&[b"edge-session/v1/", purpose.as_bytes()]);
        Signer::new(&subkey)
    }
}

impl fmt::Debug for Signer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Signer(<redacted>)")
    }
}

/// One key of the ring: its id, its root HMAC state, and the envelope-signing subkey for the
/// cookie name the ring is bound to (see [`KeyRing::bind`]).
#[derive(Clone)]
pub(crate) struct Key {
    pub(crate) id: String,
    root: Signer,
    envelope: Option<Signer>,
}

impl Key {
    /// The envelope subkey for `cookie_name`: HMAC-SHA256(secret, "edge-session/v1/envelope/" ||
    /// name). Binding the name into the key (rather than into every MAC input) keeps a value
    /// from being moved under another cookie name at no per-request cost.
    fn derive_envelope(&self, cookie_name: &str) -> Signer {
        self.root.derive(&["envelope/", cookie_name].concat())
    }
}

/// The signing keys: the first (current) signs new envelopes, every key verifies.
///
/// Planned rotation: put a new key first and keep the old one behind it for at least the idle
/// timeout plus clock skew; an envelope signed with the old key is re-signed with the new one
/// after its record has been read. Emergency rotation: drop the old key at once; its envelopes
/// are refused with `unknown_key`.
///
/// ```
/// use edge_session::KeyRing;
/// let ring = KeyRing::parse("k2:MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY,k1:ZmVkY2JhOTg3NjU0MzIxMGZlZGNiYTk4NzY1NDMyMTA")?;
/// assert_eq!(ring.current_id(), "k2");
/// assert_eq!(ring.ids().collect::<Vec<_>>(), ["k2", "k1"]);
/// assert!(KeyRing::parse("k1:c2hvcnQ").is_err()); // 5 bytes
/// assert!(KeyRing::parse("k1:not base64url!").is_err());
/// # Ok::<(), edge_session::ConfigError>(())
/// ```
#[derive(Clone)]
pub struct KeyRing {
    current: Key,
    previous: Vec<Key>,
    bound: Option<String>,
}

fn valid_key_id(id: &str) -> bool {
    (1..=MAX_KEY_ID_LEN).contains(&id.len())
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
}

impl KeyRing {
    /// Builds a ring from `(id, secret)` pairs; the first pair is the current key.
    pub fn new<I, S>(keys: I) -> Result<Self, ConfigError>
    where
        I: IntoIterator<Item = (S, Vec<u8>)>,
        S: Into<String>,
    {
        let mut ring = Vec::new();
        for (id, secret) in keys {
            let id: String = id.into();
            if !valid_key_id(&id) {
                return Err(ConfigError::InvalidKeyId(id));
            }
            if secret.len() < MIN_SECRET_LEN {
                return Err(ConfigError::SecretTooShort {
                    key_id: id,
                    len: secret.len(),
                });
            }
            if ring.iter().any(|k: &Key| k.id == id) {
                return Err(ConfigError::DuplicateKeyId(id));
            }
            ring.push(Key {
                root: Signer::new(&secret),
                envelope: None,
                id,
            });
        }
        let mut keys = ring.into_iter();
        let current = keys.next().ok_or(ConfigError::InvalidKeyRing("no keys"))?;
        Ok(Self {
            current,
            previous: keys.collect(),
            bound: None,
        })
    }

    /// Parses `"id:secret,id:secret"` (the first is current). Each secret is the base64url
    /// encoding (no padding) of at least 32 random bytes; it is decoded and the decoded length
    /// checked. Surrounding whitespace around entries is ignored.
    pub fn parse(spec: &str) -> Result<Self, ConfigError> {
        let mut pairs = Vec::new();
        for entry in spec.split(',') {
            let entry = entry.trim();
            if entry.is_empty() {
                continue;
            }
            let (id, secret) = entry
                .split_once(':')
                .ok_or(ConfigError::InvalidKeyRing("entries must be id:secret"))?;
            // Checked before the secret, whose error names the id.
            if !valid_key_id(id) {
                return Err(ConfigError::InvalidKeyId(id.to_owned()));
            }
            let bytes = b64::decode(secret.trim())
                .ok_or_else(|| ConfigError::SecretNotBase64url(id.to_owned()))?;
            pairs.push((id.to_owned(), bytes));
        }
        Self::new(pairs)
    }

    /// The id of the key that signs.
    pub fn current_id(&self) -> &str {
        self.current().id.as_str()
    }

    /// All key ids, current first.
    pub fn ids(&self) -> impl Iterator<Item = &str> {
        self.keys().map(|k| k.id.as_str())
    }

    fn keys(&self) -> impl Iterator<Item = &Key> {
        core::iter::once(&self.current).chain(self.previous.iter())
    }

    /// This ring with every key's envelope subkey precomputed for `cookie_name` (the engine
    /// does this once, so validating hashes only the envelope).
    pub fn bind(&self, cookie_name: &str) -> Self {
        let bind = |k: &Key| Key {
            envelope: Some(k.derive_envelope(cookie_name)),
            ..k.clone()
        };
        Self {
            current: bind(&self.current),
            previous: self.previous.iter().map(bind).collect(),
            bound: Some(cookie_name.to_owned()),
        }
    }

    /// The envelope subkey of `key` for `cookie_name`: precomputed when the ring is bound to that
    /// name, derived on the spot otherwise.
    pub(crate) fn envelope_signer<'a>(
        &self,
        key: &'a Key,
        cookie_name: &str,
    ) -> alloc::borrow::Cow<'a, Signer> {
        match &key.envelope {
            Some(signer) if self.bound.as_deref() == Some(cookie_name) => {
                alloc::borrow::Cow::Borrowed(signer)
            }
            _ => alloc::borrow::Cow::Owned(key.derive_envelope(cookie_name)),
        }
    }

    pub(crate) fn current(&self) -> &Key {
        &self.current
    }

    pub(crate) fn find(&self, id: &[u8]) -> Option<&Key> {
        self.keys().find(|k| k.id.as_bytes() == id)
    }
}

impl fmt::Debug for KeyRing {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("KeyRing")
            .field("ids", &self.ids().collect::<Vec<_>>())
            .field("secrets", &"<redacted>")
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refuses_short_secrets_and_bad_ids() {
        let s = b64::encode(&[7u8; 31]);
        assert_eq!(
            KeyRing::parse(&format!("k1:{s}")).err(),
            Some(ConfigError::SecretTooShort {
                key_id: "k1".into(),
                len: 31
            })
        );
        // 43 characters that are not the encoding of 32 bytes: counted by bytes, not characters.
        assert!(matches!(
            KeyRing::parse(&format!("k1:{}", "x".repeat(43))),
            Err(ConfigError::SecretNotBase64url(_))
        ));
        assert!(matches!(
            KeyRing::parse(&format!("k1:{}=", b64::encode(&[7u8; 32]))),
            Err(ConfigError::SecretNotBase64url(_))
        ));
        let s = b64::encode(&[7u8; 32]);
        assert!(KeyRing::parse(&format!("k1:{s}")).is_ok());
        assert!(matches!(
            KeyRing::parse(&format!("k 1:{s}")),
            Err(ConfigError::InvalidKeyId(_))
        ));
        assert!(matches!(
            KeyRing::parse(&format!("k1:{s},k1:{s}")),
            Err(ConfigError::DuplicateKeyId(_))
        ));
        // A key written the wrong way round: the error must not repeat the secret.
        for spec in [format!("{s}:k1"), format!("k1:{s},{s}:k2")] {
            let err = KeyRing::parse(&spec).expect_err("refused");
            assert_eq!(err.code(), "invalid_key_id");
            assert!(!err.to_string().contains(&s[..8]), "{err}");
        }
        assert!(matches!(
            KeyRing::parse(""),
            Err(ConfigError::InvalidKeyRing(_))
        ));
        assert!(matches!(
            KeyRing::parse("nocolon"),
            Err(ConfigError::InvalidKeyRing(_))
        ));
    }

    #[test]
    fn debug_redacts() {
        let secret = b64::encode(b"s3cr3t-s3cr3t-s3cr3t-s3cr3t-s3cr3t");
        let ring = KeyRing::parse(&format!("k1:{secret}")).ok();
        assert!(ring.is_some());
        let text = format!("{ring:?}");
        assert!(!text.contains(&secret[..8]), "{text}");
        assert!(text.contains("k1"));
        assert_eq!(format!("{:?}", Signer::new(b"k")), "Signer(<redacted>)");
    }

    #[test]
    fn a_bound_ring_signs_as_the_unbound_one_and_names_differ() {
        let ring = KeyRing::parse(&format!("k1:{}", b64::encode(&[5u8; 32]))).unwrap();
        let bound = ring.bind("__Host-session");
        let key = ring.current();
        let tag = |r: &KeyRing, name: &str| r.envelope_signer(r.current(), name).sign(&[b"body"]);
        assert_eq!(tag(&ring, "__Host-session"), tag(&bound, "__Host-session"));
        assert_ne!(tag(&bound, "__Host-session"), tag(&bound, "__Host-other"));
        assert!(matches!(
            bound.envelope_signer(bound.current(), "__Host-session"),
            alloc::borrow::Cow::Borrowed(_)
        ));
        assert!(matches!(
            ring.envelope_signer(key, "__Host-session"),
            alloc::borrow::Cow::Owned(_)
        ));
    }

    #[test]
    fn wrong_length_tags_do_not_verify() {
        let s = Signer::new(b"key");
        let tag = s.sign(&[b"msg"]);
        assert!(s.verify(&[b"msg"], &tag));
        assert!(!s.verify(&[b"msg"], &tag[..31]));
        let mut long = tag.to_vec();
        long.push(0);
        assert!(!s.verify(&[b"msg"], &long));
    }
}
