//! Why a session was refused, and why a configuration was.

use alloc::{borrow::ToOwned, string::String};
use core::fmt;

/// Why a request was not given a session.
///
/// The codes are stable and safe to log. They are meant for the application's logs and audit
/// events; the response to the browser carries only a generic refusal and a clearing cookie.
#[non_exhaustive]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum RejectReason {
    /// The request carried no session cookie.
    Missing,
    /// The cookie value is not a well-formed envelope (bad base64url, wrong length, bad fields).
    Malformed,
    /// The Cookie header is larger than any browser would send.
    HeaderTooLarge,
    /// The session cookie appears more than once; never resolved by picking one.
    DuplicateCookie,
    /// The envelope has a format version this build does not know.
    BadVersion,
    /// The envelope names a key id that is not in the key ring.
    UnknownKey,
    /// The envelope's HMAC tag does not verify.
    BadSignature,
    /// The envelope claims to be issued further in the future than the allowed clock skew.
    IssuedInFuture,
    /// The session saw no refresh within its idle timeout.
    ExpiredIdle,
    /// The session passed its absolute lifetime.
    ExpiredAbsolute,
    /// The session was logged out or revoked.
    Revoked,
    /// The session ID was replaced by rotation; the old cookie is dead.
    Rotated,
    /// No record exists for the session (logged out elsewhere, expired, or never existed).
    SessionNotFound,
    /// The record does not belong to the envelope that points at it.
    RecordMismatch,
    /// The stored record is not valid JSON of the expected shape.
    CorruptRecord,
    /// The stored record has a format version this build does not know.
    RecordVersion,
    /// The session store failed or timed out; sessions fail closed.
    StoreUnavailable,
    /// A stored revocation cutoff is unreadable or lies in the future; sessions fail closed
    /// until an operator repairs it.
    CorruptCutoff,
}

impl RejectReason {
    /// Every reason, for documentation and exhaustive tests.
    pub const ALL: [RejectReason; 18] = [
        Self::Missing,
        Self::Malformed,
        Self::HeaderTooLarge,
        Self::DuplicateCookie,
        Self::BadVersion,
        Self::UnknownKey,
        Self::BadSignature,
        Self::IssuedInFuture,
        Self::ExpiredIdle,
        Self::ExpiredAbsolute,
        Self::Revoked,
        Self::Rotated,
        Self::SessionNotFound,
        Self::RecordMismatch,
        Self::CorruptRecord,
        Self::RecordVersion,
        Self::StoreUnavailable,
        Self::CorruptCutoff,
    ];

    /// The stable snake_case code, as used in logs and by the JS API.
    pub const fn code(self) -> &'static str {
        match self {
            Self::Missing => "missing",
            Self::Malformed => "malformed",
            Self::HeaderTooLarge => "header_too_large",
            Self::DuplicateCookie => "duplicate_cookie",
            Self::BadVersion => "bad_version",
            Self::UnknownKey => "unknown_key",
            Self::BadSignature => "bad_signature",
            Self::IssuedInFuture => "issued_in_future",
            Self::ExpiredIdle => "expired_idle",
            Self::ExpiredAbsolute => "expired_absolute",
            Self::Revoked => "revoked",
            Self::Rotated => "rotated",
            Self::SessionNotFound => "session_not_found",
            Self::RecordMismatch => "record_mismatch",
            Self::CorruptRecord => "corrupt_record",
            Self::RecordVersion => "record_version",
            Self::StoreUnavailable => "store_unavailable",
            Self::CorruptCutoff => "corrupt_cutoff",
        }
    }

    /// Whether a refusal for this reason deletes the cookie. A missing cookie has nothing to
    /// delete; a store that failed or holds a corrupt cutoff says nothing against the session,
    /// so its cookie is kept for when the store is back (a KV blip is not a logout).
    pub const fn clears_cookie(self) -> bool {
        !matches!(
            self,
            Self::Missing | Self::StoreUnavailable | Self::CorruptCutoff
        )
    }

    /// Parses a code back into a reason.
    pub fn from_code(code: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|reason| reason.code() == code)
    }
}

impl fmt::Display for RejectReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.code())
    }
}

const MAKE_SECRET: &str = "Make one with: node -e \"console.log(require('node:crypto').randomBytes(32).toString('base64url'))\"";

