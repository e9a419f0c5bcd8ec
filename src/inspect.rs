//! Reading a cookie envelope for an operator: decode it without trusting it, and verify it with a
//! key ring.
//!
//! [`decode`] parses the envelope's structure and reports every field it asserts. Nothing it
//! returns is authentic: anyone can write an envelope that decodes. [`inspect`] adds, when given a
//! [`KeyRing`], the verdict of [`crate::envelope::open`] (the very check the engine makes) with the
//! exact reason when it fails: `malformed`, `bad_version`, `unknown_key` or `bad_signature`.
//!
//! The raw session ID never leaves this module: a report names the session by its
//! [`SessionHandle`](crate::SessionHandle) (the SHA-256 of the ID, as in storage and logs). No
//! secret is ever part of a report. Sans-IO, no clock, no panics on any input.
//!
//! ```
//! use edge_session::inspect::{decode, inspect};
//! use edge_session::{CookieConfig, Engine, KeyRing, Policy};
//!
//! let ring = KeyRing::parse("k1:MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY")?;
//! let engine = Engine::new(ring.clone(), Policy::default(), CookieConfig::default())?;
//! let login = engine.issue("alice", None, None, 1_700_000_000_000)?;
//!
//! // A whole Set-Cookie line, a Cookie header or the bare value.
//! let report = inspect(&login.set_cookie, Some(&ring), "__Host-session")?;
//! let envelope = report.envelope.as_ref().map(|e| (e.user_id.as_str(), e.key_id.as_str()));
//! assert_eq!(envelope, Some(("alice", "k1")));
//! assert_eq!(report.verified.map(|v| v.valid), Some(true));
//! assert_eq!(report.envelope.map(|e| e.handle), Some(login.session.handle.to_string()));
//!
//! // Under another cookie name the same value does not verify.
//! let pair = login.set_cookie.split(';').next().unwrap_or_default();
//! let value = pair.split_once('=').map_or("", |(_, v)| v);
//! let moved = inspect(value, Some(&ring), "__Host-other")?;
//! assert_eq!(moved.verified.and_then(|v| v.reason), Some("bad_signature"));
//!
//! assert!(decode("not an envelope").is_err());
//! # Ok::<(), edge_session::ConfigError>(())
//! ```

use crate::envelope::{self, valid_user_id, MAX_ENVELOPE_LEN, MAX_USER_ID_LEN, VERSION};
use crate::id::{LINEAGE_LEN, SESSION_ID_LEN};
use crate::json::{self, itoa, ObjectWriter};
use crate::keys::{MAX_KEY_ID_LEN, TAG_LEN};
use crate::record::{valid_data, MAX_DATA_LEN};
use crate::{b64, find_cookie, ConfigError, CookieConfig, KeyRing, RejectReason, SameSite};
use crate::{Lineage, SessionId};
use alloc::{borrow::ToOwned, string::String, vec::Vec};

/// What an envelope asserts, read without verifying it. Times are unix milliseconds.
#[derive(Clone, Debug, PartialEq, Eq)]
#[cfg_attr(
    not(target_arch = "wasm32"),
    derive(serde::Serialize),
    serde(rename_all = "camelCase")
)]
pub struct Decoded {
    /// The format version (always [`VERSION`] here).
    pub version: u8,
    /// The id of the key it claims to be signed with.
    pub key_id: String,
    /// The session's handle (base64url SHA-256 of the session ID); the ID itself is not reported.
    pub handle: String,
    /// The login this session descends from.
    pub lineage: String,
    /// Rotation count.
    pub generation: u32,
    /// When the user logged in.
    #[cfg_attr(not(target_arch = "wasm32"), serde(serialize_with = "as_number"))]
    pub created_at: u64,
    /// When this envelope was signed.
    #[cfg_attr(not(target_arch = "wasm32"), serde(serialize_with = "as_number"))]
    pub issued_at: u64,
    /// When this envelope stops being enough on its own (a refresh reads the store).
    #[cfg_attr(not(target_arch = "wasm32"), serde(serialize_with = "as_number"))]
    pub expires_at: u64,
    /// When the session ends without a refresh.
    #[cfg_attr(not(target_arch = "wasm32"), serde(serialize_with = "as_number"))]
    pub idle_deadline: u64,
    /// When the session ends regardless.
    #[cfg_attr(not(target_arch = "wasm32"), serde(serialize_with = "as_number"))]
    pub absolute_deadline: u64,
    /// The user id.
    pub user_id: String,
    /// Application data (JSON object text), if any.
    pub data: Option<String>,
    /// Length of the decoded envelope in bytes (tag included).
    pub raw_len: usize,
}

