//! The revocations an isolate holds in memory, so the fast path refuses them with no store read.

use std::collections::HashMap;

use crate::{RejectReason, SessionHandle};

/// Most individually revoked sessions remembered at once; older entries are dropped first
/// (their records are gone, so a dropped entry only loses the fast-path shortcut).
pub const MAX_REVOKED_SESSIONS: usize = 10_000;

/// Most revoked users remembered at once.
pub const MAX_REVOKED_USERS: usize = 10_000;

/// In-memory revocation state of one isolate.
///
/// Sessions are remembered until every envelope that could name them has expired and KV has had
/// time to propagate the deleted record; users and the global cutoff are remembered for good.
#[derive(Clone, Debug, Default)]
pub struct Revocations {
    sessions: HashMap<SessionHandle, (RejectReason, u64)>,
    users: HashMap<String, u64>,
    issued_before: u64,
}

impl Revocations {
    /// Refuses `handle` until `forget_after` (unix ms) with `reason` (revoked or rotated).
    pub fn revoke_session(
        &mut self,
        handle: SessionHandle,
        reason: RejectReason,
        forget_after: u64,
        now: u64,
    ) {
        if self.sessions.len() >= MAX_REVOKED_SESSIONS {
            self.sessions.retain(|_, (_, until)| *until > now);
        }
        if self.sessions.len() >= MAX_REVOKED_SESSIONS {
            let oldest = self
                .sessions
                .iter()
                .min_by_key(|(_, (_, until))| *until)
                .map(|(h, _)| h.clone());
            if let Some(oldest) = oldest {
                self.sessions.remove(&oldest);
            }
        }
        self.sessions.insert(handle, (reason, forget_after));
    }

    /// Refuses every session of `user_id` created before `before`.
    pub fn revoke_user(&mut self, user_id: &str, before: u64) {
        if self.users.len() >= MAX_REVOKED_USERS && !self.users.contains_key(user_id) {
            // The records are deleted too; losing the oldest entry only loses the fast path.
            let oldest = self
                .users
                .iter()
                .min_by_key(|(_, t)| **t)
                .map(|(u, _)| u.clone());
            if let Some(oldest) = oldest {
                self.users.remove(&oldest);
            }
        }
        let entry = self.users.entry(user_id.to_owned()).or_insert(0);
        *entry = (*entry).max(before);
    }

    /// Refuses every session created before `before` (never moves the cutoff back).
    pub fn revoke_issued_before(&mut self, before: u64) {
        self.issued_before = self.issued_before.max(before);
    }

    /// The global cutoff: sessions created before it are refused.
    pub fn issued_before(&self) -> u64 {
        self.issued_before
    }

    /// Why a session is refused, if it is.
    pub fn check(
        &self,
        handle: &SessionHandle,
        user_id: &str,
        created_at: u64,
        now: u64,
    ) -> Option<RejectReason> {
        if created_at < self.issued_before {
            return Some(RejectReason::Revoked);
        }
        if self
            .users
            .get(user_id)
            .is_some_and(|before| created_at < *before)
        {
            return Some(RejectReason::Revoked);
        }
        match self.sessions.get(handle) {
            Some((reason, until)) if *until > now => Some(*reason),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::SessionId;

    #[test]
    fn each_scope_refuses_what_it_names() {
        let h1 = SessionId::from_bytes([1; 32]).handle();
        let h2 = SessionId::from_bytes([2; 32]).handle();
        let mut r = Revocations::default();
        assert_eq!(r.check(&h1, "a", 10, 0), None);
        r.revoke_session(h1.clone(), RejectReason::Rotated, 100, 0);
        assert_eq!(r.check(&h1, "a", 10, 99), Some(RejectReason::Rotated));
        assert_eq!(r.check(&h1, "a", 10, 100), None);
        assert_eq!(r.check(&h2, "a", 10, 0), None);
        r.revoke_user("a", 20);
        assert_eq!(r.check(&h2, "a", 19, 0), Some(RejectReason::Revoked));
        assert_eq!(r.check(&h2, "a", 20, 0), None);
        assert_eq!(r.check(&h2, "b", 19, 0), None);
        r.revoke_issued_before(50);
        r.revoke_issued_before(40);
        assert_eq!(r.issued_before(), 50);
        assert_eq!(r.check(&h2, "b", 49, 0), Some(RejectReason::Revoked));
        assert_eq!(r.check(&h2, "b", 50, 0), None);
    }

    #[test]
    fn memory_is_bounded() {
        let mut r = Revocations::default();
        for i in 0..(MAX_REVOKED_SESSIONS as u64 + 10) {
            let mut bytes = [0u8; 32];
            bytes[..8].copy_from_slice(&i.to_be_bytes());
            r.revoke_session(
                SessionId::from_bytes(bytes).handle(),
                RejectReason::Revoked,
                1_000 + i,
                0,
            );
        }
        assert_eq!(r.sessions.len(), MAX_REVOKED_SESSIONS);
    }
}
