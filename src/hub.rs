//! The revocation hub's log, as the core sees it: what each revocation appends, how an isolate
//! applies what it pulls, and when it must stop trusting its memory because the hub is out of
//! reach. The hub itself (a Durable Object with SQLite storage) only stores and numbers entries;
//! every decision about them is made here.
//!
//! Bound: with a hub, another isolate refuses a revoked session within its poll interval plus one
//! hub round trip, instead of envelope lifetime + KV propagation.

use serde::{Deserialize, Serialize};

use crate::id::Lineage;
use crate::record::Source;
use crate::{RejectReason, Revocations, SessionHandle};

/// How many missed poll intervals make the hub "out of reach" (the isolate then reads the record
/// on every request until a pull succeeds again).
pub const HUB_MISSED_INTERVALS: u64 = 3;

/// Most entries a pull returns in one page; a burst is pulled page by page.
pub const HUB_PAGE: usize = 500;

/// What a revocation tells every isolate.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum HubRevocation {
    /// One old ID, replaced by rotation.
    Session {
        /// Its handle.
        handle: String,
    },
    /// A login and every rotation of it (logout, `revokeSession`).
    Login {
        /// Its lineage (base64url).
        lineage: String,
    },
    /// Every session of a user created before `before`.
    User {
        /// The user.
        user_id: String,
        /// Unix ms.
        before: u64,
    },
    /// Every session created before `before`.
    Before {
        /// Unix ms.
        before: u64,
    },
}

/// One entry to append: a revocation, when it was made, and until when isolates must remember it
/// (afterwards every envelope it could refuse has expired and the store refuses the rest).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct HubEntry {
    /// The sequence number the hub gave it (0 before it is appended).
    #[serde(default)]
    pub seq: u64,
    /// What is revoked.
    #[serde(flatten)]
    pub revocation: HubRevocation,
    /// When (unix ms).
    pub at: u64,
    /// Until when it matters (unix ms); the hub prunes it after that.
    pub until: u64,
}

/// A page the hub answered to a pull.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
pub struct HubPage {
    /// Entries after the sequence number asked for, in order.
    pub entries: Vec<HubEntry>,
    /// The hub's newest sequence number.
    pub head: u64,
}

/// An isolate's view of the hub: what it has applied and when it last heard from it.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct HubState {
    interval_ms: u64,
    seq: u64,
    last_ok: Option<u64>,
    last_try: Option<u64>,
}

impl HubState {
    /// A hub polled at most once per `interval_ms`.
    pub fn new(interval_ms: u64) -> Self {
        Self {
            interval_ms,
            ..Self::default()
        }
    }

    /// The sequence number to pull after.
    pub fn seq(&self) -> u64 {
        self.seq
    }

    /// When the last pull succeeded.
    pub fn last_ok(&self) -> Option<u64> {
        self.last_ok
    }

    /// Whether a pull is due: never pulled, or the interval has passed since the last attempt.
    pub fn due(&self, now: u64) -> bool {
        self.last_try
            .map_or(true, |t| now.saturating_sub(t) >= self.interval_ms)
    }

    /// Whether the isolate must read the record on every request: it has never heard from the
    /// hub, or not for [`HUB_MISSED_INTERVALS`] intervals. Hub errors never turn into
    /// acceptances.
    pub fn out_of_reach(&self, now: u64) -> bool {
        match self.last_ok {
            None => true,
            Some(ok) => {
                now.saturating_sub(ok) >= self.interval_ms.saturating_mul(HUB_MISSED_INTERVALS)
            }
        }
    }

    /// Records a failed pull at `now`.
    pub fn failed(&mut self, now: u64) {
        self.last_try = Some(now);
    }

    /// Applies a pulled page to `revocations` and records the success. Returns whether more
    /// pages follow. Entries at or before the last applied sequence number are skipped, so a
    /// repeated page changes nothing; a malformed page is a failed pull.
    pub fn apply<S: Source + ?Sized>(
        &mut self,
        page: &S,
        revocations: &mut Revocations,
        now: u64,
    ) -> Result<bool, RejectReason> {
        let Some(page) = page.read_as::<HubPage>() else {
            self.failed(now);
            return Err(RejectReason::StoreUnavailable);
        };
        for entry in &page.entries {
            if entry.seq > self.seq {
                entry.apply(revocations, now);
                self.seq = entry.seq;
            }
        }
        self.last_try = Some(now);
        self.last_ok = Some(now);
        Ok(self.seq < page.head)
    }
}