/// Why a value is not a decodable envelope.
#[derive(Clone, Debug, PartialEq, Eq)]
#[cfg_attr(
    not(target_arch = "wasm32"),
    derive(serde::Serialize),
    serde(rename_all = "camelCase")
)]
pub struct Undecodable {
    /// `malformed` or `bad_version` (the codes the engine uses).
    #[cfg_attr(not(target_arch = "wasm32"), serde(serialize_with = "as_code"))]
    pub reason: RejectReason,
    /// The version byte, when there was one.
    pub version: Option<u8>,
    /// What exactly is wrong, for a human.
    pub detail: String,
}

/// The verdict of verifying an envelope with a key ring.
#[derive(Clone, Debug, PartialEq, Eq)]
#[cfg_attr(
    not(target_arch = "wasm32"),
    derive(serde::Serialize),
    serde(rename_all = "camelCase")
)]
pub struct Verdict {
    /// The tag verified under a key of the ring for this cookie name.
    pub valid: bool,
    /// The key that verified it.
    pub key_id: Option<String>,
    /// Why not: `malformed`, `bad_version`, `unknown_key` or `bad_signature`.
    pub reason: Option<&'static str>,
    /// The key ids of the ring (never the secrets).
    pub ring: Vec<String>,
}

/// Where the envelope was found in the input.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(
    not(target_arch = "wasm32"),
    derive(serde::Serialize),
    serde(rename_all = "snake_case")
)]
pub enum Found {
    /// The input was the bare cookie value.
    Value,
    /// The input was a `Set-Cookie` line (header name optional).
    SetCookie,
    /// The input was a `Cookie` header (header name optional).
    CookieHeader,
}

/// A full report on one input.
#[derive(Clone, Debug, PartialEq, Eq)]
#[cfg_attr(
    not(target_arch = "wasm32"),
    derive(serde::Serialize),
    serde(rename_all = "camelCase")
)]
pub struct Inspection {
    /// The cookie name the value was looked up under and verified for.
    pub cookie_name: String,
    /// What the input was; `None` when no envelope could be found in it.
    pub found: Option<Found>,
    /// Length of the envelope text in characters (0 when none was found).
    pub length: usize,
    /// The decoded fields (unverified), when the structure is sound.
    pub envelope: Option<Decoded>,
    /// Why the input could not be decoded: the envelope's structure (`malformed`,
    /// `bad_version`) or the search for the cookie (`missing`, `duplicate_cookie`,
    /// `header_too_large`, `malformed`).
    pub problem: Option<Undecodable>,
    /// The verification verdict, when a key ring was given.
    pub verified: Option<Verdict>,
}

#[cfg(not(target_arch = "wasm32"))]
fn as_number<S: serde::Serializer>(value: &u64, s: S) -> Result<S::Ok, S::Error> {
    // Hostile envelopes may carry any u64; hosts such as JS hold numbers as f64, so times cross
    // as f64 (exact up to 2^53 ms, year 287,396) instead of failing to convert.
    s.serialize_f64(*value as f64)
}

#[cfg(not(target_arch = "wasm32"))]
fn as_code<S: serde::Serializer>(value: &RejectReason, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(value.code())
}

fn undecodable(
    reason: RejectReason,
    version: Option<u8>,
    detail: impl Into<String>,
) -> Undecodable {
    Undecodable {
        reason,
        version,
        detail: detail.into(),
    }
}

fn malformed(version: Option<u8>, detail: impl Into<String>) -> Undecodable {
    undecodable(RejectReason::Malformed, version, detail)
}

/// A cursor over untrusted bytes that never indexes out of bounds.
struct Cursor<'a> {
    rest: &'a [u8],
}

