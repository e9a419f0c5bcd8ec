//! The server-side session record, as stored in KV.

use serde::{Deserialize, Serialize};

use crate::RejectReason;

/// The record format version this build writes and reads.
pub const RECORD_VERSION: u32 = 1;

/// KV refuses `expirationTtl` below 60 seconds.
pub const MIN_KV_TTL_SECS: u64 = 60;

/// Longest user-agent summary kept, in characters.
pub const MAX_USER_AGENT_LEN: usize = 128;

/// The authority on a session: stored under `s:<handle>` as JSON. It never holds the session ID.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Record {
    /// Format version ([`RECORD_VERSION`]).
    pub v: u32,
    /// The user the session belongs to.
    pub user_id: String,
    /// Login time (unix ms); rotation keeps it.
    pub created_at: u64,
    /// Last refresh written back (unix ms); throttled by the policy's touch interval.
    pub last_seen_at: u64,
    /// The idle timeout the session was created with (ms).
    pub idle_timeout_ms: u64,
    /// The end of the session's life (unix ms); never moved later.
    pub absolute_deadline: u64,
    /// Rotation count.
    pub generation: u32,
    /// Set when the session was revoked (a tombstone).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub revoked_at: Option<u64>,
    /// Set when the session's ID was replaced by rotation (a tombstone).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rotated_at: Option<u64>,
    /// A short summary of the client's User-Agent, for a devices list.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_agent: Option<String>,
}

#[derive(Deserialize)]
struct VersionOnly {
    v: u32,
}

impl Record {
    /// Parses stored JSON. Unknown versions give [`RejectReason::RecordVersion`], anything else
    /// unreadable [`RejectReason::CorruptRecord`].
    pub fn from_json(text: &str) -> Result<Self, RejectReason> {
        match serde_json::from_str::<VersionOnly>(text) {
            Ok(VersionOnly { v }) if v != RECORD_VERSION => {
                return Err(RejectReason::RecordVersion)
            }
            Ok(_) => {}
            // `deny_unknown_fields` is not on VersionOnly, so failure here means not an object
            // with a numeric `v`.
            Err(_) => return Err(RejectReason::CorruptRecord),
        }
        serde_json::from_str(text).map_err(|_| RejectReason::CorruptRecord)
    }

    /// The JSON to store.
    pub fn to_json(&self) -> String {
        // A struct of strings and integers always serialises.
        serde_json::to_string(self).unwrap_or_default()
    }

    /// The `expirationTtl` to store it with: the time left to the absolute deadline, rounded up,
    /// never below KV's 60-second minimum. Expiry is still checked on every read.
    pub fn kv_ttl_secs(&self, now: u64) -> u64 {
        ttl_until(self.absolute_deadline, now)
    }
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

/// What a user index entry (`u:<user hash>:<handle>`) carries as KV metadata and value, so a
/// devices list needs one `list` and no per-session reads.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct IndexEntry {
    /// Login time.
    pub created_at: u64,
    /// Last refresh written back.
    pub last_seen_at: u64,
    /// End of the session's life.
    pub absolute_deadline: u64,
    /// User-Agent summary.
    #[serde(default)]
    pub user_agent: String,
}

impl IndexEntry {
    /// The index entry describing `record`.
    pub fn of(record: &Record) -> Self {
        Self {
            created_at: record.created_at,
            last_seen_at: record.last_seen_at,
            absolute_deadline: record.absolute_deadline,
            user_agent: record.user_agent.clone().unwrap_or_default(),
        }
    }

    /// The JSON to store.
    pub fn to_json(&self) -> String {
        serde_json::to_string(self).unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record() -> Record {
        Record {
            v: 1,
            user_id: "alice".into(),
            created_at: 1_000,
            last_seen_at: 2_000,
            idle_timeout_ms: 1_800_000,
            absolute_deadline: 43_201_000,
            generation: 0,
            revoked_at: None,
            rotated_at: None,
            user_agent: Some("Firefox".into()),
        }
    }

    #[test]
    fn round_trips() {
        let r = record();
        assert_eq!(Record::from_json(&r.to_json()), Ok(r));
    }

    #[test]
    fn corrupt_and_foreign_versions_are_told_apart() {
        let v2 = record().to_json().replace("\"v\":1", "\"v\":2");
        assert_eq!(Record::from_json(&v2), Err(RejectReason::RecordVersion));
        for bad in [
            "",
            "null",
            "[]",
            "{",
            "{\"v\":1}",
            "{\"v\":\"1\"}",
            "\u{0}",
            &record().to_json().replace("\"alice\"", "5"),
            &record().to_json().replace("}", ",\"extra\":1}"),
        ] {
            assert_eq!(
                Record::from_json(bad),
                Err(RejectReason::CorruptRecord),
                "{bad:?}"
            );
        }
    }

    #[test]
    fn ttl_never_below_kv_minimum() {
        let r = record();
        assert_eq!(r.kv_ttl_secs(43_201_000 - 120_500), 121);
        assert_eq!(r.kv_ttl_secs(43_201_000 - 1), 60);
        assert_eq!(r.kv_ttl_secs(u64::MAX), 60);
    }

    #[test]
    fn user_agent_summary_is_bounded_and_printable() {
        let ua = format!("Mozilla\r\n{}", "x".repeat(500));
        let s = summarize_user_agent(&ua);
        assert_eq!(s.chars().count(), MAX_USER_AGENT_LEN);
        assert!(!s.contains('\r'));
    }
}
