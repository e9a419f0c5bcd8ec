//! Session IDs and the handles that name them in storage.

use alloc::{borrow::ToOwned, string::String};
use core::fmt;

use crate::sha256;

use crate::{b64, ConfigError};

/// Fills `bytes` from the platform CSPRNG: the OS natively (`getrandom`), and in wasm the
/// host's `crypto.getRandomValues` (workerd, Node 20, Deno, Bun and browsers all have it).
fn fill_random(bytes: &mut [u8]) -> Result<(), ConfigError> {
    #[cfg(not(target_arch = "wasm32"))]
    let filled = getrandom::getrandom(bytes).is_ok();
    #[cfg(target_arch = "wasm32")]
    let filled = crate::js::fill_random(bytes);
    if filled {
        Ok(())
    } else {
        Err(ConfigError::Random)
    }
}

/// Length of a session ID in bytes (256 bits).
pub const SESSION_ID_LEN: usize = 32;

/// A session ID: 32 bytes from the platform CSPRNG.
///
/// It only ever leaves the process inside a signed cookie envelope. Storage and logs see its
/// [`SessionHandle`] (a SHA-256 digest), so a leaked KV dump or log line gives no usable token.
/// `Debug` prints nothing of it and there is no `Display`.
#[derive(Clone, PartialEq, Eq)]
pub struct SessionId([u8; SESSION_ID_LEN]);

impl SessionId {
    /// Draws a fresh ID from the platform CSPRNG (`crypto.getRandomValues` in wasm).
    ///
    /// ```
    /// let a = edge_session::SessionId::generate()?;
    /// let b = edge_session::SessionId::generate()?;
    /// assert_ne!(a.handle(), b.handle());
    /// # Ok::<(), edge_session::ConfigError>(())
    /// ```
    pub fn generate() -> Result<Self, ConfigError> {
        let mut bytes = [0u8; SESSION_ID_LEN];
        fill_random(&mut bytes)?;
        Ok(Self(bytes))
    }

    /// Wraps bytes as an ID (for decoding envelopes and for tests).
    pub const fn from_bytes(bytes: [u8; SESSION_ID_LEN]) -> Self {
        Self(bytes)
    }

    /// The raw bytes.
    pub const fn as_bytes(&self) -> &[u8; SESSION_ID_LEN] {
        &self.0
    }

    /// The ID in base64url, for callers that must carry it themselves. Treat it as a password.
    pub fn expose_base64url(&self) -> String {
        b64::encode(&self.0)
    }

    /// The handle naming this session in storage, listings and logs.
    pub fn handle(&self) -> SessionHandle {
        SessionHandle(b64::encode(&sha256::digest(&self.0)))
    }

    /// [`handle`](Self::handle)'s text written into `out`, without allocating.
    pub fn handle_into(id: &[u8; SESSION_ID_LEN], out: &mut [u8; HANDLE_LEN]) {
        b64::encode_into(&sha256::digest(id), out);
    }
}

impl fmt::Debug for SessionId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SessionId(<redacted>)")
    }
}

/// The public name of a session: base64url(SHA-256(session ID)), 43 characters.
///
/// Safe to store, log and show to the session's owner (a devices page): it cannot be turned back
/// into the ID and is useless without a signed envelope.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[cfg_attr(
    not(target_arch = "wasm32"),
    derive(serde::Serialize),
    serde(transparent)
)]
pub struct SessionHandle(String);

/// Length of a handle in characters.
pub const HANDLE_LEN: usize = 43;

impl SessionHandle {
    /// Accepts only the canonical form of a 32-byte digest, so a handle taken from a URL can never
    /// smuggle other characters into a storage key.
    pub fn parse(text: &str) -> Result<Self, ConfigError> {
        if text.len() != HANDLE_LEN {
            return Err(ConfigError::InvalidHandle);
        }
        match b64::decode(text) {
            Some(bytes) if bytes.len() == 32 => Ok(Self(text.to_owned())),
            _ => Err(ConfigError::InvalidHandle),
        }
    }

    /// The handle text.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The KV key of the session's record: `s:<handle>`.
    pub fn storage_key(&self) -> String {
        [RECORD_PREFIX, &self.0].concat()
    }

    /// The KV key of this session's entry in its user's index: `u:<user hash>:<handle>`.
    pub fn index_key(&self, user_id: &str) -> String {
        user_index_prefix(user_id) + &self.0
    }

    /// The KV key of this session's last-seen time: `t:<user hash>:<handle>`.
    pub fn touch_key(&self, user_id: &str) -> String {
        touch_prefix(user_id) + &self.0
    }
}

impl fmt::Display for SessionHandle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Length of a lineage id in bytes.
pub const LINEAGE_LEN: usize = 16;

/// A login's lineage: 16 random bytes drawn at login and kept by every rotation, so a logout
/// can end the login itself, including a rotation some stale location made from it
/// (`l:<lineage>` tombstone, read at every refresh). Not a secret: it is only a name.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Lineage([u8; LINEAGE_LEN]);