impl<'a> Cursor<'a> {
    fn take(&mut self, n: usize, what: &str) -> Result<&'a [u8], String> {
        if n > self.rest.len() {
            return Err([
                "truncated: ",
                what,
                " needs ",
                &itoa(n as u64),
                " bytes, ",
                &itoa(self.rest.len() as u64),
                " left",
            ]
            .concat());
        }
        let (head, tail) = self.rest.split_at(n);
        self.rest = tail;
        Ok(head)
    }

    fn array<const N: usize>(&mut self, what: &str) -> Result<[u8; N], String> {
        self.take(N, what)?
            .try_into()
            .map_err(|_| ["truncated: ", what].concat())
    }

    fn u8(&mut self, what: &str) -> Result<u8, String> {
        Ok(u8::from_be_bytes(self.array(what)?))
    }

    fn u16(&mut self, what: &str) -> Result<u16, String> {
        Ok(u16::from_be_bytes(self.array(what)?))
    }

    fn u32(&mut self, what: &str) -> Result<u32, String> {
        Ok(u32::from_be_bytes(self.array(what)?))
    }

    fn u64(&mut self, what: &str) -> Result<u64, String> {
        Ok(u64::from_be_bytes(self.array(what)?))
    }
}

/// Decodes an envelope's structure without verifying it: base64url, version, every field, the
/// exact length. Refuses (never panics) on anything else, saying what is wrong.
pub fn decode(value: &str) -> Result<Decoded, Undecodable> {
    if value.is_empty() {
        return Err(malformed(None, "empty value"));
    }
    if value.len() > MAX_ENVELOPE_LEN {
        return Err(malformed(
            None,
            [
                &itoa(value.len() as u64),
                " characters: longer than any envelope (",
                &itoa(MAX_ENVELOPE_LEN as u64),
                ")",
            ]
            .concat(),
        ));
    }
    let raw = b64::decode(value).ok_or_else(|| {
        malformed(
            None,
            "not canonical base64url (no padding, no trailing bits)",
        )
    })?;
    let mut r = Cursor { rest: &raw };
    let version = r.u8("version").map_err(|d| malformed(None, d))?;
    let v = Some(version);
    if version != VERSION {
        return Err(undecodable(
            RejectReason::BadVersion,
            v,
            [
                "version ",
                &itoa(version.into()),
                "; this build reads version ",
                &itoa(VERSION.into()),
            ]
            .concat(),
        ));
    }
    decode_body(&mut r, raw.len()).map_err(|d| malformed(v, d))
}

fn decode_body(r: &mut Cursor<'_>, raw_len: usize) -> Result<Decoded, String> {
    let kid_len = usize::from(r.u8("key id length")?);
    if kid_len == 0 || kid_len > MAX_KEY_ID_LEN {
        return Err([
            "key id length ",
            &itoa(kid_len as u64),
            ", not 1-",
            &itoa(MAX_KEY_ID_LEN as u64),
        ]
        .concat());
    }
    let kid = r.take(kid_len, "key id")?;
    // Key ids are ASCII letters, digits, '_' and '-': anything else is shown escaped.
    let key_id = escape_default(&String::from_utf8_lossy(kid));
    let session_id = SessionId::from_bytes(r.array::<SESSION_ID_LEN>("session id")?);
    let lineage = Lineage::from_bytes(r.array::<LINEAGE_LEN>("lineage")?);
    let generation = r.u32("generation")?;
    let created_at = r.u64("created_at")?;
    let issued_at = r.u64("issued_at")?;
    let expires_at = r.u64("expires_at")?;
    let idle_deadline = r.u64("idle_deadline")?;
    let absolute_deadline = r.u64("absolute_deadline")?;
    let user_len = usize::from(r.u8("user id length")?);
    let user = r.take(user_len, "user id")?;
    let user_id = core::str::from_utf8(user)
        .map_err(|_| "user id is not UTF-8".to_owned())?
        .to_owned();
    if !valid_user_id(&user_id) {
        return Err([
            "user id of ",
            &itoa(user_len as u64),
            " bytes: must be 1-",
            &itoa(MAX_USER_ID_LEN as u64),
            " bytes without control characters",
        ]
        .concat());
    }
    let data_len = usize::from(r.u16("data length")?);
    if data_len > MAX_DATA_LEN {
        return Err([
            "data length ",
            &itoa(data_len as u64),
            " exceeds ",
            &itoa(MAX_DATA_LEN as u64),
        ]
        .concat());
    }
    let data = match r.take(data_len, "data")? {
        [] => None,
        bytes => {
            let text = core::str::from_utf8(bytes).map_err(|_| "data is not UTF-8".to_owned())?;
            if !valid_data(text) {
                return Err("data is not a JSON object".to_owned());
            }
            Some(text.to_owned())
        }
    };
    let tag_len = r.rest.len();
    if tag_len != TAG_LEN {
        return Err([
            "tag of ",
            &itoa(tag_len as u64),
            " bytes, not ",
            &itoa(TAG_LEN as u64),
        ]
        .concat());
    }
    Ok(Decoded {
        version: VERSION,
        key_id,
        handle: session_id.handle().as_str().to_owned(),
        lineage: lineage.text(),
        generation,
        created_at,
        issued_at,
        expires_at,
        idle_deadline,
        absolute_deadline,
        user_id,
        data,
        raw_len,
    })
}