/// A configuration or argument the library refuses, with the reason in words.
#[non_exhaustive]
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ConfigError {
    /// A signing secret is shorter than 32 bytes.
    SecretTooShort {
        /// The key id the secret belongs to.
        key_id: String,
        /// How long the secret was, in bytes.
        len: usize,
    },
    /// A secret is not base64url (no padding) text.
    SecretNotBase64url(String),
    /// A key id is empty, too long, or has characters outside `[A-Za-z0-9_-]`.
    InvalidKeyId(String),
    /// The same key id appears twice in the ring.
    DuplicateKeyId(String),
    /// The key ring is empty or its text form could not be parsed.
    InvalidKeyRing(&'static str),
    /// The timeouts are out of range or not ordered envelope < idle < absolute.
    InvalidTimeouts(&'static str),
    /// A cookie name or attribute is not allowed.
    InvalidCookie(&'static str),
    /// A user id is empty, too long or contains control characters.
    InvalidUserId,
    /// A session handle is not the canonical form of a SHA-256 digest.
    InvalidHandle,
    /// Session data is not a JSON object of at most 1024 bytes.
    InvalidData(&'static str),
    /// A revocation time is not a unix time in milliseconds up to now plus the clock skew.
    InvalidTime(&'static str),
    /// An option is unknown or has the wrong type.
    InvalidOption(String),
    /// The platform random source failed.
    Random,
}

impl ConfigError {
    /// The message in words, as [`Display`](fmt::Display) writes it (built without `core::fmt`,
    /// which the wasm build leaves out).
    pub fn message(&self) -> String {
        /// How to make a secret, closing every message about one.
        const SECRET: &str = "; it must be the base64url encoding of at least 32 random bytes. ";
        match self {
            Self::SecretTooShort { key_id, len } => [
                "secret for key \"",
                key_id,
                "\" decodes to ",
                &crate::json::itoa(*len as u64),
                " bytes",
                SECRET,
                MAKE_SECRET,
            ]
            .concat(),
            Self::SecretNotBase64url(key_id) => [
                "secret for key \"",
                key_id,
                "\" is not base64url text (A-Z a-z 0-9 - _, no padding)",
                SECRET,
                MAKE_SECRET,
            ]
            .concat(),
            // Never quoted: text in the id position may be a secret written the wrong way round
            // (`<secret>:k1`), and error messages end up in logs.
            Self::InvalidKeyId(id) => [
                "a key id (",
                &crate::json::itoa(id.chars().count() as u64),
                " characters, not shown) must be 1-16 characters of [A-Za-z0-9_-]; write each key as id:secret",
            ]
            .concat(),
            Self::DuplicateKeyId(id) => ["key id \"", id, "\" appears more than once"].concat(),
            Self::InvalidKeyRing(why) => ["invalid key ring: ", why].concat(),
            Self::InvalidTimeouts(why) => ["invalid timeouts: ", why].concat(),
            Self::InvalidCookie(why) => ["invalid cookie settings: ", why].concat(),
            Self::InvalidUserId => {
                "user id must be 1-128 bytes of UTF-8 without control characters".to_owned()
            }
            Self::InvalidHandle => "not a session handle".to_owned(),
            Self::InvalidData(why) => ["invalid session data: ", why].concat(),
            Self::InvalidTime(why) => ["invalid time: ", why].concat(),
            Self::InvalidOption(why) => ["invalid options: ", why].concat(),
            Self::Random => "the platform random number generator failed".to_owned(),
        }
    }
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message())
    }
}

impl core::error::Error for ConfigError {}

impl ConfigError {
    /// A stable snake_case code for the JS layer.
    pub const fn code(&self) -> &'static str {
        match self {
            Self::SecretTooShort { .. } => "secret_too_short",
            Self::SecretNotBase64url(_) => "secret_not_base64url",
            Self::InvalidKeyId(_) => "invalid_key_id",
            Self::DuplicateKeyId(_) => "duplicate_key_id",
            Self::InvalidKeyRing(_) => "invalid_key_ring",
            Self::InvalidTimeouts(_) => "invalid_timeouts",
            Self::InvalidCookie(_) => "invalid_cookie",
            Self::InvalidUserId => "invalid_user_id",
            Self::InvalidHandle => "invalid_handle",
            Self::InvalidData(_) => "invalid_data",
            Self::InvalidTime(_) => "invalid_time",
            Self::InvalidOption(_) => "invalid_options",
            Self::Random => "random_failed",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_round_trip_and_are_unique() {
        let mut seen = std::collections::HashSet::new();
        for reason in RejectReason::ALL {
            assert!(seen.insert(reason.code()));
            assert_eq!(RejectReason::from_code(reason.code()), Some(reason));
            assert_eq!(reason.to_string(), reason.code());
        }
        assert_eq!(RejectReason::from_code("nope"), None);
    }

    #[test]
    fn messages_name_key_ids_as_debug_quotes_them() {
        // Key ids in these errors are valid ids ([A-Za-z0-9_-]), which `{:?}` quotes as is.
        for id in ["k1", "key_2-B"] {
            let too_short = ConfigError::SecretTooShort {
                key_id: id.into(),
                len: 7,
            };
            assert_eq!(
                too_short.to_string(),
                format!("secret for key {id:?} decodes to 7 bytes; it must be the base64url encoding of at least 32 random bytes. {MAKE_SECRET}")
            );
            assert_eq!(
                ConfigError::SecretNotBase64url(id.into()).to_string(),
                format!("secret for key {id:?} is not base64url text (A-Z a-z 0-9 - _, no padding); it must be the base64url encoding of at least 32 random bytes. {MAKE_SECRET}")
            );
            assert_eq!(
                ConfigError::DuplicateKeyId(id.into()).to_string(),
                format!("key id {id:?} appears more than once")
            );
        }
        assert_eq!(
            ConfigError::InvalidKeyId("sécret".into()).to_string(),
            "a key id (6 characters, not shown) must be 1-16 characters of [A-Za-z0-9_-]; write each key as id:secret"
        );
    }
}
