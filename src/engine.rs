//! Sessions as decisions: every operation is a function of its inputs and `now`, returning what
//! to answer and what the host must write to or delete from the store.

use crate::envelope::{self, Claims, Verified};
use crate::id::{user_index_prefix, SessionHandle, SessionId};
use crate::record::{summarize_user_agent, ttl_until, IndexEntry, Record, RECORD_VERSION};
use crate::{ConfigError, CookieConfig, KeyRing, Policy, RejectReason, Revocations};

/// How long KV may take to show a change everywhere (Cloudflare documents "60 seconds or more");
/// revoked handles are remembered this much longer than an envelope can live.
pub const KV_PROPAGATION_MS: u64 = 60_000;

/// What a valid session tells the application. Times are unix milliseconds.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Session {
    /// The user it belongs to.
    pub user_id: String,
    /// Its public name (never the ID).
    pub handle: SessionHandle,
    /// Login time.
    pub created_at: u64,
    /// When the current envelope was signed.
    pub issued_at: u64,
    /// When the envelope must be refreshed from the record.
    pub envelope_expires_at: u64,
    /// When the session ends without a refresh.
    pub idle_expires_at: u64,
    /// When the session ends regardless.
    pub absolute_expires_at: u64,
    /// Rotation count.
    pub generation: u32,
}

impl Session {
    fn from_claims(claims: &Claims, handle: SessionHandle) -> Self {
        Self {
            user_id: claims.user_id.clone(),
            handle,
            created_at: claims.created_at,
            issued_at: claims.issued_at,
            envelope_expires_at: claims.expires_at,
            idle_expires_at: claims.idle_deadline,
            absolute_expires_at: claims.absolute_deadline,
            generation: claims.generation,
        }
    }
}

/// The writes that store `record` under `handle`: the record itself and its user index entry
/// (value and KV metadata, so listings need no per-session reads), both living as long as it.
fn record_puts(handle: &SessionHandle, record: &Record, now: u64) -> [Put; 2] {
    let ttl_secs = record.kv_ttl_secs(now);
    let entry = IndexEntry::of(record).to_json();
    [
        Put {
            key: handle.storage_key(),
            value: record.to_json(),
            ttl_secs,
            metadata: None,
        },
        Put {
            key: handle.index_key(&record.user_id),
            value: entry.clone(),
            ttl_secs,
            metadata: Some(entry),
        },
    ]
}

/// One value the host must write to the store.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Put {
    /// The KV key (a hash-derived name; never a session ID).
    pub key: String,
    /// The value (JSON).
    pub value: String,
    /// `expirationTtl` in seconds, never below 60.
    pub ttl_secs: u64,
    /// KV metadata (JSON) to store alongside, for listings.
    pub metadata: Option<String>,
}

/// The store changes a decision asks for. Rejections never carry any.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Effects {
    /// Values to write.
    pub puts: Vec<Put>,
    /// Keys to delete.
    pub deletes: Vec<String>,
}

/// The verdict on a request's cookie.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Decision {
    /// The envelope alone proves the session; no store access needed.
    Valid {
        /// The session.
        session: Session,
        /// A re-signed envelope to send when the old one was signed by a previous key.
        set_cookie: Option<String>,
    },
    /// The envelope is authentic but must be checked against its record: read
    /// [`Pending::storage_key`] and call [`Engine::resume`].
    NeedRecord(Pending),
    /// No session; send [`Engine::clear_cookie`] unless the reason is `Missing`.
    Reject(RejectReason),
}

/// An authenticated envelope awaiting its record. Only the engine can make one, so a forged
/// envelope can never lead to a store read.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Pending {
    verified: Verified,
    handle: SessionHandle,
}

impl Pending {
    /// The KV key of the record to read.
    pub fn storage_key(&self) -> String {
        self.handle.storage_key()
    }

    /// The session's handle.
    pub fn handle(&self) -> &SessionHandle {
        &self.handle
    }

    /// The user the envelope names.
    pub fn user_id(&self) -> &str {
        &self.verified.claims.user_id
    }

    /// The session as the envelope describes it (not yet checked against the record).
    pub fn session(&self) -> Session {
        Session::from_claims(&self.verified.claims, self.handle.clone())
    }
}

/// A session continued from its record.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Refreshed {
    /// The session.
    pub session: Session,
    /// A new envelope, when the old one had expired or was signed by a previous key.
    pub set_cookie: Option<String>,
    /// `last_seen_at` write-back, at most once per touch interval.
    pub effects: Effects,
}

