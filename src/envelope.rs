//! The cookie envelope: a compact, versioned, HMAC-SHA256-signed pointer to a session.
//!
//! Layout before base64url (integers big-endian):
//!
//! ```text
//! version u8 | kid_len u8 | kid | session_id [32] | lineage [16] | generation u32 | created_at u64
//! | issued_at u64 | expires_at u64 | idle_deadline u64 | absolute_deadline u64
//! | user_len u8 | user | data_len u16 | data (JSON object text, 0 bytes = none) | tag [32]
//! ```
//!
//! The tag is HMAC-SHA256 over everything before it, under the key's envelope subkey for this
//! cookie name (HMAC-SHA256(secret, "edge-session/v1/envelope/" || name)), so a value is bound to
//! its cookie name and its key id.

use crate::id::{Lineage, SessionId, LINEAGE_LEN, SESSION_ID_LEN};
use crate::keys::{KeyRing, MAX_KEY_ID_LEN, TAG_LEN};
use crate::record::{valid_data, MAX_DATA_LEN};
use crate::{b64, RejectReason};
use alloc::{borrow::ToOwned, string::String, vec::Vec};

/// The envelope format version this build writes and reads.
pub const VERSION: u8 = 2;

/// Longest user id an envelope carries, in bytes.
pub const MAX_USER_ID_LEN: usize = 128;

const FIXED_BODY_LEN: usize = SESSION_ID_LEN + LINEAGE_LEN + 4 + 8 * 5 + 1;
/// Longest decoded envelope.
pub const MAX_RAW_LEN: usize =
    2 + MAX_KEY_ID_LEN + FIXED_BODY_LEN + MAX_USER_ID_LEN + 2 + MAX_DATA_LEN + TAG_LEN;

/// Longest envelope text accepted; anything longer is refused before decoding.
pub const MAX_ENVELOPE_LEN: usize = MAX_RAW_LEN.div_ceil(3) * 4;

/// A buffer [`open_view`] decodes into: large enough for any accepted envelope.
pub type DecodeBuffer = [u8; b64::decoded_len_bound(MAX_ENVELOPE_LEN)];

/// What an envelope asserts about a session. Times are unix milliseconds.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Claims {
    /// The session ID (secret).
    pub session_id: SessionId,
    /// The login this session descends from (kept by rotation).
    pub lineage: Lineage,
    /// The user the session belongs to.
    pub user_id: String,
    /// Rotation count.
    pub generation: u32,
    /// When the user logged in.
    pub created_at: u64,
    /// When this envelope was signed.
    pub issued_at: u64,
    /// When this envelope stops being enough on its own.
    pub expires_at: u64,
    /// When the session ends without a refresh.
    pub idle_deadline: u64,
    /// When the session ends regardless.
    pub absolute_deadline: u64,
    /// Application data (JSON object text), signed but readable by the cookie's holder.
    pub data: Option<String>,
}

/// An envelope whose tag verified.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Verified {
    /// The id of the key that signed it.
    pub key_id: String,
    /// What it asserts.
    pub claims: Claims,
}

/// Checks that a user id fits an envelope: 1-128 bytes, no control characters.
pub fn valid_user_id(user_id: &str) -> bool {
    (1..=MAX_USER_ID_LEN).contains(&user_id.len()) && !has_control(user_id.as_bytes())
}

/// Whether UTF-8 text holds a control character (`char::is_control`: U+0000 to U+001F and
/// U+007F to U+009F), read from its bytes: C0 controls and DEL are single bytes, C1 controls are
/// 0xC2 followed by 0x80 to 0x9F. Byte by byte because the fast path checks every envelope's
/// user id here.
fn has_control(utf8: &[u8]) -> bool {
    let mut rest = utf8;
    while let Some((&byte, tail)) = rest.split_first() {
        let c1 = byte == 0xC2
            && tail
                .first()
                .is_some_and(|next| (0x80..=0x9F).contains(next));
        if byte < 0x20 || byte == 0x7F || c1 {
            return true;
        }
        rest = tail;
    }
    false
}

