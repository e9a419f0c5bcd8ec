//! The revocations an isolate holds in memory, so the fast path refuses them with no store read.

use alloc::{borrow::ToOwned, string::String, vec::Vec};
use core::borrow::Borrow;

use crate::id::Lineage;
use crate::{RejectReason, SessionHandle};

/// Most individually revoked sessions remembered at once.
pub const MAX_REVOKED_SESSIONS: usize = 10_000;

/// Most revoked users remembered at once.
pub const MAX_REVOKED_USERS: usize = 10_000;

/// In-memory revocation state of one isolate.
///
/// Each entry is kept until every envelope it could refuse has expired. The memory is bounded
/// but never forgets silently: when an entry must be dropped to make room before its time, the
/// isolate goes strict (every request reads its record) until that entry would have expired.
#[derive(Clone, Debug, Default)]
pub struct Revocations {
    sessions: Table<SessionHandle, (RejectReason, u64)>,
    lineages: Table<Lineage, (RejectReason, u64)>,
    users: Table<String, UserCutoff>,
    issued_before: u64,
    strict_until: u64,
}

/// A user's sessions created before `before` are refused until `until`, except those of the
/// login `keep` ("log out my other sessions").
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct UserCutoff {
    /// `revokeUser`: every session created before it.
    plain: u64,
    /// "Log out my other sessions": every session created before it but those of `keep`.
    others: u64,
    keep: Option<Lineage>,
    until: u64,
}

impl UserCutoff {
    /// Folds a revocation in. The two kinds are kept apart, as in the store (`c:` and `o:`), so
    /// an exception never spares what a plain cutoff refused. A plain cutoff only rises; of two
    /// exceptions the later cutoff wins, and at the same cutoff differing exceptions cancel out
    /// (the safe side: refuse both).
    fn merge(&mut self, before: u64, until: u64, keep: Option<Lineage>) {
        match keep {
            None => self.plain = self.plain.max(before),
            Some(_) if before > self.others => (self.others, self.keep) = (before, keep),
            Some(_) if before == self.others && keep != self.keep => self.keep = None,
            Some(_) => {}
        }
        self.until = self.until.max(until);
    }

    fn refuses(&self, lineage: &Lineage, created_at: u64) -> bool {
        created_at < self.plain || (created_at < self.others && self.keep.as_ref() != Some(lineage))
    }
}

/// A map kept as a vector sorted by key: lookups by binary search, and far less code in the
/// wasm module than a hash table and its hasher (the module builds without `std`). Inserting
/// shifts the entries after the new one; at the cap (10,000) that is a copy of under a megabyte,
/// and only revocations insert. Keys are hashes, lineages and user ids: none can be
/// chosen to slow a lookup down.
#[derive(Clone, Debug)]
struct Table<K, V>(Vec<(K, V)>);

impl<K, V> Default for Table<K, V> {
    fn default() -> Self {
        Self(Vec::new())
    }
}

impl<K: Ord, V> Table<K, V> {
    fn find<Q: Ord + ?Sized>(&self, key: &Q) -> Result<usize, usize>
    where
        K: Borrow<Q>,
    {
        self.0.binary_search_by(|(k, _)| k.borrow().cmp(key))
    }

    fn get<Q: Ord + ?Sized>(&self, key: &Q) -> Option<&V>
    where
        K: Borrow<Q>,
    {
        self.find(key)
            .ok()
            .and_then(|i| self.0.get(i))
            .map(|(_, v)| v)
    }

    fn len(&self) -> usize {
        self.0.len()
    }

    fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Applies `change` to `key`'s entry, made from `new` first when there is none.
    fn upsert(&mut self, key: K, new: V, change: impl FnOnce(&mut V)) {
        match self.find(&key) {
            Ok(i) => {
                if let Some((_, v)) = self.0.get_mut(i) {
                    change(v);
                }
            }
            Err(i) => {
                let mut v = new;
                change(&mut v);
                self.0.insert(i, (key, v));
            }
        }
    }
}

