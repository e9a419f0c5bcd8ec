//! The revocation hub's log, as the core sees it: what each revocation appends, how an isolate
//! applies what it pulls, and when it must stop trusting its memory because the hub is out of
//! reach. The hub itself (a Durable Object with SQLite storage) only stores and numbers entries;
//! every decision about them is made here.
//!
//! Bound: with a hub, another isolate refuses a revoked session within its poll interval plus one
//! hub round trip, instead of envelope lifetime + KV propagation.

use crate::id::Lineage;
use crate::json::{self, Json, Object, ObjectWriter};
use crate::record::Source;
use crate::{RejectReason, Revocations, SessionHandle};
use alloc::{borrow::ToOwned, string::String, vec::Vec};

/// How many missed poll intervals make the hub "out of reach" (the isolate then reads the record
/// on every request until a pull succeeds again).
pub const HUB_MISSED_INTERVALS: u64 = 3;

/// Most entries a pull returns in one page; a burst is pulled page by page.
pub const HUB_PAGE: usize = 500;

/// What a revocation tells every isolate.
#[derive(Clone, Debug, PartialEq, Eq)]
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
    /// Every session of a user created before `before`, except those of the login `keep` when
    /// given ("log out my other sessions").
    User {
        /// The user.
        user_id: String,
        /// Unix ms.
        before: u64,
        /// The caller's own login (lineage, base64url), spared.
        keep: Option<String>,
    },
    /// Every session created before `before`.
    Before {
        /// Unix ms.
        before: u64,
    },
}

/// One entry to append: a revocation, when it was made, and until when isolates must remember it
/// (afterwards every envelope it could refuse has expired and the store refuses the rest).
///
/// On the wire it is one flat JSON object, `{ seq, kind, handle | lineage | user_id, before,
/// keep, at, until }` with `kind` one of `session`, `login`, `user`, `before` (flat, so the wasm
/// build needs no buffering deserialiser for tagged enums).
#[derive(Clone, Debug, PartialEq, Eq)]
#[cfg_attr(
    not(target_arch = "wasm32"),
    derive(serde::Serialize),
    serde(into = "WireEntry")
)]
pub struct HubEntry {
    /// The sequence number the hub gave it (0 before it is appended).
    pub seq: u64,
    /// What is revoked.
    pub revocation: HubRevocation,
    /// When (unix ms).
    pub at: u64,
    /// Until when it matters (unix ms); the hub prunes it after that.
    pub until: u64,
}

impl HubEntry {
    /// The entry's kind on the wire.
    fn kind(&self) -> &'static str {
        match self.revocation {
            HubRevocation::Session { .. } => "session",
            HubRevocation::Login { .. } => "login",
            HubRevocation::User { .. } => "user",
            HubRevocation::Before { .. } => "before",
        }
    }

    /// Appends the entry's wire JSON (`{ seq, kind, handle | lineage | user_id, before, keep,
    /// at, until }`, absent fields left out) to `out`.
    pub fn write_json(&self, out: &mut String) {
        let mut o = ObjectWriter::new(out);
        o.u64("seq", self.seq).str("kind", self.kind());
        match &self.revocation {
            HubRevocation::Session { handle } => {
                o.str("handle", handle);
            }
            HubRevocation::Login { lineage } => {
                o.str("lineage", lineage);
            }
            HubRevocation::User {
                user_id,
                before,
                keep,
            } => {
                o.str("user_id", user_id).u64("before", *before);
                if let Some(keep) = keep {
                    o.str("keep", keep);
                }
            }
            HubRevocation::Before { before } => {
                o.u64("before", *before);
            }
        }
        o.u64("at", self.at).u64("until", self.until);
        o.end();
    }

    /// Reads one wire entry; `None` when malformed or when it lacks the field its kind needs.
    fn read(value: &Json<'_>) -> Option<Self> {
        let o: Object<'_, '_> = value.object()?;
        let text = |name| o.str(name).map(str::to_owned);
        let revocation = match o.str("kind")? {
            "session" => HubRevocation::Session {
                handle: text("handle")?,
            },
            "login" => HubRevocation::Login {
                lineage: text("lineage")?,
            },
            "user" => HubRevocation::User {
                user_id: text("user_id")?,
                before: o.u64("before")?,
                keep: o.opt_str("keep").ok()?.map(str::to_owned),
            },
            "before" => HubRevocation::Before {
                before: o.u64("before")?,
            },
            _ => return None,
        };
        Some(Self {
            seq: o.opt("seq", Json::as_u64).ok()?.unwrap_or(0),
            revocation,
            at: o.u64("at")?,
            until: o.u64("until")?,
        })
    }
}

