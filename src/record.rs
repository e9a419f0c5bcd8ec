//! Store protocol v2: every value this library keeps in KV, its shape and how it is decoded.
//!
//! | key | value | written | TTL |
//! |---|---|---|---|
//! | `s:<handle>` | [`Record`], later only a [`Tombstone`] | at creation; tombstoned at logout, rotation, revocation | to the absolute deadline |
//! | `l:<user hash>:<lineage>` | [`Tombstone`] only | at logout and `revokeSession`: ends the login and every rotation of it | to the absolute deadline |
//! | `u:<user hash>:<handle>` | [`IndexEntry`] (also its metadata) | at creation; deleted at revocation | to the absolute deadline |
//! | `t:<user hash>:<handle>` | [`Touch`] (also its metadata) | by refreshes, at most once per touch interval | to the absolute deadline |
//! | `c:<user hash>` | [`Cutoff`] | by `revokeUser`, never lowered | 400 days |
//! | `o:<user hash>` | [`Cutoff`] with `keep` | by `revokeOthers`, never lowered | 400 days |
//! | `r:issued_before` | [`Cutoff`] | by `revokeIssuedBefore`, never lowered | none |
//!
//! No refresh ever writes `s:`, `u:`, `c:`, `o:` or `r:`: a stale copy of a key a refresh could write
//! (`t:`) says when a session was last seen, never whether it is alive.
//!
//! The host parses stored JSON itself (`JSON.parse` in JS) and hands the value to a [`Source`];
//! the core checks its shape. Corrupt values and values of another version fail closed; fields
//! this version does not know are ignored (as serde-wasm-bindgen does), so additions within v2
//! stay readable.

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use crate::id::Lineage;
use crate::RejectReason;

/// The store format version this build writes and reads.
pub const STORE_VERSION: u32 = 2;

/// KV refuses `expirationTtl` below 60 seconds.
pub const MIN_KV_TTL_SECS: u64 = 60;

/// Longest user-agent summary kept, in characters.
pub const MAX_USER_AGENT_LEN: usize = 128;

/// How long a per-user cutoff is kept: no session lives longer than 400 days.
pub const USER_CUTOFF_TTL_SECS: u64 = 400 * 24 * 3600;

/// A stored value as the host parsed it, before the core checks its shape.
pub trait Source {
    /// Deserializes the value as `T`; `None` when it does not have that shape.
    fn read_as<T: DeserializeOwned>(&self) -> Option<T>;
}

/// Stored JSON text (native hosts and tests).
#[cfg(not(target_arch = "wasm32"))]
impl Source for str {
    fn read_as<T: DeserializeOwned>(&self) -> Option<T> {
        serde_json::from_str(self).ok()
    }
}

#[cfg(not(target_arch = "wasm32"))]
impl Source for String {
    fn read_as<T: DeserializeOwned>(&self) -> Option<T> {
        self.as_str().read_as()
    }
}

/// A live session: written once at creation under `s:<handle>`, never rewritten, later only
/// replaced by a [`Tombstone`]. It never holds the session ID.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Record {
    /// Format version ([`STORE_VERSION`]).
    pub v: u32,
    /// The user the session belongs to.
    pub user_id: String,
    /// Login time (unix ms); rotation keeps it.
    pub created_at: u64,
    /// The end of the session's life (unix ms); never moved later.
    pub absolute_deadline: u64,
    /// The idle timeout the session was created with (ms).
    pub idle_timeout_ms: u64,
    /// Rotation count.
    pub generation: u32,
    /// The login this session descends from (base64url of 16 bytes; kept by rotation).
    pub lineage: Lineage,
    /// Application data (JSON object text, at most 1024 bytes), also carried in the envelope.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub data: Option<String>,
    /// A short summary of the client's User-Agent, for a devices list.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_agent: Option<String>,
}

/// Why a session record was ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Ended {
    /// Logged out or revoked.
    Revoked,
    /// Replaced by a new ID.
    Rotated,
}

impl Ended {
    /// The reason a request carrying the ended session is refused with.
    pub const fn reason(self) -> RejectReason {
        match self {
            Self::Revoked => RejectReason::Revoked,
            Self::Rotated => RejectReason::Rotated,
        }
    }
}

/// What replaces a record when its session ends.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Tombstone {
    /// Format version.
    pub v: u32,
    /// Why the session ended.
    pub ended: Ended,
    /// When (unix ms).
    pub at: u64,
}

