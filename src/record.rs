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
//! The host hands each stored value over as the JSON text it read (a [`Source`]); the core parses
//! it with its own reader (`src/json.rs`) and checks its shape. Corrupt values and values of
//! another version fail closed; fields this version does not know are ignored, so additions
//! within v2 stay readable. Integers are read exactly (no fraction, no exponent, within `u64`).

use crate::id::Lineage;
use crate::json::{self, Json, Object, ObjectWriter};
use crate::RejectReason;
use alloc::{borrow::ToOwned, string::String};

/// The store format version this build writes and reads.
pub const STORE_VERSION: u32 = 2;

/// KV refuses `expirationTtl` below 60 seconds.
pub const MIN_KV_TTL_SECS: u64 = 60;

/// Longest user-agent summary kept, in characters.
pub const MAX_USER_AGENT_LEN: usize = 128;

/// How long a per-user cutoff is kept: no session lives longer than 400 days.
pub const USER_CUTOFF_TTL_SECS: u64 = 400 * 24 * 3600;

/// A stored value as the host read it: its JSON text, before the core checks its shape.
pub trait Source {
    /// The stored JSON text.
    fn json(&self) -> &str;
}

impl Source for str {
    fn json(&self) -> &str {
        self
    }
}

impl Source for String {
    fn json(&self) -> &str {
        self
    }
}

/// Parses `source` and reads it as an object with `read`.
fn read_object<S: Source + ?Sized, T>(
    source: &S,
    read: impl FnOnce(Object<'_, '_>) -> Option<T>,
) -> Option<T> {
    json::parse(source.json())?.object().and_then(read)
}

/// A lineage field.
fn lineage(value: &Json<'_>) -> Option<Lineage> {
    value.as_str().and_then(Lineage::parse)
}

/// A live session: written once at creation under `s:<handle>`, never rewritten, later only
/// replaced by a [`Tombstone`]. It never holds the session ID.
#[derive(Clone, Debug, PartialEq, Eq)]
#[cfg_attr(not(target_arch = "wasm32"), derive(serde::Serialize))]
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
    #[cfg_attr(
        not(target_arch = "wasm32"),
        serde(skip_serializing_if = "Option::is_none")
    )]
    pub data: Option<String>,
    /// A short summary of the client's User-Agent, for a devices list.
    #[cfg_attr(
        not(target_arch = "wasm32"),
        serde(skip_serializing_if = "Option::is_none")
    )]
    pub user_agent: Option<String>,
}

/// Why a session record was ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(
    not(target_arch = "wasm32"),
    derive(serde::Serialize),
    serde(rename_all = "snake_case")
)]
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

    /// The stored name.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Revoked => "revoked",
            Self::Rotated => "rotated",
        }
    }

    fn parse(value: &Json<'_>) -> Option<Self> {
        match value.as_str()? {
            "revoked" => Some(Self::Revoked),
            "rotated" => Some(Self::Rotated),
            _ => None,
        }
    }
}

/// What replaces a record when its session ends.
#[derive(Clone, Debug, PartialEq, Eq)]
#[cfg_attr(not(target_arch = "wasm32"), derive(serde::Serialize))]
pub struct Tombstone {
    /// Format version.
    pub v: u32,
    /// Why the session ended.
    pub ended: Ended,
    /// When (unix ms).
    pub at: u64,
}

/// A revocation cutoff: sessions created before `before` are refused.
#[derive(Clone, Debug, PartialEq, Eq)]
#[cfg_attr(not(target_arch = "wasm32"), derive(serde::Serialize))]
pub struct Cutoff {
    /// Format version.
    pub v: u32,
    /// Sessions created strictly before this (unix ms) are refused.
    pub before: u64,
    /// When it was written (unix ms).
    pub at: u64,
    /// An "other sessions" cutoff (`o:`) spares the caller's own login (ignored anywhere else).
    #[cfg_attr(
        not(target_arch = "wasm32"),
        serde(skip_serializing_if = "Option::is_none")
    )]
    pub keep: Option<Lineage>,
}

/// When a session was last refreshed (`t:` keys, value and metadata).
#[derive(Clone, Debug, PartialEq, Eq)]
#[cfg_attr(not(target_arch = "wasm32"), derive(serde::Serialize))]
pub struct Touch {
    /// Format version.
    pub v: u32,
    /// Unix ms.
    pub last_seen_at: u64,
}

/// A user index entry (`u:` keys, value and metadata): what a devices list shows, so a listing
/// needs no per-session reads.
#[derive(Clone, Debug, PartialEq, Eq)]
#[cfg_attr(not(target_arch = "wasm32"), derive(serde::Serialize))]
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
    pub user_agent: String,
}