/// Verifies an envelope for `cookie_name` with `ring`: the key id that signed it, or why not
/// (`malformed`, `bad_version`, `unknown_key`, `bad_signature`). Exactly the engine's check; it
/// judges no time and reads no store.
pub fn verify(ring: &KeyRing, cookie_name: &str, value: &str) -> Result<String, RejectReason> {
    envelope::open(ring, cookie_name, value).map(|v| v.key_id)
}

/// `text` with every character outside printable ASCII (and `\\`, `'`, `"`) escaped, as
/// `str::escape_default` writes it.
fn escape_default(text: &str) -> String {
    text.chars().flat_map(char::escape_default).collect()
}

/// `text` in double quotes with `\\` and `"` escaped: what `{:?}` writes for text of printable
/// characters (cookie names, and text [`escape_default`] wrote), without `core::fmt`.
fn quoted(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 2);
    out.push('"');
    for c in text.chars() {
        if matches!(c, '\\' | '"') {
            out.push('\\');
        }
        out.push(c);
    }
    out.push('"');
    out
}

/// Strips an optional `Set-Cookie:` or `Cookie:` header name (any case).
fn strip_header_name(input: &str) -> (Option<Found>, &str) {
    for (name, found) in [
        ("set-cookie:", Found::SetCookie),
        ("cookie:", Found::CookieHeader),
    ] {
        let head = input.get(..name.len());
        if head.is_some_and(|h| h.eq_ignore_ascii_case(name)) {
            return (Some(found), input.get(name.len()..).unwrap_or_default());
        }
    }
    (None, input)
}

/// Finds the envelope text in `input`: a bare value, a `Set-Cookie` line or a `Cookie` header
/// (each with or without its header name), looked up under `cookie_name`.
pub fn find_envelope<'a>(
    input: &'a str,
    cookie_name: &str,
) -> Result<(Found, &'a str), Undecodable> {
    let (named, text) = strip_header_name(input.trim());
    let text = text.trim();
    if named.is_none() && !text.contains(['=', ';']) {
        // Base64url has neither '=' nor ';': a bare value.
        return Ok((Found::Value, text));
    }
    // A Set-Cookie line is one pair followed by attributes; a Cookie header is pairs only.
    let first_name = text.split(';').next().and_then(|p| p.split_once('='));
    let attributes = text
        .split(';')
        .skip(1)
        .filter_map(|p| p.trim().split('=').next())
        .any(|a| {
            [
                "expires", "max-age", "path", "domain", "secure", "httponly", "samesite",
            ]
            .iter()
            .any(|known| a.eq_ignore_ascii_case(known))
        });
    let found = named.unwrap_or(if attributes {
        Found::SetCookie
    } else {
        Found::CookieHeader
    });
    if found == Found::SetCookie {
        // Only the first pair is the cookie; attributes are never searched.
        return match first_name {
            Some((name, value)) if name.trim() == cookie_name => {
                let value = value.trim();
                if value.is_empty() {
                    Err(malformed(None, "empty value: a clearing Set-Cookie"))
                } else {
                    Ok((found, value))
                }
            }
            Some((name, _)) => Err(undecodable(
                RejectReason::Missing,
                None,
                [
                    "the Set-Cookie line sets ",
                    &quoted(&escape_default(name.trim())),
                    ", not ",
                    &quoted(cookie_name),
                    " (use --cookie-name)",
                ]
                .concat(),
            )),
            None => Err(malformed(None, "a Set-Cookie line needs name=value")),
        };
    }
    match find_cookie(text, cookie_name) {
        Ok(Some(value)) => Ok((found, value)),
        Ok(None) => Err(undecodable(
            RejectReason::Missing,
            None,
            [
                "no non-empty cookie named ",
                &quoted(cookie_name),
                " in the header",
            ]
            .concat(),
        )),
        Err(reason) => Err(undecodable(
            reason,
            None,
            [
                "the header cannot be read for ",
                &quoted(cookie_name),
                ": ",
                reason.code(),
            ]
            .concat(),
        )),
    }
}