/// A new session (login or rotation).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Issued {
    /// The session.
    pub session: Session,
    /// The `Set-Cookie` value carrying its envelope.
    pub set_cookie: String,
    /// Its record and index entry, plus (for rotation) the old record's tombstone and index
    /// entry removal.
    pub effects: Effects,
    /// For rotation, the handle that was replaced.
    pub previous: Option<SessionHandle>,
}

/// The session engine: a key ring, a policy, a cookie and this isolate's revocations.
///
/// ```
/// use edge_session::{Engine, KeyRing, Policy, CookieConfig, Decision};
/// let ring = KeyRing::parse("k1:an-example-secret-of-32-bytes-or-more")?;
/// let mut engine = Engine::new(ring, Policy::default(), CookieConfig::default())?;
/// let now = 1_700_000_000_000;
/// let issued = engine.issue("alice", Some("Firefox"), now)?;
/// // The browser sends back the cookie's name=value pair.
/// let pair = issued.set_cookie.split(';').next().unwrap_or_default();
/// match engine.validate(Some(pair), now + 1_000) {
///     Decision::Valid { session, .. } => assert_eq!(session.user_id, "alice"),
///     other => panic!("{other:?}"),
/// }
/// # Ok::<(), edge_session::ConfigError>(())
/// ```
#[derive(Clone, Debug)]
pub struct Engine {
    ring: KeyRing,
    policy: Policy,
    cookie: CookieConfig,
    revocations: Revocations,
}

impl Engine {
    /// Builds an engine, checking the policy.
    pub fn new(ring: KeyRing, policy: Policy, cookie: CookieConfig) -> Result<Self, ConfigError> {
        policy.check()?;
        Ok(Self {
            ring,
            policy,
            cookie,
            revocations: Revocations::default(),
        })
    }

    /// The policy.
    pub fn policy(&self) -> &Policy {
        &self.policy
    }

    /// The cookie settings.
    pub fn cookie(&self) -> &CookieConfig {
        &self.cookie
    }

    /// This isolate's revocations.
    pub fn revocations(&self) -> &Revocations {
        &self.revocations
    }

    /// The `Set-Cookie` value that deletes the session cookie.
    pub fn clear_cookie(&self) -> String {
        self.cookie.clear_cookie()
    }

    fn seal(&self, claims: &Claims, now: u64) -> String {
        let value = envelope::seal(&self.ring, self.cookie.name(), claims);
        let max_age = claims.absolute_deadline.saturating_sub(now).div_ceil(1_000);
        self.cookie.set_cookie(&value, max_age)
    }

    /// Logs `user_id` in with a brand-new session ID.
    pub fn issue(
        &self,
        user_id: &str,
        user_agent: Option<&str>,
        now: u64,
    ) -> Result<Issued, ConfigError> {
        if !envelope::valid_user_id(user_id) {
            return Err(ConfigError::InvalidUserId);
        }
        let record = Record {
            v: RECORD_VERSION,
            user_id: user_id.to_owned(),
            created_at: now,
            last_seen_at: now,
            idle_timeout_ms: self.policy.idle_timeout_ms,
            absolute_deadline: now.saturating_add(self.policy.absolute_timeout_ms),
            generation: 0,
            revoked_at: None,
            rotated_at: None,
            user_agent: user_agent.map(summarize_user_agent),
        };
        self.start(record, None, Effects::default(), now)
    }

    /// Draws an ID for `record` and produces its envelope, record and index writes.
    fn start(
        &self,
        record: Record,
        previous: Option<SessionHandle>,
        mut effects: Effects,
        now: u64,
    ) -> Result<Issued, ConfigError> {
        let id = SessionId::generate()?;
        let handle = id.handle();
        let claims = self.claims_for(id, &record, now);
        effects.puts.extend(record_puts(&handle, &record, now));
        Ok(Issued {
            set_cookie: self.seal(&claims, now),
            session: Session::from_claims(&claims, handle),
            effects,
            previous,
        })
    }

    /// Fresh envelope claims for a session described by `record`, signed at `now`.
    fn claims_for(&self, session_id: SessionId, record: &Record, now: u64) -> Claims {
        let absolute = record.absolute_deadline;
        Claims {
            session_id,
            user_id: record.user_id.clone(),
            generation: record.generation,
            created_at: record.created_at,
            issued_at: now,
            expires_at: now
                .saturating_add(self.policy.envelope_ttl_ms)
                .min(absolute),
            idle_deadline: now.saturating_add(record.idle_timeout_ms).min(absolute),
            absolute_deadline: absolute,
        }
    }