/// The wire form `serde` writes natively (tests and native hosts); the same bytes as
/// [`HubEntry::write_json`].
#[cfg(not(target_arch = "wasm32"))]
#[derive(serde::Serialize)]
struct WireEntry {
    seq: u64,
    kind: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    handle: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    lineage: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    user_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    before: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    keep: Option<String>,
    at: u64,
    until: u64,
}

#[cfg(not(target_arch = "wasm32"))]
impl From<HubEntry> for WireEntry {
    fn from(e: HubEntry) -> Self {
        let mut wire = WireEntry {
            seq: e.seq,
            kind: e.kind(),
            handle: None,
            lineage: None,
            user_id: None,
            before: None,
            keep: None,
            at: e.at,
            until: e.until,
        };
        match e.revocation {
            HubRevocation::Session { handle } => wire.handle = Some(handle),
            HubRevocation::Login { lineage } => wire.lineage = Some(lineage),
            HubRevocation::User {
                user_id,
                before,
                keep,
            } => {
                (wire.user_id, wire.before, wire.keep) = (Some(user_id), Some(before), keep);
            }
            HubRevocation::Before { before } => wire.before = Some(before),
        }
        wire
    }
}

/// A page the hub answered to a pull.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HubPage {
    /// Entries after the sequence number asked for, in order.
    pub entries: Vec<HubEntry>,
    /// The hub's newest sequence number.
    pub head: u64,
    /// The log's identity, drawn when the hub's storage was created: a different one means the
    /// log was reset and its numbers start again.
    pub log: String,
}

impl HubPage {
    /// Reads a page's JSON text (`{ entries, head, log }`); `None` for anything else, a single
    /// malformed entry included.
    pub fn decode<S: Source + ?Sized>(source: &S) -> Option<Self> {
        let value = json::parse(source.json())?;
        let o = value.object()?;
        let Json::Arr(entries) = o.get("entries").ok()?? else {
            return None;
        };
        Some(Self {
            entries: entries
                .iter()
                .map(HubEntry::read)
                .collect::<Option<Vec<_>>>()?,
            head: o.u64("head")?,
            log: o.opt_str("log").ok()?.unwrap_or_default().to_owned(),
        })
    }
}

/// An isolate's view of the hub: what it has applied and when it last heard from it.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct HubState {
    interval_ms: u64,
    seq: u64,
    head: u64,
    log: Option<String>,
    failing: bool,
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

    /// When the last pull succeeded (and caught up with the hub).
    pub fn last_ok(&self) -> Option<u64> {
        self.last_ok
    }

    /// The hub's newest sequence number, as of the last page pulled.
    pub fn head(&self) -> u64 {
        self.head
    }

    /// The poll interval in ms.
    pub fn interval_ms(&self) -> u64 {
        self.interval_ms
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

    /// Claims the pull due at `now`, if one is: returns the sequence number to pull after and
    /// counts the attempt from now, so concurrent requests do not pull too (they go on with what
    /// this isolate knows, which is at most an interval and a round trip old). A pull that is
    /// lost (cancelled with its request) is simply retried an interval later.
    pub fn claim(&mut self, now: u64) -> Option<u64> {
        if !self.due(now) {
            return None;
        }
        self.last_try = Some(now);
        Some(self.seq)
    }

    /// Claims a pull at `now` whether due or not.
    pub fn claim_now(&mut self, now: u64) -> u64 {
        self.last_try = Some(now);
        self.seq
    }

    /// Records a failed pull at `now`.
    pub fn failed(&mut self, now: u64) {
        self.last_try = Some(now);
        self.failing = true;
    }

    /// Whether the hub is out of reach and its last pull failed: what an operator's status shows.
    /// An isolate that is merely idle is not (its next request pulls before it judges anything).
    pub fn unreachable(&self, now: u64) -> bool {
        self.failing && self.out_of_reach(now)
    }

    /// Applies a pulled page to `revocations`; `now` is when the hub answered it (for a page
    /// shared through a cache, when it was pulled), so the next pull is due an interval after
    /// what the isolate knows, not after it looked. Returns whether more pages follow, and whether
    /// the revocation memory overflowed (the isolate went strict to make room). Entries at or
    /// before the last applied sequence number are skipped, so a repeated page changes nothing;
    /// a malformed page is a failed pull. Only the page that catches up with the hub's head
    /// counts as a successful pull: an isolate still paging through a burst knows less than
    /// the hub. Another log identity, or a head below what was applied on a page asked for
    /// after exactly that, means the hub's log was reset: everything is pulled again from the
    /// start.
    pub fn apply<S: Source + ?Sized>(
        &mut self,
        page: &S,
        revocations: &mut Revocations,
        now: u64,
    ) -> Result<(bool, bool), RejectReason> {
        self.apply_pulled(page, self.seq, revocations, now)
    }

    /// [`apply`](Self::apply) for a page pulled after `after`. Two pulls of one isolate can be
    /// in flight at once (a forced one beside a due one, a cache hit beside a slow hub): a page
    /// asked for before the isolate moved on, whose head is below what it applied since, is
    /// stale, not a reset, and changes nothing.
    pub fn apply_pulled<S: Source + ?Sized>(
        &mut self,
        page: &S,
        after: u64,
        revocations: &mut Revocations,
        now: u64,
    ) -> Result<(bool, bool), RejectReason> {
        let Some(page) = HubPage::decode(page) else {
            self.failed(now);
            return Err(RejectReason::StoreUnavailable);
        };
        self.last_try = Some(now);
        let same_log = self.log.as_ref().map_or(true, |log| *log == page.log);
        if same_log && page.head < self.seq && after != self.seq {
            return Ok((false, false));
        }
        if page.head < self.seq || !same_log {
            self.seq = 0;
            self.head = page.head;
            self.log = Some(page.log);
            return Ok((true, false));
        }
        self.log = Some(page.log.clone());
        let mut overflowed = false;
        for entry in &page.entries {
            if entry.seq > self.seq && entry.seq <= page.head {
                overflowed |= entry.apply(revocations, now);
                self.seq = entry.seq;
            }
        }
        self.head = page.head;
        // A page that is not full is the end of the log: what lies between was pruned.
        if page.entries.len() < HUB_PAGE {
            self.seq = page.head;
        }
        let more = self.seq < page.head;
        if !more {
            self.last_ok = Some(now);
            self.failing = false;
        }
        Ok((more, overflowed))
    }
}