/// Signs `claims` with the ring's current key for the cookie `cookie_name`.
///
/// The caller has checked the user id with [`valid_user_id`]; a longer one is cut at the limit
/// rather than producing an unreadable envelope.
pub fn seal(ring: &KeyRing, cookie_name: &str, claims: &Claims) -> String {
    let key = ring.current();
    let user = claims.user_id.as_bytes();
    let user = user.get(..MAX_USER_ID_LEN).unwrap_or(user);
    let data = claims.data.as_deref().unwrap_or("").as_bytes();
    let data = data.get(..MAX_DATA_LEN).unwrap_or(data);
    let mut raw = Vec::with_capacity(
        2 + key.id.len() + FIXED_BODY_LEN + user.len() + 2 + data.len() + TAG_LEN,
    );
    raw.push(VERSION);
    raw.push(key.id.len() as u8);
    raw.extend_from_slice(key.id.as_bytes());
    raw.extend_from_slice(claims.session_id.as_bytes());
    raw.extend_from_slice(claims.lineage.as_bytes());
    raw.extend_from_slice(&claims.generation.to_be_bytes());
    for t in [
        claims.created_at,
        claims.issued_at,
        claims.expires_at,
        claims.idle_deadline,
        claims.absolute_deadline,
    ] {
        raw.extend_from_slice(&t.to_be_bytes());
    }
    raw.push(user.len() as u8);
    raw.extend_from_slice(user);
    raw.extend_from_slice(&(data.len() as u16).to_be_bytes());
    raw.extend_from_slice(data);
    let tag = ring
        .envelope_signer(key, cookie_name)
        .sign(&[raw.as_slice()]);
    raw.extend_from_slice(&tag);
    b64::encode(&raw)
}

/// A cursor over untrusted bytes that never indexes out of bounds.
struct Reader<'a> {
    rest: &'a [u8],
}

impl<'a> Reader<'a> {
    #[inline(always)]
    fn take(&mut self, n: usize) -> Result<&'a [u8], RejectReason> {
        if n > self.rest.len() {
            return Err(RejectReason::Malformed);
        }
        let (head, tail) = self.rest.split_at(n);
        self.rest = tail;
        Ok(head)
    }

    #[inline(always)]
    fn u8(&mut self) -> Result<u8, RejectReason> {
        Ok(self.array::<1>()?[0])
    }

    #[inline(always)]
    fn array<const N: usize>(&mut self) -> Result<[u8; N], RejectReason> {
        let (head, tail) = self
            .rest
            .split_first_chunk::<N>()
            .ok_or(RejectReason::Malformed)?;
        self.rest = tail;
        Ok(*head)
    }

    #[inline(always)]
    fn u64(&mut self) -> Result<u64, RejectReason> {
        Ok(u64::from_be_bytes(self.array()?))
    }
}

/// An authentic envelope's fields, borrowed from the buffer it was decoded into: what the fast
/// path needs, with no allocation. [`Claims`] is the owned form.
#[derive(Clone, Copy, Debug)]
pub struct View<'a> {
    /// The id of the key that signed it.
    pub key_id: &'a str,
    /// The session ID (secret).
    pub session_id: &'a [u8; SESSION_ID_LEN],
    /// The login this session descends from.
    pub lineage: Lineage,
    /// The user.
    pub user_id: &'a str,
    /// Rotation count.
    pub generation: u32,
    /// When the user logged in.
    pub created_at: u64,
    /// When this envelope was signed.
    pub issued_at: u64,
    /// When this envelope stops being enough on its own.
    pub expires_at: u64,
    /// When the session ends without a refresh.
    pub idle_deadline: u64,
    /// When the session ends regardless.
    pub absolute_deadline: u64,
    /// Application data (JSON object text).
    pub data: Option<&'a str>,
    /// The verified tag: it names this exact envelope (every field is under it), so hosts may
    /// key what they derive from a view by it (see `Engine.check` in the wasm bindings).
    pub tag: &'a [u8; TAG_LEN],
}

impl View<'_> {
    /// The owned claims.
    pub fn claims(&self) -> Claims {
        Claims {
            session_id: SessionId::from_bytes(*self.session_id),
            lineage: self.lineage,
            user_id: self.user_id.to_owned(),
            generation: self.generation,
            created_at: self.created_at,
            issued_at: self.issued_at,
            expires_at: self.expires_at,
            idle_deadline: self.idle_deadline,
            absolute_deadline: self.absolute_deadline,
            data: self.data.map(str::to_owned),
        }
    }
}

/// Decodes and verifies an envelope for the cookie `cookie_name`.
///
/// Checks run cheapest first and nothing is trusted before the tag verifies: length and
/// base64url, version, key id, exact length for the declared user id, then the tag in constant
/// time. Expiry is the caller's business.
pub fn open(ring: &KeyRing, cookie_name: &str, value: &str) -> Result<Verified, RejectReason> {
    let mut buf = [0; b64::decoded_len_bound(MAX_ENVELOPE_LEN)];
    let view = open_view(ring, cookie_name, value.as_bytes(), &mut buf)?;
    Ok(Verified {
        key_id: view.key_id.to_owned(),
        claims: view.claims(),
    })
}