/// Any value this library writes.
#[derive(Clone, Debug, PartialEq, Eq)]
#[cfg_attr(not(target_arch = "wasm32"), derive(serde::Serialize), serde(untagged))]
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

impl Value {
    /// The JSON text to store: the same bytes as `serde_json` and `JSON.stringify` write.
    pub fn to_json(&self) -> String {
        let mut out = String::new();
        self.write_json(&mut out);
        out
    }

    /// Appends [`to_json`](Self::to_json)'s text to `out`.
    pub fn write_json(&self, out: &mut String) {
        let mut o = ObjectWriter::new(out);
        match self {
            Self::Record(r) => {
                o.u64("v", r.v.into())
                    .str("user_id", &r.user_id)
                    .u64("created_at", r.created_at)
                    .u64("absolute_deadline", r.absolute_deadline)
                    .u64("idle_timeout_ms", r.idle_timeout_ms)
                    .u64("generation", r.generation.into())
                    .str("lineage", &r.lineage.text());
                if let Some(data) = &r.data {
                    o.str("data", data);
                }
                if let Some(user_agent) = &r.user_agent {
                    o.str("user_agent", user_agent);
                }
            }
            Self::Tombstone(t) => {
                o.u64("v", t.v.into())
                    .str("ended", t.ended.as_str())
                    .u64("at", t.at);
            }
            Self::Cutoff(c) => {
                o.u64("v", c.v.into())
                    .u64("before", c.before)
                    .u64("at", c.at);
                if let Some(keep) = &c.keep {
                    o.str("keep", &keep.text());
                }
            }
            Self::Touch(t) => {
                o.u64("v", t.v.into()).u64("last_seen_at", t.last_seen_at);
            }
            Self::Index(e) => {
                o.u64("v", e.v.into())
                    .str("lineage", &e.lineage.text())
                    .u64("created_at", e.created_at)
                    .u64("absolute_deadline", e.absolute_deadline)
                    .str("user_agent", &e.user_agent);
            }
        }
        o.end();
    }
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
        const CORRUPT: RejectReason = RejectReason::CorruptRecord;
        let value = json::parse(source.json()).ok_or(CORRUPT)?;
        let o = value.object().ok_or(CORRUPT)?;
        let v = o.u32("v").ok_or(CORRUPT)?;
        if v != STORE_VERSION {
            return Err(RejectReason::RecordVersion);
        }
        if o.get("ended").map_err(|_| CORRUPT)?.is_some() {
            return Ok(Self::Ended(Tombstone {
                v,
                ended: o.req("ended", Ended::parse).ok_or(CORRUPT)?,
                at: o.u64("at").ok_or(CORRUPT)?,
            }));
        }
        let text = |name| o.opt_str(name).map(|s| s.map(str::to_owned));
        let record = Record {
            v,
            user_id: o.str("user_id").ok_or(CORRUPT)?.to_owned(),
            created_at: o.u64("created_at").ok_or(CORRUPT)?,
            absolute_deadline: o.u64("absolute_deadline").ok_or(CORRUPT)?,
            idle_timeout_ms: o.u64("idle_timeout_ms").ok_or(CORRUPT)?,
            generation: o.u32("generation").ok_or(CORRUPT)?,
            lineage: o.req("lineage", lineage).ok_or(CORRUPT)?,
            data: text("data").map_err(|_| CORRUPT)?,
            user_agent: text("user_agent").map_err(|_| CORRUPT)?,
        };
        if record.data.as_deref().is_some_and(|d| !valid_data(d)) {
            return Err(CORRUPT);
        }
        Ok(Self::Live(record))
    }
}

impl Cutoff {
    /// Checks a stored cutoff; anything but a v2 cutoff is [`RejectReason::CorruptCutoff`].
    pub fn decode<S: Source + ?Sized>(source: &S) -> Result<Self, RejectReason> {
        read_object(source, |o| {
            Some(Self {
                v: o.u32("v").filter(|v| *v == STORE_VERSION)?,
                before: o.u64("before")?,
                at: o.u64("at")?,
                keep: o.opt("keep", lineage).ok()?,
            })
        })
        .ok_or(RejectReason::CorruptCutoff)
    }
}

impl IndexEntry {
    /// Reads an index entry's metadata; `None` for anything else.
    pub fn decode<S: Source + ?Sized>(source: &S) -> Option<Self> {
        read_object(source, |o| {
            Some(Self {
                v: o.u32("v").filter(|v| *v == STORE_VERSION)?,
                lineage: o.req("lineage", lineage)?,
                created_at: o.u64("created_at")?,
                absolute_deadline: o.u64("absolute_deadline")?,
                user_agent: o.opt_str("user_agent").ok()?.unwrap_or_default().to_owned(),
            })
        })
    }
}