/// A revocation cutoff: sessions created before `before` are refused.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Cutoff {
    /// Format version.
    pub v: u32,
    /// Sessions created strictly before this (unix ms) are refused.
    pub before: u64,
    /// When it was written (unix ms).
    pub at: u64,
    /// An "other sessions" cutoff (`o:`) spares the caller's own login (ignored anywhere else).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub keep: Option<Lineage>,
}

/// When a session was last refreshed (`t:` keys, value and metadata).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Touch {
    /// Format version.
    pub v: u32,
    /// Unix ms.
    pub last_seen_at: u64,
}

/// A user index entry (`u:` keys, value and metadata): what a devices list shows, so a listing
/// needs no per-session reads.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct IndexEntry {
    /// Format version.
    pub v: u32,
    /// The login the session belongs to (listings leave out ended logins).
    pub lineage: Lineage,
    /// Login time.
    pub created_at: u64,
    /// End of the session's life.
    pub absolute_deadline: u64,
    /// User-Agent summary.
    #[serde(default)]
    pub user_agent: String,
}

/// Any value this library writes.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(untagged)]
pub enum Value {
    /// `s:` while the session lives.
    Record(Record),
    /// `s:` after it ended.
    Tombstone(Tombstone),
    /// `c:` and `r:`.
    Cutoff(Cutoff),
    /// `t:`.
    Touch(Touch),
    /// `u:`.
    Index(IndexEntry),
}

#[cfg(not(target_arch = "wasm32"))]
impl Value {
    /// The JSON text to store (native hosts and tests; wasm hosts `JSON.stringify` the value).
    pub fn to_json(&self) -> String {
        // Structs of strings and integers always serialise.
        serde_json::to_string(self).unwrap_or_default()
    }
}

#[derive(Deserialize)]
struct Probe {
    v: u32,
    #[serde(default)]
    ended: Option<serde::de::IgnoredAny>,
}

/// A record key's value: a live session or its tombstone.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RecordState {
    /// The session lives.
    Live(Record),
    /// The session ended.
    Ended(Tombstone),
}

impl RecordState {
    /// Checks a stored `s:` value. Another version gives [`RejectReason::RecordVersion`] (v1
    /// records included), any other shape [`RejectReason::CorruptRecord`].
    pub fn decode<S: Source + ?Sized>(source: &S) -> Result<Self, RejectReason> {
        let probe: Probe = source.read_as().ok_or(RejectReason::CorruptRecord)?;
        if probe.v != STORE_VERSION {
            return Err(RejectReason::RecordVersion);
        }
        if probe.ended.is_some() {
            return source
                .read_as()
                .map(Self::Ended)
                .ok_or(RejectReason::CorruptRecord);
        }
        let record: Record = source.read_as().ok_or(RejectReason::CorruptRecord)?;
        if record.data.as_deref().is_some_and(|d| !valid_data(d)) {
            return Err(RejectReason::CorruptRecord);
        }
        Ok(Self::Live(record))
    }
}

impl Cutoff {
    /// Checks a stored cutoff; anything but a v2 cutoff is [`RejectReason::CorruptCutoff`].
    pub fn decode<S: Source + ?Sized>(source: &S) -> Result<Self, RejectReason> {
        match source.read_as::<Self>() {
            Some(cutoff) if cutoff.v == STORE_VERSION => Ok(cutoff),
            _ => Err(RejectReason::CorruptCutoff),
        }
    }
}

impl IndexEntry {
    /// Reads an index entry's metadata; `None` for anything else.
    pub fn decode<S: Source + ?Sized>(source: &S) -> Option<Self> {
        source.read_as::<Self>().filter(|e| e.v == STORE_VERSION)
    }
}

impl Touch {
    /// Reads a last-seen entry's metadata; `None` for anything else.
    pub fn decode<S: Source + ?Sized>(source: &S) -> Option<Self> {
        source.read_as::<Self>().filter(|t| t.v == STORE_VERSION)
    }
}

/// Largest session data, in bytes of JSON.
pub const MAX_DATA_LEN: usize = 1024;

/// Session data is the JSON text of an object, at most [`MAX_DATA_LEN`] bytes.
///
/// Native builds parse it fully; the wasm build trusts the host's `JSON.stringify` for the syntax
/// (it carries no JSON parser) and checks the rest, so both accept exactly what `JSON.stringify`
/// of an object produces.
pub fn valid_data(data: &str) -> bool {
    data.len() <= MAX_DATA_LEN && data.starts_with('{') && data.ends_with('}') && json_syntax(data)
}