impl HubEntry {
    /// Makes `revocations` refuse what this entry names, until the entry's `until`.
    fn apply(&self, revocations: &mut Revocations, now: u64) {
        if self.until <= now {
            return;
        }
        match &self.revocation {
            HubRevocation::Session { handle } => {
                if let Ok(handle) = SessionHandle::parse(handle) {
                    revocations.revoke_session(handle, RejectReason::Rotated, self.until, now);
                }
            }
            HubRevocation::Login { lineage } => {
                if let Some(lineage) = Lineage::parse(lineage) {
                    revocations.revoke_lineage(lineage, RejectReason::Revoked, self.until, now);
                }
            }
            HubRevocation::User { user_id, before } => {
                revocations.revoke_user(user_id, *before, self.until, now);
            }
            HubRevocation::Before { before } => revocations.revoke_issued_before(*before),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::SessionId;

    fn page(entries: &[HubEntry], head: u64) -> String {
        format!(
            r#"{{"entries":{},"head":{head}}}"#,
            serde_json::to_string(entries).unwrap()
        )
    }

    fn entry(seq: u64, revocation: HubRevocation) -> HubEntry {
        HubEntry {
            seq,
            revocation,
            at: 1_000,
            until: 100_000,
        }
    }

    #[test]
    fn entries_are_applied_once_and_in_order() {
        let handle = SessionId::from_bytes([1; 32]).handle();
        let lineage = Lineage::from_bytes([2; 16]);
        let mut hub = HubState::new(5_000);
        let mut r = Revocations::default();
        assert!(hub.due(0) && hub.out_of_reach(0));
        let first = page(
            &[
                entry(
                    1,
                    HubRevocation::Session {
                        handle: handle.to_string(),
                    },
                ),
                entry(
                    2,
                    HubRevocation::Login {
                        lineage: lineage.text(),
                    },
                ),
                entry(
                    3,
                    HubRevocation::User {
                        user_id: "alice".into(),
                        before: 900,
                    },
                ),
            ],
            4,
        );
        assert_eq!(hub.apply(first.as_str(), &mut r, 10), Ok(true));
        assert_eq!(hub.seq(), 3);
        let other = Lineage::from_bytes([9; 16]);
        assert_eq!(
            r.check(&handle, &other, "bob", 1, 20),
            Some(RejectReason::Rotated)
        );
        let h2 = SessionId::from_bytes([3; 32]).handle();
        assert_eq!(
            r.check(&h2, &lineage, "bob", 1, 20),
            Some(RejectReason::Revoked)
        );
        assert_eq!(
            r.check(&h2, &other, "alice", 899, 20),
            Some(RejectReason::Revoked)
        );
        assert_eq!(r.check(&h2, &other, "alice", 900, 20), None);
        let second = page(&[entry(4, HubRevocation::Before { before: 500 })], 4);
        assert_eq!(hub.apply(second.as_str(), &mut r, 11), Ok(false));
        assert_eq!(r.issued_before(), 500);
        // A repeated page changes nothing.
        assert_eq!(hub.apply(second.as_str(), &mut r, 12), Ok(false));
        assert_eq!(hub.seq(), 4);
    }

    #[test]
    fn an_unreachable_hub_makes_the_isolate_strict_after_three_intervals() {
        let mut hub = HubState::new(5_000);
        let mut r = Revocations::default();
        assert!(hub.out_of_reach(0), "no pull yet: strict");
        assert_eq!(hub.apply(page(&[], 0).as_str(), &mut r, 1_000), Ok(false));
        assert!(!hub.out_of_reach(1_000));
        assert!(!hub.due(5_999) && hub.due(6_000));
        hub.failed(6_000);
        assert!(!hub.due(10_999) && hub.due(11_000));
        assert!(!hub.out_of_reach(15_999));
        assert!(hub.out_of_reach(16_000));
        assert_eq!(
            hub.apply("not a page", &mut r, 17_000),
            Err(RejectReason::StoreUnavailable)
        );
        assert!(hub.out_of_reach(17_000));
        assert_eq!(hub.apply(page(&[], 0).as_str(), &mut r, 18_000), Ok(false));
        assert!(!hub.out_of_reach(18_000));
    }

    #[test]
    fn expired_and_malformed_entries_are_ignored() {
        let mut hub = HubState::new(5_000);
        let mut r = Revocations::default();
        let stale = HubEntry {
            until: 50,
            ..entry(1, HubRevocation::Before { before: 40 })
        };
        let bad = entry(
            2,
            HubRevocation::Session {
                handle: "not-a-handle".into(),
            },
        );
        assert_eq!(
            hub.apply(page(&[stale, bad], 2).as_str(), &mut r, 60),
            Ok(false)
        );
        assert_eq!(r.issued_before(), 0);
        assert_eq!(r.counts(), (0, 0));
        assert_eq!(hub.seq(), 2);
        for text in ["", "[]", r#"{"entries":[{"seq":1}],"head":1}"#] {
            assert!(hub.apply(text, &mut r, 70).is_err(), "{text:?}");
        }
    }

    #[test]
    fn entries_serialise_flat() {
        let e = entry(
            7,
            HubRevocation::User {
                user_id: "a".into(),
                before: 3,
            },
        );
        assert_eq!(
            serde_json::to_string(&e).unwrap(),
            r#"{"seq":7,"kind":"user","user_id":"a","before":3,"at":1000,"until":100000}"#
        );
    }
}