    /// Verifies the request's envelope (tag, version, key, clock skew, this isolate's
    /// revocations) without judging its expiry. Used for logout and rotation, which must act on
    /// a session even when its envelope needs a refresh.
    pub fn authenticate(
        &self,
        cookie_header: Option<&str>,
        now: u64,
    ) -> Result<Pending, RejectReason> {
        let value = self
            .cookie
            .find_in(cookie_header.unwrap_or(""))?
            .ok_or(RejectReason::Missing)?;
        let verified = envelope::open(&self.ring, self.cookie.name(), value)?;
        let claims = &verified.claims;
        if claims.issued_at > now.saturating_add(self.policy.clock_skew_ms) {
            return Err(RejectReason::IssuedInFuture);
        }
        let handle = claims.session_id.handle();
        if let Some(reason) =
            self.revocations
                .check(&handle, &claims.user_id, claims.created_at, now)
        {
            return Err(reason);
        }
        Ok(Pending { verified, handle })
    }

    /// Judges a request's `Cookie` header at `now`.
    ///
    /// Valid with no store access while the envelope is fresh; `NeedRecord` when it is authentic
    /// but expired (or the policy is strict); `Reject` otherwise. Deadlines are exclusive: a
    /// session whose deadline equals `now` has ended.
    pub fn validate(&self, cookie_header: Option<&str>, now: u64) -> Decision {
        let pending = match self.authenticate(cookie_header, now) {
            Ok(pending) => pending,
            Err(reason) => return Decision::Reject(reason),
        };
        let claims = &pending.verified.claims;
        if now >= claims.absolute_deadline {
            return Decision::Reject(RejectReason::ExpiredAbsolute);
        }
        if now >= claims.idle_deadline {
            return Decision::Reject(RejectReason::ExpiredIdle);
        }
        if self.policy.strict || now >= claims.expires_at {
            return Decision::NeedRecord(pending);
        }
        let set_cookie =
            (pending.verified.key_id != self.ring.current_id()).then(|| self.seal(claims, now));
        Decision::Valid {
            session: pending.session(),
            set_cookie,
        }
    }

    /// Checks `record_json` (the stored record, `None` when absent) against `pending`.
    fn check_record(
        &self,
        pending: &Pending,
        record_json: Option<&str>,
        now: u64,
    ) -> Result<Record, RejectReason> {
        let record = Record::from_json(record_json.ok_or(RejectReason::SessionNotFound)?)?;
        let claims = &pending.verified.claims;
        if record.user_id != claims.user_id
            || record.created_at != claims.created_at
            || record.generation != claims.generation
            || record.absolute_deadline != claims.absolute_deadline
        {
            return Err(RejectReason::RecordMismatch);
        }
        if record.rotated_at.is_some() {
            return Err(RejectReason::Rotated);
        }
        if record.revoked_at.is_some() {
            return Err(RejectReason::Revoked);
        }
        if let Some(reason) =
            self.revocations
                .check(&pending.handle, &record.user_id, record.created_at, now)
        {
            return Err(reason);
        }
        if now >= record.absolute_deadline {
            return Err(RejectReason::ExpiredAbsolute);
        }
        // The envelope's signing time proves activity the throttled record may not show yet.
        let last_activity = record.last_seen_at.max(claims.issued_at);
        if now >= last_activity.saturating_add(record.idle_timeout_ms) {
            return Err(RejectReason::ExpiredIdle);
        }
        Ok(record)
    }

    /// Continues a `NeedRecord` session from its record: re-checks revocation and deadlines
    /// against the record (the authority), signs a new envelope when needed, and asks for a
    /// `last_seen_at` write at most once per touch interval.
    pub fn resume(
        &self,
        pending: &Pending,
        record_json: Option<&str>,
        now: u64,
    ) -> Result<Refreshed, RejectReason> {
        let mut record = self.check_record(pending, record_json, now)?;
        let claims = &pending.verified.claims;
        let mut effects = Effects::default();
        if now.saturating_sub(record.last_seen_at) >= self.policy.touch_interval_ms {
            record.last_seen_at = now;
            effects
                .puts
                .extend(record_puts(&pending.handle, &record, now));
        }
        let stale = now >= claims.expires_at || pending.verified.key_id != self.ring.current_id();
        let (session, set_cookie) = if stale {
            let fresh = self.claims_for(claims.session_id.clone(), &record, now);
            let cookie = self.seal(&fresh, now);
            (
                Session::from_claims(&fresh, pending.handle.clone()),
                Some(cookie),
            )
        } else {
            let mut session = pending.session();
            let last_activity = record.last_seen_at.max(claims.issued_at);
            session.idle_expires_at = last_activity
                .saturating_add(record.idle_timeout_ms)
                .min(record.absolute_deadline);
            (session, None)
        };
        Ok(Refreshed {
            session,
            set_cookie,
            effects,
        })
    }