/// Makes room for `key` in `map` (kept to `cap` entries; `until` reads an entry's expiry):
/// expired entries go first; if none has expired, the one that expires first is dropped and
/// `strict_until` raised to its expiry. Returns true in that last case.
fn make_room<K: Ord, V>(
    map: &mut Table<K, V>,
    cap: usize,
    strict_until: &mut u64,
    key: &K,
    until: impl Fn(&V) -> u64,
    now: u64,
) -> bool {
    if map.len() < cap || map.find(key).is_ok() {
        return false;
    }
    map.0.retain(|(_, v)| until(v) > now);
    if map.len() < cap {
        return false;
    }
    let earliest = map
        .0
        .iter()
        .enumerate()
        .min_by_key(|(_, (_, v))| until(v))
        .map(|(i, (_, v))| (i, until(v)));
    let Some((at, dropped)) = earliest else {
        return false;
    };
    map.0.remove(at);
    *strict_until = (*strict_until).max(dropped);
    true
}

/// Inserts (or extends) an entry refused with `reason` until `until`; see [`make_room`].
fn insert_bounded<K: Ord>(
    map: &mut Table<K, (RejectReason, u64)>,
    strict_until: &mut u64,
    key: K,
    (reason, until): (RejectReason, u64),
    now: u64,
) -> bool {
    let overflowed = make_room(map, MAX_REVOKED_SESSIONS, strict_until, &key, |e| e.1, now);
    map.upsert(key, (reason, 0), |entry| {
        *entry = (reason, entry.1.max(until));
    });
    overflowed
}

impl Revocations {
    /// Refuses `handle` until `forget_after` (unix ms) with `reason` (revoked or rotated).
    /// Returns true when the memory was full and the isolate went strict to make room.
    pub fn revoke_session(
        &mut self,
        handle: SessionHandle,
        reason: RejectReason,
        forget_after: u64,
        now: u64,
    ) -> bool {
        insert_bounded(
            &mut self.sessions,
            &mut self.strict_until,
            handle,
            (reason, forget_after),
            now,
        )
    }

    /// Refuses every session of `lineage` (a login and all its rotations) until `forget_after`.
    /// Returns true when the memory was full and the isolate went strict to make room.
    pub fn revoke_lineage(
        &mut self,
        lineage: Lineage,
        reason: RejectReason,
        forget_after: u64,
        now: u64,
    ) -> bool {
        insert_bounded(
            &mut self.lineages,
            &mut self.strict_until,
            lineage,
            (reason, forget_after),
            now,
        )
    }

    /// Refuses every session of `user_id` created before `before`, until `forget_after`.
    /// Returns true when the memory was full and the isolate went strict to make room.
    pub fn revoke_user(&mut self, user_id: &str, before: u64, forget_after: u64, now: u64) -> bool {
        self.revoke_user_except(user_id, before, None, forget_after, now)
    }

    /// As [`revoke_user`](Self::revoke_user), sparing the sessions of the login `keep` (the
    /// caller's own, for "log out my other sessions"). A later cutoff replaces an earlier one
    /// with its exception.
    pub fn revoke_user_except(
        &mut self,
        user_id: &str,
        before: u64,
        keep: Option<Lineage>,
        forget_after: u64,
        now: u64,
    ) -> bool {
        let user = user_id.to_owned();
        let overflowed = make_room(
            &mut self.users,
            MAX_REVOKED_USERS,
            &mut self.strict_until,
            &user,
            |e| e.until,
            now,
        );
        let none = UserCutoff {
            plain: 0,
            others: 0,
            keep: None,
            until: 0,
        };
        self.users.upsert(user, none, |cutoff| {
            cutoff.merge(before, forget_after, keep)
        });
        overflowed
    }

    /// Refuses every session created before `before` (never moves the cutoff back).
    pub fn revoke_issued_before(&mut self, before: u64) {
        self.issued_before = self.issued_before.max(before);
    }