impl Lineage {
    /// Draws a fresh lineage from the platform CSPRNG.
    pub fn generate() -> Result<Self, ConfigError> {
        let mut bytes = [0u8; LINEAGE_LEN];
        fill_random(&mut bytes)?;
        Ok(Self(bytes))
    }

    /// Wraps bytes (decoding envelopes, tests).
    pub const fn from_bytes(bytes: [u8; LINEAGE_LEN]) -> Self {
        Self(bytes)
    }

    /// The raw bytes.
    pub const fn as_bytes(&self) -> &[u8; LINEAGE_LEN] {
        &self.0
    }

    /// Parses the canonical base64url text (22 characters).
    pub fn parse(text: &str) -> Option<Self> {
        let bytes: [u8; LINEAGE_LEN] = b64::decode(text)?.try_into().ok()?;
        Some(Self(bytes))
    }

    /// The base64url text.
    pub fn text(&self) -> String {
        b64::encode(&self.0)
    }

    /// The KV key of the lineage's tombstone: `l:<user hash>:<lineage>` (under the user, so a
    /// devices list can leave out logins that have ended).
    pub fn storage_key(&self, user_id: &str) -> String {
        lineage_prefix(user_id) + &self.text()
    }
}

#[cfg(not(target_arch = "wasm32"))]
impl serde::Serialize for Lineage {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.text())
    }
}

/// Prefix of lineage tombstones in the store.
pub const LINEAGE_PREFIX: &str = "l:";

/// Prefix of record keys in the store.
pub const RECORD_PREFIX: &str = "s:";

/// Prefix of user index keys in the store.
pub const USER_INDEX_PREFIX: &str = "u:";

/// Prefix of last-seen keys in the store.
pub const TOUCH_PREFIX: &str = "t:";

/// Prefix of per-user revocation cutoffs in the store.
pub const USER_CUTOFF_PREFIX: &str = "c:";

/// Prefix of a user's "log out my other sessions" cutoff.
pub const OTHERS_CUTOFF_PREFIX: &str = "o:";

/// The KV key of the global revocation cutoff.
pub const GLOBAL_CUTOFF_KEY: &str = "r:issued_before";

/// base64url(SHA-256(user id)): user ids (often e-mail addresses) never sit in key names, and
/// one user's prefix is never a prefix of another's (`alice` vs `alice:x`).
fn user_hash(user_id: &str) -> String {
    b64::encode(&sha256::digest(user_id.as_bytes()))
}

/// The store prefix under which a user's sessions are indexed: `u:<base64url(SHA-256(user))>:`.
pub fn user_index_prefix(user_id: &str) -> String {
    [USER_INDEX_PREFIX, &user_hash(user_id), ":"].concat()
}

/// The store prefix under which a user's last-seen times live: `t:<user hash>:`.
pub fn touch_prefix(user_id: &str) -> String {
    [TOUCH_PREFIX, &user_hash(user_id), ":"].concat()
}

/// The store prefix under which a user's ended logins are tombstoned: `l:<user hash>:`.
pub fn lineage_prefix(user_id: &str) -> String {
    [LINEAGE_PREFIX, &user_hash(user_id), ":"].concat()
}

/// The KV key of a user's revocation cutoff: `c:<user hash>`.
pub fn user_cutoff_key(user_id: &str) -> String {
    [USER_CUTOFF_PREFIX, &user_hash(user_id)].concat()
}

/// The KV key of a user's "log out my other sessions" cutoff, which spares one login:
/// `o:<user hash>`. Apart from `c:` so that an exception written from a stale read can never
/// replace (and so undo) a plain cutoff.
pub fn others_cutoff_key(user_id: &str) -> String {
    [OTHERS_CUTOFF_PREFIX, &user_hash(user_id)].concat()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn handle_is_sha256_of_id() {
        let id = SessionId::from_bytes([0u8; 32]);
        // SHA-256 of 32 zero bytes.
        assert_eq!(
            id.handle().as_str(),
            "Zmh6rfhivXdsj8GLjp-OIAiXFIVu4jOzkCpZHQ1fKSU"
        );
        assert_eq!(id.handle().storage_key(), format!("s:{}", id.handle()));
        assert_eq!(format!("{id:?}"), "SessionId(<redacted>)");
    }

    #[test]
    fn handle_parse_is_strict() {
        let good = SessionId::from_bytes([7u8; 32]).handle();
        assert_eq!(SessionHandle::parse(good.as_str()), Ok(good.clone()));
        for bad in [
            "",
            "s:abc",
            "../../etc",
            &format!("{good}="),
            &good.as_str()[1..],
        ] {
            assert_eq!(SessionHandle::parse(bad), Err(ConfigError::InvalidHandle));
        }
    }

    #[test]
    fn user_prefixes_do_not_nest() {
        let a = user_index_prefix("alice");
        let b = user_index_prefix("alice:x");
        assert!(!b.starts_with(&a) && !a.starts_with(&b));
        assert!(!a.contains("alice"));
    }
}