    /// Gives a session a new ID (login completion, privilege change). The record is checked as
    /// in [`resume`](Self::resume); the new session keeps the user, creation time and absolute
    /// deadline (rotation never extends a session's life); the old record becomes a `rotated`
    /// tombstone, and this isolate refuses the old envelope at once.
    pub fn rotate(
        &mut self,
        pending: &Pending,
        record_json: Option<&str>,
        now: u64,
    ) -> Result<Issued, RejectReason> {
        let old = self.check_record(pending, record_json, now)?;
        let mut record = old.clone();
        record.generation = record.generation.saturating_add(1);
        record.last_seen_at = now;
        let mut tombstone = old;
        tombstone.rotated_at = Some(now);
        let mut effects = Effects::default();
        effects.puts.push(Put {
            key: pending.handle.storage_key(),
            value: tombstone.to_json(),
            ttl_secs: ttl_until(self.forget_after(now), now),
            metadata: None,
        });
        effects
            .deletes
            .push(pending.handle.index_key(&record.user_id));
        let issued = self
            .start(record, Some(pending.handle.clone()), effects, now)
            .map_err(|_| RejectReason::StoreUnavailable)?;
        self.revocations.revoke_session(
            pending.handle.clone(),
            RejectReason::Rotated,
            self.forget_after(now),
            now,
        );
        Ok(issued)
    }

    /// How long a revoked handle must be refused in memory: until any envelope signed before
    /// now has expired and KV has propagated the deletion.
    fn forget_after(&self, now: u64) -> u64 {
        now.saturating_add(self.policy.envelope_ttl_ms)
            .saturating_add(self.policy.clock_skew_ms)
            .saturating_add(KV_PROPAGATION_MS)
    }

    /// Logs a session out: its record and index entry are to be deleted, and this isolate refuses
    /// its envelope at once.
    pub fn destroy(&mut self, pending: &Pending, now: u64) -> Effects {
        self.forget_session(&pending.handle, pending.user_id(), now)
    }

    fn forget_session(&mut self, handle: &SessionHandle, user_id: &str, now: u64) -> Effects {
        self.revocations.revoke_session(
            handle.clone(),
            RejectReason::Revoked,
            self.forget_after(now),
            now,
        );
        Effects {
            puts: Vec::new(),
            deletes: vec![handle.storage_key(), handle.index_key(user_id)],
        }
    }

    /// Revokes the session named by `handle`, whose stored record is `record_json`. With `owner`,
    /// only a session of that user is revoked. `None` when there is no such live session (or it
    /// belongs to someone else); a corrupt record is treated as absent.
    pub fn revoke_handle(
        &mut self,
        handle: &SessionHandle,
        record_json: Option<&str>,
        owner: Option<&str>,
        now: u64,
    ) -> Option<(String, Effects)> {
        let record = Record::from_json(record_json?).ok()?;
        if owner.is_some_and(|owner| owner != record.user_id)
            || record.rotated_at.is_some()
            || record.revoked_at.is_some()
            || now >= record.absolute_deadline
        {
            return None;
        }
        let effects = self.forget_session(handle, &record.user_id, now);
        Some((record.user_id, effects))
    }

    /// Refuses, in this isolate, every session of `user_id` created up to and including `now`
    /// (a login in the same millisecond as the revocation is refused too: the safe side). The host
    /// also deletes the records listed under [`user_index_prefix`].
    pub fn revoke_user(&mut self, user_id: &str, now: u64) {
        self.revocations.revoke_user(user_id, now.saturating_add(1));
    }

    /// Refuses, in this isolate, every session created before `before`.
    pub fn revoke_issued_before(&mut self, before: u64) {
        self.revocations.revoke_issued_before(before);
    }

    /// The store prefix listing `user_id`'s sessions.
    pub fn user_index_prefix(&self, user_id: &str) -> String {
        user_index_prefix(user_id)
    }
}