    /// The global cutoff: sessions created before it are refused.
    pub fn issued_before(&self) -> u64 {
        self.issued_before
    }

    /// Whether an entry was dropped before its time, so every request must read its record.
    pub fn strict(&self, now: u64) -> bool {
        now < self.strict_until
    }

    /// How many sessions (by handle or by lineage) and users are remembered.
    pub fn counts(&self) -> (usize, usize) {
        (self.sessions.len() + self.lineages.len(), self.users.len())
    }

    /// Why a session is refused, if it is.
    pub fn check(
        &self,
        handle: &SessionHandle,
        lineage: &Lineage,
        user_id: &str,
        created_at: u64,
        now: u64,
    ) -> Option<RejectReason> {
        self.check_lazy(|| handle.clone(), lineage, user_id, created_at, now)
    }

    /// [`check`](Self::check) with the handle computed only when a handle is remembered (it
    /// costs a SHA-256: the fast path mostly finds nothing to look up).
    pub fn check_lazy(
        &self,
        handle: impl FnOnce() -> SessionHandle,
        lineage: &Lineage,
        user_id: &str,
        created_at: u64,
        now: u64,
    ) -> Option<RejectReason> {
        // Empty maps are the common case on the fast path: skip hashing into them.
        let live = |entry: Option<&(RejectReason, u64)>| match entry {
            Some((reason, until)) if *until > now => Some(*reason),
            _ => None,
        };
        if created_at < self.issued_before {
            return Some(RejectReason::Revoked);
        }
        if !self.users.is_empty()
            && self
                .users
                .get(user_id)
                .is_some_and(|cutoff| cutoff.refuses(lineage, created_at))
        {
            return Some(RejectReason::Revoked);
        }
        let by_lineage = if self.lineages.is_empty() {
            None
        } else {
            live(self.lineages.get(lineage))
        };
        by_lineage.or_else(|| {
            if self.sessions.is_empty() {
                None
            } else {
                live(self.sessions.get(&handle()))
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::SessionId;

    const L: Lineage = Lineage::from_bytes([3; 16]);

    #[test]
    fn each_scope_refuses_what_it_names() {
        let h1 = SessionId::from_bytes([1; 32]).handle();
        let h2 = SessionId::from_bytes([2; 32]).handle();
        let mut r = Revocations::default();
        assert_eq!(r.check(&h1, &L, "a", 10, 0), None);
        r.revoke_session(h1.clone(), RejectReason::Rotated, 100, 0);
        assert_eq!(r.check(&h1, &L, "a", 10, 99), Some(RejectReason::Rotated));
        assert_eq!(r.check(&h1, &L, "a", 10, 100), None);
        assert_eq!(r.check(&h2, &L, "a", 10, 0), None);
        r.revoke_user("a", 20, 1_000, 0);
        assert_eq!(r.check(&h2, &L, "a", 19, 0), Some(RejectReason::Revoked));
        assert_eq!(r.check(&h2, &L, "a", 20, 0), None);
        assert_eq!(r.check(&h2, &L, "b", 19, 0), None);
        r.revoke_issued_before(50);
        r.revoke_issued_before(40);
        assert_eq!(r.issued_before(), 50);
        assert_eq!(r.check(&h2, &L, "b", 49, 0), Some(RejectReason::Revoked));
        assert_eq!(r.check(&h2, &L, "b", 50, 0), None);
    }

    #[test]
    fn full_memory_goes_strict_instead_of_forgetting() {
        let mut r = Revocations::default();
        let handle = |i: u64| {
            let mut bytes = [0u8; 32];
            bytes[..8].copy_from_slice(&i.to_be_bytes());
            SessionId::from_bytes(bytes).handle()
        };
        for i in 0..MAX_REVOKED_SESSIONS as u64 {
            assert!(!r.revoke_session(handle(i), RejectReason::Revoked, 1_000 + i, 0));
        }
        assert!(!r.strict(0));
        // Full of live entries: the earliest is dropped and the isolate reads records until then.
        assert!(r.revoke_session(handle(u64::MAX), RejectReason::Revoked, 5_000, 0));
        assert_eq!(r.sessions.len(), MAX_REVOKED_SESSIONS);
        assert!(r.strict(999));
        assert!(!r.strict(1_000));
        // Once entries have aged out there is room again without going strict.
        assert!(!r.revoke_session(handle(u64::MAX - 1), RejectReason::Revoked, 9_000, 3_000));
        for i in 0..MAX_REVOKED_USERS as u64 {
            assert!(!r.revoke_user(&format!("u{i}"), 10, 20_000 + i, 0));
        }
        assert!(r.revoke_user("one-more", 10, 30_000, 0));
        assert!(r.strict(19_999));
        assert_eq!(r.counts().1, MAX_REVOKED_USERS);
    }

    // --- "log out my other sessions": a user cutoff that keeps one login ----------------------

    const OTHER: Lineage = Lineage::from_bytes([4; 16]);
    const THIRD: Lineage = Lineage::from_bytes([5; 16]);

    /// Why `r` refuses a session of user `a` of `lineage` created at `created_at` (memory only).
    fn why(r: &Revocations, lineage: &Lineage, created_at: u64) -> Option<RejectReason> {
        let h = SessionId::from_bytes([7; 32]).handle();
        r.check(&h, lineage, "a", created_at, 0)
    }

    #[test]
    fn a_kept_login_is_spared_and_every_other_refused() {
        let mut r = Revocations::default();
        assert!(!r.revoke_user_except("a", 20, Some(L), 1_000, 0));
        // The kept login, however old (every rotation keeps its login time and lineage).
        assert_eq!(why(&r, &L, 0), None);
        assert_eq!(why(&r, &L, 19), None);
        // Every other login created before the cutoff; none created at or after it.
        assert_eq!(why(&r, &OTHER, 19), Some(RejectReason::Revoked));
        assert_eq!(why(&r, &THIRD, 0), Some(RejectReason::Revoked));
        assert_eq!(why(&r, &OTHER, 20), None);
        // Other users are untouched; the exception never outweighs a global cutoff.
        let h = SessionId::from_bytes([7; 32]).handle();
        assert_eq!(r.check(&h, &OTHER, "b", 19, 0), None);
        r.revoke_issued_before(10);
        assert_eq!(why(&r, &L, 9), Some(RejectReason::Revoked));
        assert_eq!(why(&r, &L, 10), None);
        // Nor a revoked login or handle of the kept login (a logout of the caller itself).
        r.revoke_lineage(L, RejectReason::Revoked, 1_000, 0);
        assert_eq!(why(&r, &L, 15), Some(RejectReason::Revoked));
        assert_eq!(r.counts(), (1, 1));
    }

    #[test]
    fn a_plain_cutoff_refuses_the_kept_login_whichever_came_first() {
        // Later: the kept login is refused up to the plain cutoff.
        let mut r = Revocations::default();
        r.revoke_user_except("a", 20, Some(L), 1_000, 0);
        r.revoke_user("a", 30, 2_000, 0);
        assert_eq!(why(&r, &L, 19), Some(RejectReason::Revoked));
        assert_eq!(why(&r, &L, 29), Some(RejectReason::Revoked));
        assert_eq!(why(&r, &OTHER, 29), Some(RejectReason::Revoked));
        assert_eq!(why(&r, &L, 30), None);
        // Earlier: a later exception never spares what the plain cutoff refused.
        for first in [20, 30] {
            let mut r = Revocations::default();
            r.revoke_user("a", first, 1_000, 0);
            r.revoke_user_except("a", 25, Some(OTHER), 2_000, 0);
            assert_eq!(why(&r, &OTHER, 19), Some(RejectReason::Revoked), "{first}");
            assert_eq!(why(&r, &L, 24), Some(RejectReason::Revoked), "{first}");
            // Created between the two: spared only if the plain cutoff is below it.
            let refused = (first > 24).then_some(RejectReason::Revoked);
            assert_eq!(why(&r, &OTHER, 24), refused, "{first}");
        }
    }

    #[test]
    fn a_later_exception_replaces_an_earlier_one() {
        let mut r = Revocations::default();
        r.revoke_user_except("a", 20, Some(L), 1_000, 0);
        r.revoke_user_except("a", 30, Some(OTHER), 2_000, 0);
        // The first exception is gone: its login is refused up to the new cutoff.
        assert_eq!(why(&r, &L, 19), Some(RejectReason::Revoked));
        assert_eq!(why(&r, &L, 25), Some(RejectReason::Revoked));
        assert_eq!(why(&r, &THIRD, 25), Some(RejectReason::Revoked));
        // The new one is spared (it could only call revokeOthers if the first spared it: the
        // caller is judged against the store first).
        assert_eq!(why(&r, &OTHER, 25), None);
        assert_eq!(why(&r, &OTHER, 30), None);
    }

    #[test]
    fn the_same_cutoff_with_different_exceptions_spares_neither() {
        for (first, second) in [(L, OTHER), (OTHER, L)] {
            let mut r = Revocations::default();
            r.revoke_user_except("a", 20, Some(first), 1_000, 0);
            r.revoke_user_except("a", 20, Some(second), 500, 0);
            for lineage in [L, OTHER, THIRD] {
                assert_eq!(why(&r, &lineage, 19), Some(RejectReason::Revoked));
                assert_eq!(why(&r, &lineage, 20), None);
            }
            // Once spared by neither, a third writer at the same cutoff spares nobody either.
            r.revoke_user_except("a", 20, Some(L), 1_000, 0);
            assert_eq!(why(&r, &L, 19), Some(RejectReason::Revoked));
        }
        // The same exception twice is kept.
        let mut r = Revocations::default();
        r.revoke_user_except("a", 20, Some(L), 1_000, 0);
        r.revoke_user_except("a", 20, Some(L), 3_000, 0);
        assert_eq!(why(&r, &L, 19), None);
    }

    #[test]
    fn an_earlier_cutoff_never_lowers_a_cutoff_nor_changes_the_exception() {
        for earlier in [None, Some(L), Some(OTHER)] {
            let mut r = Revocations::default();
            r.revoke_user_except("a", 30, Some(L), 1_000, 0);
            r.revoke_user_except("a", 20, earlier, 5_000, 0);
            assert_eq!(why(&r, &OTHER, 29), Some(RejectReason::Revoked));
            // A plain earlier cutoff refuses the kept login below it; an earlier exception
            // changes nothing.
            let below = earlier.is_none().then_some(RejectReason::Revoked);
            assert_eq!(why(&r, &L, 19), below, "{earlier:?}");
            assert_eq!(why(&r, &L, 25), None, "{earlier:?}");
            assert_eq!(why(&r, &THIRD, 30), None);
        }
        let mut r = Revocations::default();
        r.revoke_user("a", 30, 1_000, 0);
        r.revoke_user("a", 20, 5_000, 0);
        assert_eq!(why(&r, &L, 29), Some(RejectReason::Revoked));
    }

    #[test]
    fn an_exception_on_a_full_user_memory_goes_strict_like_any_user_cutoff() {
        let mut r = Revocations::default();
        for i in 0..MAX_REVOKED_USERS as u64 {
            assert!(!r.revoke_user_except(&format!("u{i}"), 10, Some(L), 20_000 + i, 0));
        }
        // Merging into a remembered user takes no room.
        assert!(!r.revoke_user_except("u0", 15, Some(OTHER), 40_000, 0));
        assert!(!r.strict(0));
        assert!(r.revoke_user_except("a", 10, Some(L), 30_000, 0));
        assert!(r.strict(20_000));
        assert_eq!(why(&r, &L, 5), None);
        assert_eq!(why(&r, &OTHER, 5), Some(RejectReason::Revoked));
    }
}