#[cfg(not(target_arch = "wasm32"))]
fn json_syntax(data: &str) -> bool {
    serde_json::from_str::<serde::de::IgnoredAny>(data).is_ok()
}

#[cfg(target_arch = "wasm32")]
fn json_syntax(_: &str) -> bool {
    true
}

/// Seconds from `now` to `deadline`, rounded up, at least [`MIN_KV_TTL_SECS`].
pub fn ttl_until(deadline: u64, now: u64) -> u64 {
    deadline
        .saturating_sub(now)
        .div_ceil(1_000)
        .max(MIN_KV_TTL_SECS)
}

/// Shortens a User-Agent to a printable summary of at most [`MAX_USER_AGENT_LEN`] characters.
pub fn summarize_user_agent(user_agent: &str) -> String {
    user_agent
        .chars()
        .filter(|c| !c.is_control())
        .take(MAX_USER_AGENT_LEN)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record() -> Record {
        Record {
            v: STORE_VERSION,
            user_id: "alice".into(),
            created_at: 1_000,
            absolute_deadline: 43_201_000,
            idle_timeout_ms: 1_800_000,
            generation: 0,
            lineage: Lineage::from_bytes([9; 16]),
            data: Some("{\"role\":\"admin\"}".into()),
            user_agent: Some("Firefox".into()),
        }
    }

    #[test]
    fn round_trips() {
        let r = record();
        let json = Value::Record(r.clone()).to_json();
        assert_eq!(RecordState::decode(&json), Ok(RecordState::Live(r)));
        let t = Tombstone {
            v: 2,
            ended: Ended::Rotated,
            at: 5,
        };
        let json = Value::Tombstone(t.clone()).to_json();
        assert_eq!(json, r#"{"v":2,"ended":"rotated","at":5}"#);
        assert_eq!(RecordState::decode(&json), Ok(RecordState::Ended(t)));
        let c = r#"{"v":2,"before":10,"at":9}"#;
        assert_eq!(Cutoff::decode(c).map(|c| c.before), Ok(10));
    }

    #[test]
    fn corrupt_and_foreign_versions_are_told_apart() {
        let json = Value::Record(record()).to_json();
        let v1 = json.replace("\"v\":2", "\"v\":1");
        assert_eq!(RecordState::decode(&v1), Err(RejectReason::RecordVersion));
        let v1_shape = r#"{"v":1,"user_id":"a","created_at":1,"last_seen_at":1,"idle_timeout_ms":1,"absolute_deadline":2,"generation":0}"#;
        assert_eq!(
            RecordState::decode(v1_shape),
            Err(RejectReason::RecordVersion)
        );
        for bad in [
            "",
            "null",
            "[]",
            "{",
            "{\"v\":2}",
            "{\"v\":\"2\"}",
            "\u{0}",
            r#"{"v":2,"ended":"stolen","at":1}"#,
            &json.replace("\"alice\"", "5"),
            &json.replace("{\\\"role\\\":\\\"admin\\\"}", "[1]"),
        ] {
            assert_eq!(
                RecordState::decode(bad),
                Err(RejectReason::CorruptRecord),
                "{bad:?}"
            );
        }
        for bad in [
            "",
            "7",
            r#"{"v":1,"before":1,"at":1}"#,
            r#"{"v":2,"before":-1,"at":1}"#,
        ] {
            assert_eq!(
                Cutoff::decode(bad),
                Err(RejectReason::CorruptCutoff),
                "{bad:?}"
            );
        }
    }

    #[test]
    fn ttl_never_below_kv_minimum() {
        assert_eq!(ttl_until(43_201_000, 43_201_000 - 120_500), 121);
        assert_eq!(ttl_until(43_201_000, 43_201_000 - 1), 60);
        assert_eq!(ttl_until(43_201_000, u64::MAX), 60);
    }

    #[test]
    fn user_agent_summary_is_bounded_and_printable() {
        let ua = format!("Mozilla\r\n{}", "x".repeat(500));
        let s = summarize_user_agent(&ua);
        assert_eq!(s.chars().count(), MAX_USER_AGENT_LEN);
        assert!(!s.contains('\r'));
    }
}