impl HubEntry {
    /// Makes `revocations` refuse what this entry names, until the entry's `until`. Returns
    /// true when the memory overflowed. A malformed target is skipped (the store still refuses
    /// it at the next refresh).
    fn apply(&self, revocations: &mut Revocations, now: u64) -> bool {
        if self.until <= now {
            return false;
        }
        match &self.revocation {
            HubRevocation::Session { handle } => SessionHandle::parse(handle).is_ok_and(|h| {
                revocations.revoke_session(h, RejectReason::Rotated, self.until, now)
            }),
            HubRevocation::Login { lineage } => Lineage::parse(lineage).is_some_and(|l| {
                revocations.revoke_lineage(l, RejectReason::Revoked, self.until, now)
            }),
            HubRevocation::User {
                user_id,
                before,
                keep,
            } => {
                let keep = match keep.as_deref().map(Lineage::parse) {
                    None => None,
                    Some(Some(lineage)) => Some(lineage),
                    // An unreadable exception spares nothing.
                    Some(None) => None,
                };
                revocations.revoke_user_except(user_id, *before, keep, self.until, now)
            }
            HubRevocation::Before { before } => {
                revocations.revoke_issued_before(*before);
                false
            }
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

    /// Found by the stateful fuzz target: a native host may run the core at any `u64` time, and
    /// a page of what it wrote must read back (a reader capped at 2^53 refused it).
    #[test]
    fn entries_read_back_at_any_time() {
        let mut e = entry(
            1,
            HubRevocation::User {
                user_id: "u".into(),
                before: u64::MAX - 1,
                keep: None,
            },
        );
        e.at = u64::MAX - 1;
        e.until = u64::MAX;
        let mut wire = String::new();
        e.write_json(&mut wire);
        let text = format!(r#"{{"entries":[{wire}],"head":1,"log":"l"}}"#);
        let read = HubPage::decode(text.as_str()).map(|p| p.entries);
        assert_eq!(read, Some(vec![e]));
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
                        keep: None,
                    },
                ),
            ],
            3,
        );
        assert_eq!(hub.apply(first.as_str(), &mut r, 10), Ok((false, false)));
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
        assert_eq!(hub.apply(second.as_str(), &mut r, 11), Ok((false, false)));
        assert_eq!(r.issued_before(), 500);
        // A repeated page changes nothing.
        assert_eq!(hub.apply(second.as_str(), &mut r, 12), Ok((false, false)));
        assert_eq!(hub.seq(), 4);
    }

    #[test]
    fn a_burst_is_pulled_page_by_page_and_a_reset_log_is_pulled_again() {
        let mut hub = HubState::new(5_000);
        let mut r = Revocations::default();
        let full: Vec<HubEntry> = (1..=HUB_PAGE as u64)
            .map(|seq| entry(seq, HubRevocation::Before { before: seq }))
            .collect();
        assert_eq!(
            hub.apply(page(&full, 600).as_str(), &mut r, 10),
            Ok((true, false))
        );
        assert_eq!(
            (hub.seq(), hub.last_ok()),
            (HUB_PAGE as u64, None),
            "not caught up yet"
        );
        assert!(hub.out_of_reach(10));
        // The rest of the log was pruned but for a few entries: a short page ends it.
        let tail = [entry(550, HubRevocation::Before { before: 550 })];
        assert_eq!(
            hub.apply(page(&tail, 600).as_str(), &mut r, 11),
            Ok((false, false))
        );
        assert_eq!((hub.seq(), hub.head(), hub.last_ok()), (600, 600, Some(11)));
        assert_eq!(r.issued_before(), 550);
        // The hub lost its log (a new object): start again from the beginning.
        assert_eq!(
            hub.apply(page(&[], 2).as_str(), &mut r, 12),
            Ok((true, false))
        );
        assert_eq!(hub.seq(), 0);
        let again = [entry(1, HubRevocation::Before { before: 700 })];
        assert_eq!(
            hub.apply(page(&again, 2).as_str(), &mut r, 13),
            Ok((false, false))
        );
        assert_eq!((hub.seq(), r.issued_before()), (2, 700));
        // A stale page (asked for after 0, answered before the isolate moved on to 2) is no
        // reset; the same head asked for after the current number is.
        assert_eq!(
            hub.apply_pulled(page(&[], 1).as_str(), 0, &mut r, 14),
            Ok((false, false))
        );
        assert_eq!(hub.seq(), 2);
        assert_eq!(
            hub.apply_pulled(page(&[], 1).as_str(), 2, &mut r, 14),
            Ok((true, false))
        );
        assert_eq!(hub.seq(), 0);
        assert_eq!(
            hub.apply(page(&again, 2).as_str(), &mut r, 14),
            Ok((false, false))
        );
        // A new log that already grew past our number is told apart by its identity.
        let other = r#"{"entries":[],"head":9,"log":"second"}"#;
        assert_eq!(hub.apply(other, &mut r, 14), Ok((true, false)));
        assert_eq!(hub.seq(), 0);
        assert_eq!(hub.apply(other, &mut r, 15), Ok((false, false)));
        assert_eq!(hub.seq(), 9);
    }

    #[test]
    fn an_unreachable_hub_makes_the_isolate_strict_after_three_intervals() {
        let mut hub = HubState::new(5_000);
        let mut r = Revocations::default();
        assert!(hub.out_of_reach(0), "no pull yet: strict");
        assert_eq!(
            hub.apply(page(&[], 0).as_str(), &mut r, 1_000),
            Ok((false, false))
        );
        assert!(!hub.out_of_reach(1_000));
        assert!(!hub.due(5_999) && hub.due(6_000));
        hub.failed(6_000);
        assert!(!hub.due(10_999) && hub.due(11_000));
        assert!(!hub.out_of_reach(15_999));
        assert!(hub.out_of_reach(16_000));
        assert!(
            hub.unreachable(16_000),
            "failing and out of reach: shown as unreachable"
        );
        // An idle isolate is stale but not unreachable: its next request pulls first.
        let mut idle = HubState::new(5_000);
        assert_eq!(
            idle.apply(page(&[], 0).as_str(), &mut r, 0),
            Ok((false, false))
        );
        assert!(idle.out_of_reach(60_000) && !idle.unreachable(60_000));
        assert!(!HubState::new(5_000).unreachable(0), "never tried");
        assert_eq!(
            hub.apply("not a page", &mut r, 17_000),
            Err(RejectReason::StoreUnavailable)
        );
        assert!(hub.out_of_reach(17_000));
        assert_eq!(
            hub.apply(page(&[], 0).as_str(), &mut r, 18_000),
            Ok((false, false))
        );
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
            Ok((false, false))
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
                keep: None,
            },
        );
        assert_eq!(
            serde_json::to_string(&e).unwrap(),
            r#"{"seq":7,"kind":"user","user_id":"a","before":3,"at":1000,"until":100000}"#
        );
    }
}