/// Reports on `input` (a cookie value, a `Set-Cookie` line or a `Cookie` header) for the cookie
/// `cookie_name`: where the envelope was found, its decoded fields (unverified), what is wrong
/// with it, and, given a ring, whether it verifies and why not.
///
/// Fails only for a cookie name a `SessionManager` would refuse.
pub fn inspect(
    input: &str,
    ring: Option<&KeyRing>,
    cookie_name: &str,
) -> Result<Inspection, ConfigError> {
    CookieConfig::new(cookie_name, true, SameSite::Lax, "/", None)?;
    let found = find_envelope(input, cookie_name);
    let (found, value, problem) = match found {
        Ok((found, value)) => (Some(found), Some(value), None),
        Err(problem) => (None, None, Some(problem)),
    };
    let decoded = value.map(decode);
    let (envelope, problem) = match decoded {
        Some(Ok(envelope)) => (Some(envelope), problem),
        Some(Err(problem)) => (None, Some(problem)),
        None => (None, problem),
    };
    let verified = ring.map(|ring| {
        let verdict = match (value, &problem) {
            (Some(value), _) => verify(ring, cookie_name, value),
            (None, Some(p)) => Err(p.reason),
            (None, None) => Err(RejectReason::Missing),
        };
        Verdict {
            valid: verdict.is_ok(),
            reason: verdict.as_ref().err().map(|r| r.code()),
            key_id: verdict.ok(),
            ring: ring.ids().map(str::to_owned).collect(),
        }
    });
    Ok(Inspection {
        cookie_name: cookie_name.to_owned(),
        found,
        length: value.map_or(0, str::len),
        envelope,
        problem,
        verified,
    })
}

impl Found {
    /// The snake_case name reports use.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Value => "value",
            Self::SetCookie => "set_cookie",
            Self::CookieHeader => "cookie_header",
        }
    }
}