/// [`open`] without allocating: decodes `value` (the cookie value's bytes; anything but
/// base64url is refused as malformed) into `buf` and borrows the fields from it.
pub fn open_view<'b>(
    ring: &KeyRing,
    cookie_name: &str,
    value: &[u8],
    buf: &'b mut DecodeBuffer,
) -> Result<View<'b>, RejectReason> {
    if value.is_empty() || value.len() > MAX_ENVELOPE_LEN {
        return Err(RejectReason::Malformed);
    }
    let len = b64::decode_into(value, buf).ok_or(RejectReason::Malformed)?;
    let raw: &'b [u8] = buf.get(..len).ok_or(RejectReason::Malformed)?;
    let mut r = Reader { rest: raw };
    if r.u8()? != VERSION {
        return Err(RejectReason::BadVersion);
    }
    let kid_len = usize::from(r.u8()?);
    if kid_len == 0 || kid_len > MAX_KEY_ID_LEN {
        return Err(RejectReason::Malformed);
    }
    let kid = r.take(kid_len)?;
    let key = ring.find(kid).ok_or(RejectReason::UnknownKey)?;
    // The user id length sits at a fixed offset: check the total length before the tag.
    let header_len = 2 + kid_len;
    let user_len_at = header_len + FIXED_BODY_LEN - 1;
    let user_len = usize::from(*raw.get(user_len_at).ok_or(RejectReason::Malformed)?);
    let data_len_at = user_len_at + 1 + user_len;
    let data_len = match raw.get(data_len_at..data_len_at + 2) {
        Some(&[hi, lo]) => usize::from(u16::from_be_bytes([hi, lo])),
        _ => return Err(RejectReason::Malformed),
    };
    let signed_len = data_len_at + 2 + data_len;
    if user_len == 0 || data_len > MAX_DATA_LEN || raw.len() != signed_len + TAG_LEN {
        return Err(RejectReason::Malformed);
    }
    let (signed, tag) = raw.split_at(signed_len);
    let tag: &'b [u8; TAG_LEN] = tag.try_into().map_err(|_| RejectReason::Malformed)?;
    if !ring
        .envelope_signer(key, cookie_name)
        .verify(&[signed], tag)
    {
        return Err(RejectReason::BadSignature);
    }
    // Authentic from here on; parsing still refuses rather than trusts.
    let key_id = core::str::from_utf8(kid).map_err(|_| RejectReason::Malformed)?;
    let session_id: &'b [u8; SESSION_ID_LEN] = r
        .take(SESSION_ID_LEN)?
        .try_into()
        .map_err(|_| RejectReason::Malformed)?;
    let lineage = Lineage::from_bytes(r.array()?);
    let generation = u32::from_be_bytes(r.array()?);
    let created_at = r.u64()?;
    let issued_at = r.u64()?;
    let expires_at = r.u64()?;
    let idle_deadline = r.u64()?;
    let absolute_deadline = r.u64()?;
    let user_len = usize::from(r.u8()?);
    let user_id = core::str::from_utf8(r.take(user_len)?).map_err(|_| RejectReason::Malformed)?;
    if !valid_user_id(user_id) {
        return Err(RejectReason::Malformed);
    }
    let data_len = usize::from(u16::from_be_bytes(r.array()?));
    let data = match data_len {
        0 => None,
        _ => Some(core::str::from_utf8(r.take(data_len)?).map_err(|_| RejectReason::Malformed)?),
    };
    if data.is_some_and(|d| !valid_data(d)) {
        return Err(RejectReason::Malformed);
    }
    Ok(View {
        key_id,
        session_id,
        lineage,
        user_id,
        generation,
        created_at,
        issued_at,
        expires_at,
        idle_deadline,
        absolute_deadline,
        data,
        tag,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn control_characters_read_from_bytes_as_char_is_control_says() {
        for c in (0..=0x10_FFFF).filter_map(char::from_u32) {
            for text in [
                c.to_string(),
                format!("a{c}"),
                format!("{c}\u{e9}"),
                format!("\u{c2}{c}"),
            ] {
                assert_eq!(
                    has_control(text.as_bytes()),
                    text.chars().any(char::is_control),
                    "{text:?}"
                );
            }
        }
    }
}