impl Touch {
    /// Reads a last-seen entry's metadata; `None` for anything else.
    pub fn decode<S: Source + ?Sized>(source: &S) -> Option<Self> {
        read_object(source, |o| {
            Some(Self {
                v: o.u32("v").filter(|v| *v == STORE_VERSION)?,
                last_seen_at: o.u64("last_seen_at")?,
            })
        })
    }
}

/// Largest session data, in bytes of JSON.
pub const MAX_DATA_LEN: usize = 1024;

/// Session data is the JSON text of an object, at most [`MAX_DATA_LEN`] bytes.
///
/// Native builds parse it fully; the wasm build trusts the host's `JSON.stringify` for the syntax
/// (so the fast path, which checks the data of every envelope it opens, parses nothing) and
/// checks the rest, so both accept exactly what `JSON.stringify` of an object produces.
pub fn valid_data(data: &str) -> bool {
    data.len() <= MAX_DATA_LEN && data.starts_with('{') && data.ends_with('}') && json_syntax(data)
}

#[cfg(not(target_arch = "wasm32"))]
fn json_syntax(data: &str) -> bool {
    json::parse(data).is_some()
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
    fn writes_what_serde_writes_byte_for_byte() {
        let mut odd = record();
        odd.user_id = "a\"b\\c\n\u{1}\u{7f}é\u{2028}😀".into();
        odd.data = Some(r#"{"q":"\"\\\u0001"}"#.into());
        odd.user_agent = None;
        let values = [
            Value::Record(record()),
            Value::Record(odd),
            Value::Tombstone(Tombstone {
                v: 2,
                ended: Ended::Revoked,
                at: u64::MAX,
            }),
            Value::Cutoff(Cutoff {
                v: 2,
                before: 10,
                at: 9,
                keep: Some(Lineage::from_bytes([7; 16])),
            }),
            Value::Cutoff(Cutoff {
                v: 2,
                before: 10,
                at: 9,
                keep: None,
            }),
            Value::Touch(Touch {
                v: 2,
                last_seen_at: 5,
            }),
            Value::Index(IndexEntry {
                v: 2,
                lineage: Lineage::from_bytes([1; 16]),
                created_at: 1,
                absolute_deadline: 2,
                user_agent: "\t".into(),
            }),
        ];
        for value in values {
            assert_eq!(value.to_json(), serde_json::to_string(&value).unwrap());
        }
    }

    #[test]
    fn decoding_is_strict_where_it_matters() {
        let json = Value::Record(record()).to_json();
        // Unknown fields are ignored, whitespace allowed.
        let extra = json.replacen('{', "{ \"later\": [1, {\"x\": null}], ", 1);
        assert_eq!(RecordState::decode(&extra), Ok(RecordState::Live(record())));
        for bad in [
            json.replace("\"created_at\":1000", "\"created_at\":1000.0"),
            json.replace("\"created_at\":1000", "\"created_at\":1e3"),
            json.replace("\"created_at\":1000", "\"created_at\":-1000"),
            json.replace("\"created_at\":1000", "\"created_at\":18446744073709551616"),
            json.replace("\"generation\":0", "\"generation\":4294967296"),
            json.replace(
                "\"user_id\":\"alice\"",
                "\"user_id\":\"alice\",\"user_id\":\"bob\"",
            ),
            json.replace("\"alice\"", "\"\\ud800\""),
            json.replace("\"alice\"", "null"),
            json.clone() + "x",
        ] {
            assert_eq!(
                RecordState::decode(&bad),
                Err(RejectReason::CorruptRecord),
                "{bad}"
            );
        }
        let escaped = json.replace("\"alice\"", "\"\\u0061lice\"");
        assert_eq!(
            RecordState::decode(&escaped),
            Ok(RecordState::Live(record()))
        );
        assert_eq!(
            Cutoff::decode(r#"{"v":2,"before":10,"at":9,"keep":null}"#).map(|c| c.keep),
            Ok(None)
        );
        assert_eq!(
            Cutoff::decode(r#"{"v":2,"before":10,"at":9,"keep":"nope"}"#),
            Err(RejectReason::CorruptCutoff)
        );
        assert_eq!(
            Touch::decode(r#"{"v":2,"last_seen_at":5}"#),
            Some(Touch {
                v: 2,
                last_seen_at: 5
            })
        );
        assert_eq!(Touch::decode(r#"{"v":3,"last_seen_at":5}"#), None);
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