impl Inspection {
    /// The report as JSON text, as the JS API returns it: `{ cookieName, found, length,
    /// envelope, problem, verified }` with camelCase fields, `null` for what is absent, times as
    /// the JS numbers nearest to them.
    pub fn to_json(&self) -> String {
        let mut out = String::new();
        let mut o = ObjectWriter::new(&mut out);
        o.str("cookieName", &self.cookie_name)
            .opt_str("found", self.found.map(Found::as_str))
            .u64("length", self.length as u64);
        match &self.envelope {
            Some(d) => {
                let mut e = ObjectWriter::new(o.key("envelope"));
                e.u64("version", d.version.into())
                    .str("keyId", &d.key_id)
                    .str("handle", &d.handle)
                    .str("lineage", &d.lineage)
                    .u64("generation", d.generation.into());
                for (name, time) in [
                    ("createdAt", d.created_at),
                    ("issuedAt", d.issued_at),
                    ("expiresAt", d.expires_at),
                    ("idleDeadline", d.idle_deadline),
                    ("absoluteDeadline", d.absolute_deadline),
                ] {
                    json::push_u64_as_f64(e.key(name), time);
                }
                e.str("userId", &d.user_id)
                    .opt_str("data", d.data.as_deref())
                    .u64("rawLen", d.raw_len as u64);
                e.end();
            }
            None => {
                o.raw("envelope", "null");
            }
        }
        match &self.problem {
            Some(p) => {
                let mut e = ObjectWriter::new(o.key("problem"));
                e.str("reason", p.reason.code())
                    .opt_u64("version", p.version.map(u64::from))
                    .str("detail", &p.detail);
                e.end();
            }
            None => {
                o.raw("problem", "null");
            }
        }
        match &self.verified {
            Some(v) => {
                let mut e = ObjectWriter::new(o.key("verified"));
                e.bool("valid", v.valid)
                    .opt_str("keyId", v.key_id.as_deref())
                    .opt_str("reason", v.reason);
                json::push_array(e.key("ring"), &v.ring, |out, id| json::push_str(out, id));
                e.end();
            }
            None => {
                o.raw("verified", "null");
            }
        }
        o.end();
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::envelope::{seal, Claims};
    use proptest::prelude::*;

    /// The JS API's report (written by hand) reads as what serde wrote for it.
    fn same_as_serde(report: &Inspection) {
        assert_eq!(
            json::as_js(&report.to_json()),
            json::as_js(&serde_json::to_string(report).unwrap()),
            "{report:?}"
        );
    }

    #[test]
    fn report_json_is_what_serde_writes() {
        let r = ring(&[("k1", 1), ("k2", 2)]);
        let value = sealed(&r, NAME);
        let mut huge = claims("bob", Some(r#"{"a":"\u0007"}"#));
        huge.absolute_deadline = u64::MAX;
        huge.expires_at = (1 << 53) + 1;
        let huge = seal(&r, NAME, &huge);
        for input in [
            value.clone(),
            format!("Set-Cookie: {NAME}={value}; Path=/"),
            "other=\"x\\y\"; Path=/".to_owned(),
            format!("{NAME}=x; {NAME}=y"),
            huge,
            "AAAA".to_owned(),
            String::new(),
        ] {
            same_as_serde(&inspect(&input, Some(&r), NAME).unwrap());
            same_as_serde(&inspect(&input, None, NAME).unwrap());
        }
    }

    #[test]
    fn messages_quote_as_debug_does() {
        for name in ["we\"ird", "back\\slash", "tab\there", "é\u{7}", "plain"] {
            let input = format!("{name}=v; Path=/");
            let problem = inspect(&input, None, NAME).unwrap().problem.unwrap();
            let old = format!(
                "the Set-Cookie line sets {:?}, not {NAME:?} (use --cookie-name)",
                name.escape_default().to_string()
            );
            assert_eq!(problem.detail, old);
        }
    }

    const NAME: &str = "__Host-session";

    fn ring(spec: &[(&str, u8)]) -> KeyRing {
        KeyRing::new(spec.iter().map(|(id, b)| (*id, vec![*b; 32]))).unwrap()
    }

    fn claims(user: &str, data: Option<&str>) -> Claims {
        Claims {
            session_id: SessionId::from_bytes([9; 32]),
            lineage: Lineage::from_bytes([4; 16]),
            user_id: user.to_owned(),
            generation: 3,
            created_at: 1_700_000_000_000,
            issued_at: 1_700_000_100_000,
            expires_at: 1_700_000_160_000,
            idle_deadline: 1_700_001_900_000,
            absolute_deadline: 1_700_086_400_000,
            data: data.map(str::to_owned),
        }
    }

    fn sealed(r: &KeyRing, name: &str) -> String {
        seal(
            r,
            name,
            &claims("alice@example.com", Some(r#"{"role":"admin"}"#)),
        )
    }

    #[test]
    fn decodes_every_field_and_never_the_session_id() {
        let r = ring(&[("k1", 1)]);
        let value = sealed(&r, NAME);
        let d = decode(&value).unwrap();
        assert_eq!(d.key_id, "k1");
        assert_eq!(d.user_id, "alice@example.com");
        assert_eq!(d.data.as_deref(), Some(r#"{"role":"admin"}"#));
        assert_eq!(d.generation, 3);
        assert_eq!(d.created_at, 1_700_000_000_000);
        assert_eq!(d.issued_at, 1_700_000_100_000);
        assert_eq!(d.expires_at, 1_700_000_160_000);
        assert_eq!(d.idle_deadline, 1_700_001_900_000);
        assert_eq!(d.absolute_deadline, 1_700_086_400_000);
        assert_eq!(d.lineage, Lineage::from_bytes([4; 16]).text());
        let id = SessionId::from_bytes([9; 32]);
        assert_eq!(d.handle, id.handle().as_str());
        let text = format!("{d:?}");
        assert!(!text.contains(&id.expose_base64url()), "{text}");
        let json = serde_json::to_string(&d).unwrap();
        assert!(!json.contains(&id.expose_base64url()), "{json}");
        assert!(json.contains(r#""createdAt":1700000000000"#), "{json}");
    }

    #[test]
    fn verifies_and_says_why_not() {
        let r = ring(&[("k1", 1)]);
        let value = sealed(&r, NAME);
        assert_eq!(verify(&r, NAME, &value), Ok("k1".to_owned()));
        // Another cookie name, another key with the same id, a ring without the key.
        assert_eq!(
            verify(&r, "__Host-other", &value),
            Err(RejectReason::BadSignature)
        );
        assert_eq!(
            verify(&ring(&[("k1", 2)]), NAME, &value),
            Err(RejectReason::BadSignature)
        );
        assert_eq!(
            verify(&ring(&[("k2", 1)]), NAME, &value),
            Err(RejectReason::UnknownKey)
        );
        // A previous key still verifies.
        assert_eq!(
            verify(&ring(&[("k2", 2), ("k1", 1)]), NAME, &value),
            Ok("k1".to_owned())
        );
        // Every single-bit flip of the raw envelope is refused, and decode never panics on it.
        let raw = b64::decode(&value).unwrap();
        for i in 0..raw.len() {
            for bit in 0..8 {
                let mut bad = raw.clone();
                bad[i] ^= 1 << bit;
                let bad = b64::encode(&bad);
                let verdict = verify(&r, NAME, &bad);
                assert!(verdict.is_err(), "byte {i} bit {bit}");
                let _ = decode(&bad);
            }
        }
    }

    #[test]
    fn inspect_reports_through_each_input_form() {
        let r = ring(&[("k1", 1)]);
        let value = sealed(&r, NAME);
        let set_cookie =
            format!("{NAME}={value}; Max-Age=86400; Path=/; Secure; HttpOnly; SameSite=Lax");
        let forms = [
            (value.clone(), Found::Value),
            (format!("  {value}\n"), Found::Value),
            (set_cookie.clone(), Found::SetCookie),
            (format!("Set-Cookie: {set_cookie}"), Found::SetCookie),
            (format!("a=b; {NAME}={value}; c=d"), Found::CookieHeader),
            (format!("cookie: {NAME}={value}"), Found::CookieHeader),
            (format!("{NAME}={value}"), Found::CookieHeader),
        ];
        for (input, found) in forms {
            let report = inspect(&input, Some(&r), NAME).unwrap();
            assert_eq!(report.found, Some(found), "{input}");
            assert_eq!(report.length, value.len());
            assert!(report.problem.is_none(), "{input}");
            let verdict = report.verified.unwrap();
            assert!(verdict.valid);
            assert_eq!(verdict.key_id.as_deref(), Some("k1"));
            assert_eq!(verdict.ring, ["k1"]);
            assert_eq!(report.envelope.unwrap().user_id, "alice@example.com");
        }
        // Without keys: decoded, no verdict.
        let report = inspect(&value, None, NAME).unwrap();
        assert!(report.envelope.is_some() && report.verified.is_none());
    }

    #[test]
    fn inspect_says_why_not() {
        let r = ring(&[("k1", 1)]);
        let value = sealed(&r, NAME);
        let reason = |input: &str, name: &str| {
            let report = inspect(input, Some(&r), name).unwrap();
            report.verified.and_then(|v| v.reason)
        };
        let problem = |input: &str| {
            inspect(input, None, NAME)
                .unwrap()
                .problem
                .map(|p| p.reason.code())
        };
        assert_eq!(reason(&value, "__Host-other"), Some("bad_signature"));
        let other = inspect(&value, Some(&ring(&[("k2", 1)])), NAME).unwrap();
        assert_eq!(other.verified.unwrap().reason, Some("unknown_key"));
        // Missing, duplicated, empty, clearing, oversized.
        assert_eq!(problem("a=b; c=d"), Some("missing"));
        assert_eq!(
            problem(&format!("{NAME}=x; {NAME}=y")),
            Some("duplicate_cookie")
        );
        assert_eq!(problem(""), Some("malformed"));
        assert_eq!(
            problem(&format!("{NAME}=; Max-Age=0; Path=/")),
            Some("malformed")
        );
        assert_eq!(problem(&format!("other={value}; Path=/")), Some("missing"));
        assert_eq!(
            problem(&format!("a={}; {NAME}={value}", "x".repeat(20_000))),
            Some("header_too_large")
        );
        assert_eq!(reason("a=b", NAME), Some("missing"));
        // Version 1, version 255.
        let mut raw = b64::decode(&value).unwrap();
        raw[0] = 1;
        let v1 = b64::encode(&raw);
        let report = inspect(&v1, Some(&r), NAME).unwrap();
        let p = report.problem.unwrap();
        assert_eq!((p.reason, p.version), (RejectReason::BadVersion, Some(1)));
        assert_eq!(report.verified.unwrap().reason, Some("bad_version"));
        // Truncated, extended, not base64url.
        let short = &value[..value.len() - 4];
        assert_eq!(problem(short), Some("malformed"));
        assert_eq!(reason(short, NAME), Some("malformed"));
        let long = format!("{value}AAAA");
        assert_eq!(problem(&long), Some("malformed"));
        assert_eq!(problem("!!!"), Some("malformed"));
        // A bad cookie name is a configuration error.
        assert!(inspect(&value, None, "bad name").is_err());
        assert!(inspect(&value, None, "").is_err());
    }

    #[test]
    fn hostile_structures_are_refused_with_a_detail() {
        let mut raw = vec![VERSION, 2, b'k', b'1'];
        raw.extend_from_slice(&[0; SESSION_ID_LEN + LINEAGE_LEN + 4 + 40]);
        // user length 200 with few bytes left.
        let mut long_user = raw.clone();
        long_user.push(200);
        long_user.extend_from_slice(b"abc");
        let e = decode(&b64::encode(&long_user)).unwrap_err();
        assert_eq!(e.reason, RejectReason::Malformed);
        assert!(e.detail.contains("user id"), "{}", e.detail);
        // A control character in the user id, non-UTF-8 data, data not an object, big data length.
        for (user, data_len, data) in [
            (&b"a\nb"[..], 0u16, &b""[..]),
            (b"alice", 2, b"\xff\xfe"),
            (b"alice", 2, b"[]"),
            (b"alice", 60_000, b""),
        ] {
            let mut bad = raw.clone();
            bad.push(user.len() as u8);
            bad.extend_from_slice(user);
            bad.extend_from_slice(&data_len.to_be_bytes());
            bad.extend_from_slice(data);
            bad.extend_from_slice(&[0; TAG_LEN]);
            assert_eq!(
                decode(&b64::encode(&bad)).map_err(|e| e.reason),
                Err(RejectReason::Malformed)
            );
        }
        // Key id length 0 and 17; a non-ASCII key id is shown escaped.
        for kid_len in [0u8, 17] {
            let bad = [VERSION, kid_len, b'k'];
            assert!(decode(&b64::encode(&bad)).is_err());
        }
        let mut odd = vec![VERSION, 2, 0xff, b'\n'];
        odd.extend_from_slice(&raw[4..]);
        odd.push(1);
        odd.push(b'a');
        odd.extend_from_slice(&0u16.to_be_bytes());
        odd.extend_from_slice(&[0; TAG_LEN]);
        let d = decode(&b64::encode(&odd)).unwrap();
        assert!(!d.key_id.contains('\n'), "{}", d.key_id);
        // Any u64 time serializes.
        let mut max = odd.clone();
        for b in
            &mut max[4 + SESSION_ID_LEN + LINEAGE_LEN + 4..4 + SESSION_ID_LEN + LINEAGE_LEN + 44]
        {
            *b = 0xff;
        }
        let d = decode(&b64::encode(&max)).unwrap();
        assert_eq!(d.absolute_deadline, u64::MAX);
        assert!(serde_json::to_string(&d).is_ok());
        // Longer than any envelope.
        assert!(decode(&"A".repeat(MAX_ENVELOPE_LEN + 4)).is_err());
    }

    proptest! {
        #[test]
        fn never_panics_on_text(input in ".{0,600}") {
            let r = ring(&[("k1", 1)]);
            let _ = inspect(&input, Some(&r), NAME);
            let _ = decode(&input);
        }

        #[test]
        fn never_panics_on_bytes(bytes in proptest::collection::vec(any::<u8>(), 0..400)) {
            let r = ring(&[("k1", 1)]);
            let value = b64::encode(&bytes);
            let _ = inspect(&value, Some(&r), NAME);
            let report = decode(&value);
            // Anything that decodes re-reports the same structure through inspect.
            if let Ok(d) = report {
                let again = inspect(&value, None, NAME).unwrap();
                prop_assert_eq!(again.envelope, Some(d));
            }
        }

        #[test]
        fn mutations_of_a_real_envelope_never_verify(i in 0usize..200, b in 1u8..=255) {
            let r = ring(&[("k1", 1)]);
            let value = sealed(&r, NAME);
            let mut raw = b64::decode(&value).unwrap();
            let i = i % raw.len();
            raw[i] ^= b;
            let bad = b64::encode(&raw);
            let report = inspect(&bad, Some(&r), NAME).unwrap();
            prop_assert!(!report.verified.unwrap().valid);
        }
    }
}
