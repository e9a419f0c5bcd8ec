//! Sessions as decisions: every operation is a function of its inputs and `now`, returning what
//! to answer and what the host must write to or delete from the store.

use crate::envelope::{self, Claims, DecodeBuffer, Verified, View};
use crate::hub::{HubEntry, HubRevocation, HubState};
use crate::id::{
    lineage_prefix, others_cutoff_key, touch_prefix, user_cutoff_key, user_index_prefix, Lineage,
    SessionHandle, SessionId, GLOBAL_CUTOFF_KEY,
};
use crate::record::{
    summarize_user_agent, ttl_until, valid_data, Cutoff, Ended, IndexEntry, Record, RecordState,
    Source, Tombstone, Touch, Value, STORE_VERSION, USER_CUTOFF_TTL_SECS,
};
use crate::{ConfigError, CookieConfig, KeyRing, Policy, RejectReason, Revocations};
use alloc::{borrow::ToOwned, string::String, vec, vec::Vec};

/// How long KV may take to show a change everywhere (Cloudflare documents "60 seconds or more").
pub const KV_PROPAGATION_MS: u64 = 60_000;

/// What a valid session tells the application. Times are unix milliseconds.
#[derive(Clone, Debug, PartialEq, Eq)]
#[cfg_attr(
    not(target_arch = "wasm32"),
    derive(serde::Serialize),
    serde(rename_all = "camelCase")
)]
pub struct Session {
    /// The user it belongs to.
    pub user_id: String,
    /// Its public name (never the ID).
    pub handle: SessionHandle,
    /// Login time.
    pub created_at: u64,
    /// When the current envelope was signed: the last proof of activity.
    pub issued_at: u64,
    /// When the envelope must be refreshed from the record.
    pub envelope_expires_at: u64,
    /// When the session ends without a refresh.
    pub idle_expires_at: u64,
    /// When the session ends regardless.
    pub absolute_expires_at: u64,
    /// Rotation count.
    pub generation: u32,
    /// Application data (JSON object text), or `None`.
    pub data: Option<String>,
}

/// What [`Engine::check`] decided, borrowing the buffer the envelope was decoded into.
#[derive(Debug)]
pub enum Checked<'b> {
    /// Valid on the envelope alone.
    Valid(View<'b>),
    /// Authentic, but the record must be read (see [`Engine::validate`]).
    NeedRecord(View<'b>),
    /// Refused.
    Reject(RejectReason),
}

impl Session {
    fn from_view(view: &View<'_>) -> Self {
        Self {
            user_id: view.user_id.to_owned(),
            handle: SessionId::from_bytes(*view.session_id).handle(),
            created_at: view.created_at,
            issued_at: view.issued_at,
            envelope_expires_at: view.expires_at,
            idle_expires_at: view.idle_deadline,
            absolute_expires_at: view.absolute_deadline,
            generation: view.generation,
            data: view.data.map(str::to_owned),
        }
    }

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
            data: claims.data.clone(),
        }
    }
}

/// Session data: the JSON text of an object, at most 1024 bytes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SessionData(String);

impl SessionData {
    /// Checks `json` (as `JSON.stringify` or `serde_json` wrote it).
    pub fn new(json: &str) -> Result<Self, ConfigError> {
        if valid_data(json) {
            Ok(Self(json.to_owned()))
        } else if json.len() > crate::record::MAX_DATA_LEN {
            Err(ConfigError::InvalidData(
                "larger than 1024 bytes of JSON; keep large data in your own store",
            ))
        } else {
            Err(ConfigError::InvalidData("must be a JSON object"))
        }
    }

    /// The JSON text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// One value the host must write to the store.
#[derive(Clone, Debug, PartialEq, Eq)]
#[cfg_attr(
    not(target_arch = "wasm32"),
    derive(serde::Serialize),
    serde(rename_all = "camelCase")
)]
pub struct Put {
    /// The KV key (a hash-derived name; never a session ID).
    pub key: String,
    /// The value; the host stores its JSON text.
    pub value: Value,
    /// KV `expirationTtl` in seconds (never below 60), or `None` to keep it for good.
    pub expiration_ttl: Option<u64>,
    /// KV metadata to store alongside, for listings.
    pub metadata: Option<Value>,
}

/// The store changes a decision asks for. Rejections never carry any.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[cfg_attr(not(target_arch = "wasm32"), derive(serde::Serialize))]
pub struct Effects {
    /// Values to write.
    pub puts: Vec<Put>,
    /// Keys to delete.
    pub deletes: Vec<String>,
}

impl Effects {
    /// True when there is nothing to do.
    pub fn is_empty(&self) -> bool {
        self.puts.is_empty() && self.deletes.is_empty()
    }
}

/// The verdict on a request's cookie.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Decision {
    /// The envelope alone proves the session; no store access needed.
    Valid(Session),
    /// The envelope is authentic but must be judged against the store: read
    /// [`Pending::reads`] (in parallel) and call [`Engine::resume`].
    NeedRecord(Pending),
    /// No session. [`RejectReason::clears_cookie`] says whether to delete the cookie.
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
    /// The keys to read, in the order [`Fetched::from_reads`] takes them: the record, the
    /// lineage's tombstone, the user's cutoff, the global cutoff and the user's "other
    /// sessions" cutoff.
    pub fn reads(&self) -> [String; 5] {
        let user = &self.verified.claims.user_id;
        [
            self.handle.storage_key(),
            self.verified.claims.lineage.storage_key(user),
            user_cutoff_key(user),
            GLOBAL_CUTOFF_KEY.to_owned(),
            others_cutoff_key(user),
        ]
    }

    /// The login this session descends from.
    pub fn lineage(&self) -> &Lineage {
        &self.verified.claims.lineage
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

/// What the host read for a [`Pending`]: each value as parsed from the store, `None` when absent.
#[derive(Debug)]
pub struct Fetched<'a, S: ?Sized> {
    /// `s:<handle>`.
    pub record: Option<&'a S>,
    /// `l:<user hash>:<lineage>`.
    pub lineage: Option<&'a S>,
    /// `c:<user hash>`.
    pub user_cutoff: Option<&'a S>,
    /// `o:<user hash>` ("log out my other sessions").
    pub others_cutoff: Option<&'a S>,
    /// `r:issued_before`.
    pub global_cutoff: Option<&'a S>,
}

impl<'a, S: ?Sized> Fetched<'a, S> {
    /// The record, lineage tombstone, user cutoff and global cutoff, with no "other sessions"
    /// cutoff.
    pub fn new(values: [Option<&'a S>; 4]) -> Self {
        let [record, lineage, user_cutoff, global_cutoff] = values;
        Self::from_reads([record, lineage, user_cutoff, global_cutoff, None])
    }

    /// The values read for [`Pending::reads`], in that order.
    pub fn from_reads(values: [Option<&'a S>; 5]) -> Self {
        let [record, lineage, user_cutoff, global_cutoff, others_cutoff] = values;
        Self {
            record,
            lineage,
            user_cutoff,
            global_cutoff,
            others_cutoff,
        }
    }
}

/// A session continued from its record.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Refreshed {
    /// The session.
    pub session: Session,
    /// A new envelope, when the old one had expired or was signed by a previous key.
    pub set_cookie: Option<String>,
    /// The last-seen write, at most once per touch interval; best effort.
    pub effects: Effects,
}

/// A new session (login, or the new half of a rotation).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Issued {
    /// The session.
    pub session: Session,
    /// The `Set-Cookie` value carrying its envelope.
    pub set_cookie: String,
    /// Its record and index entry.
    pub effects: Effects,
}

/// A rotation: a new session, and the writes that end the old one.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Rotation {
    /// The new session: apply its effects first.
    pub issued: Issued,
    /// Then these, which tombstone the old record and drop its index and last-seen keys.
    pub retire: Effects,
    /// The old session's handle: once `issued.effects` are written, call
    /// [`Engine::remember_ended`] with it so this isolate refuses the old envelope.
    pub previous: SessionHandle,
}

/// How a rotation treats the session's data.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum DataChange {
    /// Keep the data (a plain rotation).
    Keep,
    /// Replace it (an update).
    Set(Option<SessionData>),
}

/// One of a user's sessions as listed for a devices page.
#[derive(Clone, Debug, PartialEq, Eq)]
#[cfg_attr(
    not(target_arch = "wasm32"),
    derive(serde::Serialize),
    serde(rename_all = "camelCase")
)]
pub struct SessionInfo {
    /// Its handle.
    pub handle: String,
    /// Login time.
    pub created_at: u64,
    /// Last refresh recorded (login time when none yet).
    pub last_seen_at: u64,
    /// End of its life.
    pub absolute_expires_at: u64,
    /// User-Agent summary.
    pub user_agent: String,
}

/// The session engine: a key ring, a policy, a cookie and this isolate's revocations.
///
/// ```
/// use edge_session::{Engine, KeyRing, Policy, CookieConfig, Decision};
/// let ring = KeyRing::parse("k1:MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY")?;
/// let engine = Engine::new(ring, Policy::default(), CookieConfig::default())?;
/// let now = 1_700_000_000_000;
/// let issued = engine.issue("alice", Some("Firefox"), None, now)?;
/// // The browser sends back the cookie's name=value pair.
/// let pair = issued.set_cookie.split(';').next().unwrap_or_default();
/// match engine.validate(Some(pair), now + 1_000) {
///     Decision::Valid(session) => assert_eq!(session.user_id, "alice"),
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
    overflow_unreported: bool,
    hub: Option<HubState>,
}

impl Engine {
    /// Builds an engine, checking the policy.
    pub fn new(ring: KeyRing, policy: Policy, cookie: CookieConfig) -> Result<Self, ConfigError> {
        policy.check()?;
        Ok(Self {
            ring: ring.bind(cookie.name()),
            policy,
            cookie,
            revocations: Revocations::default(),
            overflow_unreported: false,
            hub: None,
        })
    }

    /// Makes this isolate follow a revocation hub pulled at most once per `interval_ms`: until
    /// its first successful pull, and whenever the hub has been out of reach for
    /// [`HUB_MISSED_INTERVALS`](crate::HUB_MISSED_INTERVALS) intervals, every request reads its
    /// record.
    pub fn follow_hub(&mut self, interval_ms: u64) {
        self.hub = Some(HubState::new(interval_ms));
    }

    /// The hub this isolate follows, if any.
    pub fn hub(&self) -> Option<&HubState> {
        self.hub.as_ref()
    }

    /// Claims the hub pull due at `now`, if one is (see [`HubState::claim`]): the sequence
    /// number to pull after. With `force`, claims one whether due or not (before an action that
    /// must see every revocation made so far).
    pub fn hub_claim(&mut self, now: u64, force: bool) -> Option<u64> {
        let hub = self.hub.as_mut()?;
        if force {
            return Some(hub.claim_now(now));
        }
        hub.claim(now)
    }

    /// Records a failed or timed-out pull.
    pub fn hub_failed(&mut self, now: u64) {
        if let Some(hub) = self.hub.as_mut() {
            hub.failed(now);
        }
    }

    /// Applies a pulled page (see [`HubState::apply`]); `Ok(true)` when more pages follow. A
    /// page that overflowed the revocation memory is reported by
    /// [`take_overflow`](Self::take_overflow).
    pub fn hub_apply<S: Source + ?Sized>(
        &mut self,
        page: &S,
        now: u64,
    ) -> Result<bool, RejectReason> {
        let after = self.hub.as_ref().map_or(0, HubState::seq);
        self.hub_apply_pulled(page, after, now)
    }

    /// [`hub_apply`](Self::hub_apply) for a page pulled after `after` (see
    /// [`HubState::apply_pulled`]).
    pub fn hub_apply_pulled<S: Source + ?Sized>(
        &mut self,
        page: &S,
        after: u64,
        now: u64,
    ) -> Result<bool, RejectReason> {
        let Some(hub) = self.hub.as_mut() else {
            return Err(RejectReason::StoreUnavailable);
        };
        let (more, overflowed) = hub.apply_pulled(page, after, &mut self.revocations, now)?;
        self.overflow_unreported |= overflowed;
        Ok(more)
    }

    /// The hub entry announcing `revocation` made at `now`, to be remembered by every isolate
    /// for as long as it matters: a session or login until every envelope signed from a stale
    /// read has expired (then the store's tombstone refuses it everywhere); a user or global
    /// cutoff until every session it names has reached its absolute deadline.
    pub fn hub_entry(&self, revocation: HubRevocation, now: u64) -> HubEntry {
        let until = match revocation {
            HubRevocation::Session { .. } | HubRevocation::Login { .. } => self.forget_after(now),
            HubRevocation::User { .. } | HubRevocation::Before { .. } => self.cutoff_forget(now),
        };
        HubEntry {
            seq: 0,
            revocation,
            at: now,
            until,
        }
    }

    /// A hub entry for a logout or rotation whose store write failed: remembered until `until`
    /// (the session's absolute deadline), since no tombstone will refuse it.
    pub fn hub_entry_held(&self, revocation: HubRevocation, until: u64, now: u64) -> HubEntry {
        let mut entry = self.hub_entry(revocation, now);
        entry.until = entry.until.max(until);
        entry
    }

    /// How long a user or global cutoff made at `now` is remembered: until every session created
    /// before it has reached its absolute deadline, allowing for clock skew.
    fn cutoff_forget(&self, now: u64) -> u64 {
        now.saturating_add(self.policy.absolute_timeout_ms)
            .saturating_add(self.policy.clock_skew_ms)
    }

    /// The policy.
    pub fn policy(&self) -> &Policy {
        &self.policy
    }

    /// The cookie settings.
    pub fn cookie(&self) -> &CookieConfig {
        &self.cookie
    }

    /// The key ring.
    pub fn ring(&self) -> &KeyRing {
        &self.ring
    }

    /// This isolate's revocations.
    pub fn revocations(&self) -> &Revocations {
        &self.revocations
    }

    /// True once after a refusal learnt from the store overflowed the revocation memory (the
    /// isolate went strict): report it.
    pub fn take_overflow(&mut self) -> bool {
        core::mem::take(&mut self.overflow_unreported)
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

    /// Logs `user_id` in with a brand-new session ID and optional data.
    pub fn issue(
        &self,
        user_id: &str,
        user_agent: Option<&str>,
        data: Option<SessionData>,
        now: u64,
    ) -> Result<Issued, ConfigError> {
        if !envelope::valid_user_id(user_id) {
            return Err(ConfigError::InvalidUserId);
        }
        let record = Record {
            v: STORE_VERSION,
            user_id: user_id.to_owned(),
            created_at: now,
            absolute_deadline: now.saturating_add(self.policy.absolute_timeout_ms),
            idle_timeout_ms: self.policy.idle_timeout_ms,
            generation: 0,
            lineage: Lineage::generate()?,
            data: data.map(|d| d.0),
            user_agent: user_agent.map(summarize_user_agent),
        };
        self.start(record, now)
    }

    /// Draws an ID for `record` and produces its envelope, record and index writes.
    fn start(&self, record: Record, now: u64) -> Result<Issued, ConfigError> {
        let id = SessionId::generate()?;
        let handle = id.handle();
        let claims = self.claims_for(id, &record, now);
        let ttl = Some(ttl_until(record.absolute_deadline, now));
        let entry = Value::Index(IndexEntry {
            v: STORE_VERSION,
            lineage: record.lineage,
            created_at: record.created_at,
            absolute_deadline: record.absolute_deadline,
            user_agent: record.user_agent.clone().unwrap_or_default(),
        });
        let effects = Effects {
            puts: vec![
                Put {
                    key: handle.storage_key(),
                    value: Value::Record(record.clone()),
                    expiration_ttl: ttl,
                    metadata: None,
                },
                Put {
                    key: handle.index_key(&record.user_id),
                    value: entry.clone(),
                    expiration_ttl: ttl,
                    metadata: Some(entry),
                },
            ],
            deletes: Vec::new(),
        };
        Ok(Issued {
            set_cookie: self.seal(&claims, now),
            session: Session::from_claims(&claims, handle),
            effects,
        })
    }

    /// Fresh envelope claims for a session described by `record`, signed at `now`.
    fn claims_for(&self, session_id: SessionId, record: &Record, now: u64) -> Claims {
        let absolute = record.absolute_deadline;
        Claims {
            session_id,
            lineage: record.lineage,
            user_id: record.user_id.clone(),
            generation: record.generation,
            created_at: record.created_at,
            issued_at: now,
            expires_at: now
                .saturating_add(self.policy.envelope_ttl_ms)
                .min(absolute),
            idle_deadline: now.saturating_add(record.idle_timeout_ms).min(absolute),
            absolute_deadline: absolute,
            data: record.data.clone(),
        }
    }

    /// Verifies the request's envelope (tag, version, key, clock skew, this isolate's
    /// revocations) without judging its expiry. Used for rotation, which must act on a session
    /// even when its envelope needs a refresh.
    pub fn authenticate(
        &self,
        cookie_header: Option<&str>,
        now: u64,
    ) -> Result<Pending, RejectReason> {
        let pending = self.identify(cookie_header, now)?;
        if let Some(reason) = self.remembered(&pending, now) {
            return Err(reason);
        }
        Ok(pending)
    }

    /// Why this isolate's memory refuses `pending`, if it does.
    fn remembered(&self, pending: &Pending, now: u64) -> Option<RejectReason> {
        let claims = &pending.verified.claims;
        self.revocations.check(
            &pending.handle,
            &claims.lineage,
            &claims.user_id,
            claims.created_at,
            now,
        )
    }

    /// Verifies the request's envelope (tag, version, key, clock skew) without consulting this
    /// isolate's revocations or judging expiry. Used for logout, which must stay repeatable until
    /// the store has confirmed it: a logout whose write failed is already refused in memory here,
    /// and retrying it must write the tombstone rather than report success.
    pub fn identify(&self, cookie_header: Option<&str>, now: u64) -> Result<Pending, RejectReason> {
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
        Ok(Pending { verified, handle })
    }

    /// Judges a request's `Cookie` header at `now`.
    ///
    /// Valid with no store access while the envelope is fresh and signed by the current key;
    /// `NeedRecord` when it is authentic but expired, signed by a previous key, or the isolate is
    /// strict; `Reject` otherwise. Deadlines are exclusive: a session whose deadline equals `now`
    /// has ended.
    pub fn validate(&self, cookie_header: Option<&str>, now: u64) -> Decision {
        let mut buf = [0; core::mem::size_of::<DecodeBuffer>()];
        match self.check(cookie_header, now, &mut buf) {
            Checked::Valid(view) => Decision::Valid(Session::from_view(&view)),
            Checked::Reject(reason) => Decision::Reject(reason),
            // Verified once: the pending session is the view, owned.
            Checked::NeedRecord(view) => Decision::NeedRecord(Pending {
                verified: Verified {
                    key_id: view.key_id.to_owned(),
                    claims: view.claims(),
                },
                handle: SessionId::from_bytes(*view.session_id).handle(),
            }),
        }
    }

    /// [`validate`](Self::validate) without allocating: the envelope is decoded into `buf` and a
    /// valid one is returned as a view into it. The session's handle (a SHA-256 of its ID) is
    /// computed only if this isolate remembers revoked handles.
    pub fn check<'b>(
        &self,
        cookie_header: Option<&str>,
        now: u64,
        buf: &'b mut DecodeBuffer,
    ) -> Checked<'b> {
        self.check_octets(cookie_header.unwrap_or("").as_bytes(), now, buf)
    }

    /// [`check`](Self::check) of a `Cookie` header given as bytes (JS's `encodeInto` output):
    /// read once, never validated as UTF-8 as a whole (the cookie's value must be base64url, and
    /// the user id inside a verified envelope is checked on its own). A refusal may name a
    /// different reason than [`validate`](Self::validate) for a header that is not UTF-8; the
    /// fast path only uses `Valid` and leaves every other answer to `validate`.
    pub fn check_octets<'b>(
        &self,
        cookie_header: &[u8],
        now: u64,
        buf: &'b mut DecodeBuffer,
    ) -> Checked<'b> {
        let value = match self.cookie.find_octets_in(cookie_header) {
            Ok(Some(value)) => value,
            Ok(None) => return Checked::Reject(RejectReason::Missing),
            Err(reason) => return Checked::Reject(reason),
        };
        let view = match envelope::open_view(&self.ring, self.cookie.name(), value, buf) {
            Ok(view) => view,
            Err(reason) => return Checked::Reject(reason),
        };
        if view.issued_at > now.saturating_add(self.policy.clock_skew_ms) {
            return Checked::Reject(RejectReason::IssuedInFuture);
        }
        let handle = || SessionId::from_bytes(*view.session_id).handle();
        if let Some(reason) =
            self.revocations
                .check_lazy(handle, &view.lineage, view.user_id, view.created_at, now)
        {
            return Checked::Reject(reason);
        }
        if now >= view.absolute_deadline {
            return Checked::Reject(RejectReason::ExpiredAbsolute);
        }
        if now >= view.idle_deadline {
            return Checked::Reject(RejectReason::ExpiredIdle);
        }
        if self.policy.strict
            || self.revocations.strict(now)
            || self.hub.as_ref().is_some_and(|h| h.out_of_reach(now))
            || now >= view.expires_at
            || view.key_id != self.ring.current_id()
        {
            return Checked::NeedRecord(view);
        }
        Checked::Valid(view)
    }

    /// A stored cutoff, refused when unreadable or later than now plus the clock skew.
    fn cutoff<S: Source + ?Sized>(&self, value: Option<&S>, now: u64) -> Result<u64, RejectReason> {
        self.user_cutoff(value, now).map(|(before, _)| before)
    }

    /// A stored user cutoff and the login it spares, if any; refused as [`cutoff`](Self::cutoff).
    fn user_cutoff<S: Source + ?Sized>(
        &self,
        value: Option<&S>,
        now: u64,
    ) -> Result<(u64, Option<Lineage>), RejectReason> {
        let Some(value) = value else {
            return Ok((0, None));
        };
        let cutoff = Cutoff::decode(value)?;
        if cutoff.before > now.saturating_add(self.policy.clock_skew_ms) {
            return Err(RejectReason::CorruptCutoff);
        }
        Ok((cutoff.before, cutoff.keep))
    }

    /// Judges `pending` against what the store holds; the record is the authority. `Ok(None)`
    /// when the record is not visible here yet (see [`resume`](Self::resume)). A refusal for
    /// revocation is remembered, so the fast path refuses the same session from then on.
    fn judge<S: Source + ?Sized>(
        &mut self,
        pending: &Pending,
        fetched: &Fetched<'_, S>,
        now: u64,
    ) -> Result<Option<Record>, RejectReason> {
        let verdict = self.judge_store(pending, fetched, now);
        let forget = self.forget_after(now);
        let overflowed = match verdict {
            Err(reason @ (RejectReason::Rotated | RejectReason::SessionNotFound)) => self
                .revocations
                .revoke_session(pending.handle.clone(), reason, forget, now),
            Err(RejectReason::Revoked) => {
                let lineage = pending.verified.claims.lineage;
                self.revocations
                    .revoke_lineage(lineage, RejectReason::Revoked, forget, now)
            }
            _ => false,
        };
        self.overflow_unreported |= overflowed;
        verdict
    }

    fn judge_store<S: Source + ?Sized>(
        &mut self,
        pending: &Pending,
        fetched: &Fetched<'_, S>,
        now: u64,
    ) -> Result<Option<Record>, RejectReason> {
        let claims = &pending.verified.claims;
        let global = self.cutoff(fetched.global_cutoff, now)?;
        self.revocations.revoke_issued_before(global);
        // `c:` spares nobody (an exception found there is not one this library wrote there).
        if claims.created_at < self.cutoff(fetched.user_cutoff, now)? {
            return Err(RejectReason::Revoked);
        }
        let (others, keep) = self.user_cutoff(fetched.others_cutoff, now)?;
        if claims.created_at < others && keep != Some(claims.lineage) {
            return Err(RejectReason::Revoked);
        }
        if let Some(value) = fetched.lineage {
            return Err(match RecordState::decode(value)? {
                RecordState::Ended(tombstone) => tombstone.ended.reason(),
                RecordState::Live(_) => RejectReason::CorruptRecord,
            });
        }
        if let Some(reason) = self.remembered(pending, now) {
            return Err(reason);
        }
        if now >= claims.absolute_deadline {
            return Err(RejectReason::ExpiredAbsolute);
        }
        let Some(record) = fetched.record else {
            // KV takes up to its propagation delay to show a new record in other locations. An
            // envelope signed that recently may name a record that is simply not here yet: no
            // reason to log anyone out. Records are never deleted, only tombstoned, and outlive
            // their sessions, so past that window absence means the session is gone.
            let window = KV_PROPAGATION_MS
                .saturating_add(self.policy.clock_skew_ms)
                .saturating_add(self.policy.write_grace_ms);
            if now >= claims.issued_at.saturating_add(window) {
                return Err(RejectReason::SessionNotFound);
            }
            if now >= claims.idle_deadline {
                return Err(RejectReason::ExpiredIdle);
            }
            // Only the current key may vouch for a session on its envelope alone: a previous key
            // is trusted only through a record it points at, so a leaked old key cannot mint
            // sessions. Try again shortly (the cookie is kept).
            if pending.verified.key_id != self.ring.current_id() {
                return Err(RejectReason::StoreUnavailable);
            }
            return Ok(None);
        };
        let record = match RecordState::decode(record)? {
            RecordState::Live(record) => record,
            RecordState::Ended(tombstone) => return Err(tombstone.ended.reason()),
        };
        if record.user_id != claims.user_id
            || record.created_at != claims.created_at
            || record.generation != claims.generation
            || record.absolute_deadline != claims.absolute_deadline
            || record.lineage != claims.lineage
            || record.data != claims.data
        {
            return Err(RejectReason::RecordMismatch);
        }
        // Idle is judged from the envelope's signing time: signed proof of the last refresh.
        if now >= claims.issued_at.saturating_add(record.idle_timeout_ms) {
            return Err(RejectReason::ExpiredIdle);
        }
        Ok(Some(record))
    }

    /// Continues a `NeedRecord` session from what the store holds: re-checks revocation and
    /// deadlines against the record and the cutoffs, signs a new envelope when the old one
    /// expired or was signed by a previous key, and asks for a last-seen write at most once per
    /// touch interval. It never writes the record, its index entry or a cutoff.
    pub fn resume<S: Source + ?Sized>(
        &mut self,
        pending: &Pending,
        fetched: &Fetched<'_, S>,
        now: u64,
    ) -> Result<Refreshed, RejectReason> {
        let judged = self.judge(pending, fetched, now)?;
        let claims = &pending.verified.claims;
        let stale = now >= claims.expires_at || pending.verified.key_id != self.ring.current_id();
        // A fresh envelope needs nothing new; one whose record is not visible here yet is
        // accepted on the envelope alone, unsigned, so the next request asks the store again
        // (for at most the propagation delay).
        let Some(record) = judged.filter(|_| stale) else {
            return Ok(Refreshed {
                session: pending.session(),
                set_cookie: None,
                effects: Effects::default(),
            });
        };
        let fresh = self.claims_for(claims.session_id.clone(), &record, now);
        let mut effects = Effects::default();
        let interval = self.policy.touch_interval_ms.max(1_000);
        if now / interval != claims.issued_at / interval {
            let touch = Value::Touch(Touch {
                v: STORE_VERSION,
                last_seen_at: now,
            });
            effects.puts.push(Put {
                key: pending.handle.touch_key(&record.user_id),
                value: touch.clone(),
                expiration_ttl: Some(ttl_until(record.absolute_deadline, now)),
                metadata: Some(touch),
            });
        }
        Ok(Refreshed {
            set_cookie: Some(self.seal(&fresh, now)),
            session: Session::from_claims(&fresh, pending.handle.clone()),
            effects,
        })
    }

    /// Gives a session a new ID (login completion, privilege change), optionally with new data.
    /// The store is judged as in [`resume`](Self::resume); the new session keeps the user,
    /// creation time and absolute deadline (rotation never extends a session's life).
    ///
    /// Nothing changes in memory here: write `issued.effects`, then call
    /// [`remember_ended`](Self::remember_ended) for the old handle and write `retire`.
    pub fn rotate<S: Source + ?Sized>(
        &mut self,
        pending: &Pending,
        fetched: &Fetched<'_, S>,
        change: DataChange,
        now: u64,
    ) -> Result<Rotation, RejectReason> {
        // A record not visible here yet cannot be copied: try again shortly (cookie kept).
        let old = self
            .judge(pending, fetched, now)?
            .ok_or(RejectReason::StoreUnavailable)?;
        let mut record = old.clone();
        record.generation = record.generation.saturating_add(1);
        if let DataChange::Set(data) = change {
            record.data = data.map(|d| d.0);
        }
        let issued = self
            .start(record, now)
            .map_err(|_| RejectReason::StoreUnavailable)?;
        Ok(Rotation {
            issued,
            retire: self.ending(
                &pending.handle,
                None,
                &old.user_id,
                old.absolute_deadline,
                Ended::Rotated,
                now,
            ),
            previous: pending.handle.clone(),
        })
    }

    /// The writes that end a session: its record becomes a tombstone (kept until the session's
    /// own absolute deadline, so no envelope can outlive it), its index and last-seen keys go;
    /// with `lineage`, the login itself ends too (every rotation of it, wherever made).
    fn ending(
        &self,
        handle: &SessionHandle,
        lineage: Option<&Lineage>,
        user_id: &str,
        absolute_deadline: u64,
        ended: Ended,
        now: u64,
    ) -> Effects {
        let tombstone = |key: String| Put {
            key,
            value: Value::Tombstone(Tombstone {
                v: STORE_VERSION,
                ended,
                at: now,
            }),
            expiration_ttl: Some(ttl_until(absolute_deadline, now)),
            metadata: None,
        };
        let mut puts = vec![tombstone(handle.storage_key())];
        puts.extend(lineage.map(|l| tombstone(l.storage_key(user_id))));
        Effects {
            puts,
            deletes: vec![handle.index_key(user_id), handle.touch_key(user_id)],
        }
    }

    /// How long a revoked handle must be refused in memory: until any envelope signed before
    /// now from a stale read has expired, allowing for clock skew.
    fn forget_after(&self, now: u64) -> u64 {
        // Plus KV's propagation delay: until then even this location may serve a cached copy of
        // the record from before the tombstone, and a refresh here must not accept it.
        now.saturating_add(self.policy.envelope_ttl_ms)
            .saturating_add(self.policy.clock_skew_ms)
            .saturating_add(KV_PROPAGATION_MS)
    }

    /// Makes this isolate refuse `handle` at once. Returns true when the revocation memory was
    /// full and the isolate went strict to make room (report it).
    pub fn remember_ended(&mut self, handle: &SessionHandle, ended: Ended, now: u64) -> bool {
        self.revocations
            .revoke_session(handle.clone(), ended.reason(), self.forget_after(now), now)
    }

    /// Keeps refusing `handle` in this isolate until `until` (the session's absolute deadline):
    /// for a logout or rotation whose store write failed, so the session stays refused here
    /// although its record may still be live. Returns [`remember_ended`](Self::remember_ended)'s
    /// bool.
    pub fn hold_ended(
        &mut self,
        handle: &SessionHandle,
        ended: Ended,
        until: u64,
        now: u64,
    ) -> bool {
        let until = until.max(self.forget_after(now));
        self.revocations
            .revoke_session(handle.clone(), ended.reason(), until, now)
    }

    /// Keeps refusing every session of `lineage` in this isolate until `until` (the session's
    /// absolute deadline): for a logout whose store write failed.
    pub fn hold_lineage(&mut self, lineage: &Lineage, until: u64, now: u64) -> bool {
        let until = until.max(self.forget_after(now));
        self.revocations
            .revoke_lineage(*lineage, RejectReason::Revoked, until, now)
    }

    /// Logs a session out: this isolate refuses its envelope at once, and the returned writes
    /// tombstone its record and drop its index and last-seen keys. The bool is
    /// [`remember_ended`](Self::remember_ended)'s.
    pub fn destroy(&mut self, pending: &Pending, now: u64) -> (Effects, bool) {
        let claims = &pending.verified.claims;
        let overflowed = self.revocations.revoke_lineage(
            claims.lineage,
            RejectReason::Revoked,
            self.forget_after(now),
            now,
        );
        let effects = self.ending(
            &pending.handle,
            Some(&claims.lineage),
            &claims.user_id,
            claims.absolute_deadline,
            Ended::Revoked,
            now,
        );
        (effects, overflowed)
    }

    /// Revokes the session named by `handle`, whose stored record is `record`. With `owner`,
    /// only a session of that user is revoked. `None` when there is no such live session (or it
    /// belongs to someone else); a corrupt record is treated as absent. The bool is
    /// [`remember_ended`](Self::remember_ended)'s.
    pub fn revoke_handle<S: Source + ?Sized>(
        &mut self,
        handle: &SessionHandle,
        record: Option<&S>,
        owner: Option<&str>,
        now: u64,
    ) -> Option<(String, Effects, bool)> {
        let RecordState::Live(record) = RecordState::decode(record?).ok()? else {
            return None;
        };
        if owner.is_some_and(|owner| owner != record.user_id) || now >= record.absolute_deadline {
            return None;
        }
        let overflowed = self.revocations.revoke_lineage(
            record.lineage,
            RejectReason::Revoked,
            self.forget_after(now),
            now,
        );
        let effects = self.ending(
            handle,
            Some(&record.lineage),
            &record.user_id,
            record.absolute_deadline,
            Ended::Revoked,
            now,
        );
        Some((record.user_id, effects, overflowed))
    }

    /// The key to delete when `stored`, the user's "other sessions" cutoff (`o:`), is unreadable
    /// or in the future: until it is gone every refresh of the user fails closed
    /// (`corrupt_cutoff`), and only [`revoke_user`](Self::revoke_user) can clear it, since the
    /// plain cutoff it writes refuses everything the lost one could have.
    pub fn corrupt_others_cutoff<S: Source + ?Sized>(
        &self,
        user_id: &str,
        stored: Option<&S>,
        now: u64,
    ) -> Option<String> {
        self.user_cutoff(stored, now)
            .is_err()
            .then(|| others_cutoff_key(user_id))
    }

    /// Revokes every session of `user_id` created up to and including `now` (a login in the same
    /// millisecond is refused too: the safe side). Given the stored cutoff (`c:<user hash>`),
    /// returns the write that raises it; it never lowers it, and a corrupt one is replaced. This
    /// isolate refuses those sessions at once; every other isolate at its next refresh. Then list
    /// [`user_index_prefix`] and end what it returns with [`end_listed`](Self::end_listed).
    pub fn revoke_user<S: Source + ?Sized>(
        &mut self,
        user_id: &str,
        stored: Option<&S>,
        now: u64,
    ) -> (Effects, bool) {
        self.revoke_user_except(user_id, None, stored, now)
    }

    /// As [`revoke_user`](Self::revoke_user), sparing the login `keep` ("log out my other
    /// sessions": the caller's own login, every rotation of it included, stays valid). With
    /// `keep`, `stored` is the user's "other sessions" cutoff and the write goes there
    /// (`o:<user hash>`), apart from the plain cutoff (`c:`), which an exception can therefore
    /// never replace or undo, even when written from a stale read. A later exception replaces
    /// an earlier one.
    pub fn revoke_user_except<S: Source + ?Sized>(
        &mut self,
        user_id: &str,
        keep: Option<&Lineage>,
        stored: Option<&S>,
        now: u64,
    ) -> (Effects, bool) {
        // A corrupt or future stored value is replaced rather than kept (it would lock the user
        // out for good).
        let stored = self.cutoff(stored, now).unwrap_or(0);
        let before = stored.max(now.saturating_add(1));
        let forget = self.cutoff_forget(now);
        let overflowed =
            self.revocations
                .revoke_user_except(user_id, before, keep.copied(), forget, now);
        let key = match keep {
            None => user_cutoff_key(user_id),
            Some(_) => others_cutoff_key(user_id),
        };
        let effects = Effects {
            puts: vec![Put {
                key,
                value: Value::Cutoff(Cutoff {
                    v: STORE_VERSION,
                    before,
                    at: now,
                    keep: keep.copied(),
                }),
                expiration_ttl: Some(USER_CUTOFF_TTL_SECS),
                metadata: None,
            }],
            deletes: Vec::new(),
        };
        (effects, overflowed)
    }

    /// "Log out my other sessions": judges `pending` against the store as a rotation does (its
    /// record, its login's tombstone, every cutoff, this isolate's memory), so a session that an
    /// earlier revocation ended cannot make itself the exception; then revokes every session of
    /// its user created up to now except its own login (see
    /// [`revoke_user_except`](Self::revoke_user_except)), given the stored user cutoff read
    /// with it. A record not visible here yet is [`RejectReason::StoreUnavailable`].
    pub fn revoke_others<S: Source + ?Sized>(
        &mut self,
        pending: &Pending,
        fetched: &Fetched<'_, S>,
        now: u64,
    ) -> Result<(Effects, bool), RejectReason> {
        self.judge(pending, fetched, now)?
            .ok_or(RejectReason::StoreUnavailable)?;
        let lineage = *pending.lineage();
        Ok(self.revoke_user_except(
            pending.user_id(),
            Some(&lineage),
            fetched.others_cutoff,
            now,
        ))
    }

    /// The writes that end each listed session of `user_id` created before `before` (the cutoff
    /// [`revoke_user`](Self::revoke_user) wrote), from `(key name, metadata)` pairs of a listing
    /// of [`user_index_prefix`]. A login made while the listing ran is left alone; names that are
    /// not index keys of this user, or whose metadata is unreadable, are skipped (the cutoff
    /// refuses those sessions anyway: this only tidies the index and gives the reason).
    pub fn end_listed<S: Source + ?Sized>(
        &self,
        user_id: &str,
        before: u64,
        listed: &[(&str, Option<&S>)],
        now: u64,
    ) -> Effects {
        self.end_listed_except(user_id, before, None, listed, now)
    }

    /// As [`end_listed`](Self::end_listed), leaving the sessions of the login `keep` alone.
    pub fn end_listed_except<S: Source + ?Sized>(
        &self,
        user_id: &str,
        before: u64,
        keep: Option<&Lineage>,
        listed: &[(&str, Option<&S>)],
        now: u64,
    ) -> Effects {
        let prefix = user_index_prefix(user_id);
        let mut effects = Effects::default();
        for (name, metadata) in listed {
            let Some(handle) = name
                .strip_prefix(prefix.as_str())
                .and_then(|h| SessionHandle::parse(h).ok())
            else {
                continue;
            };
            let Some(entry) = metadata.and_then(|m| IndexEntry::decode(m)) else {
                continue;
            };
            if entry.created_at >= before || Some(&entry.lineage) == keep {
                continue;
            }
            // The user's cutoff already ends every lineage; tombstone the records for the reason.
            let ending = self.ending(
                &handle,
                None,
                user_id,
                entry.absolute_deadline,
                Ended::Revoked,
                now,
            );
            effects.puts.extend(ending.puts);
            effects.deletes.extend(ending.deletes);
        }
        effects
    }

    /// Refuses a global cutoff later than now plus the clock skew.
    pub fn check_issued_before(&self, before: u64, now: u64) -> Result<(), ConfigError> {
        if before > now.saturating_add(self.policy.clock_skew_ms) {
            return Err(ConfigError::InvalidTime(
                "issuedBefore is in the future; it must be unix milliseconds no later than now",
            ));
        }
        Ok(())
    }

    /// Revokes every session created before `before`. Refuses a time later than now plus the
    /// clock skew (a µs/ms mix-up would lock everyone out for good). Given the stored global
    /// cutoff, returns the write: the highest of `before`, the stored value and this isolate's
    /// own, so a write never lowers it. A corrupt stored value is replaced (the bool says so).
    pub fn revoke_issued_before<S: Source + ?Sized>(
        &mut self,
        before: u64,
        stored: Option<&S>,
        now: u64,
    ) -> Result<(Effects, bool), ConfigError> {
        self.check_issued_before(before, now)?;
        // Unreadable or later than now: replaced, never adopted (a µs/ms mix-up written by some
        // other tool must be repairable).
        let (stored, corrupt) = match self.cutoff(stored, now) {
            Ok(before) => (before, false),
            Err(_) => (0, true),
        };
        let cutoff = before.max(stored).max(self.revocations.issued_before());
        self.revocations.revoke_issued_before(cutoff);
        // Write only to raise it: a write that changes nothing could still land after a
        // concurrent higher one (last write wins) and lower it.
        let raises = corrupt || cutoff > stored;
        let effects = Effects {
            puts: raises
                .then(|| Put {
                    key: GLOBAL_CUTOFF_KEY.to_owned(),
                    value: Value::Cutoff(Cutoff {
                        v: STORE_VERSION,
                        before: cutoff,
                        at: now,
                        keep: None,
                    }),
                    expiration_ttl: None,
                    metadata: None,
                })
                .into_iter()
                .collect(),
            deletes: Vec::new(),
        };
        Ok((effects, corrupt))
    }

    /// A user's live sessions, newest first, from listings of [`user_index_prefix`] and
    /// [`touch_prefix`] (`(key name, metadata)` pairs) and the key names under
    /// [`lineage_prefix`]. Only indexed sessions of logins that have not ended appear: a
    /// last-seen key alone (rewritten by a stale refresh after a logout) shows nothing, and a
    /// login ended through another generation's cookie hides all its generations.
    pub fn list_sessions<S: Source + ?Sized>(
        &self,
        user_id: &str,
        index: &[(&str, Option<&S>)],
        touches: &[(&str, Option<&S>)],
        ended: &[&str],
        now: u64,
    ) -> Vec<SessionInfo> {
        let index_prefix = user_index_prefix(user_id);
        let touch_prefix = touch_prefix(user_id);
        let ended_prefix = lineage_prefix(user_id);
        let ended: Vec<&str> = ended
            .iter()
            .filter_map(|name| name.strip_prefix(ended_prefix.as_str()))
            .collect();
        let mut sessions: Vec<SessionInfo> = index
            .iter()
            .filter_map(|(name, metadata)| {
                let handle = name.strip_prefix(index_prefix.as_str())?;
                SessionHandle::parse(handle).ok()?;
                let entry = IndexEntry::decode((*metadata)?)?;
                let live = entry.absolute_deadline > now
                    && !ended.contains(&entry.lineage.text().as_str());
                live.then(|| SessionInfo {
                    handle: handle.to_owned(),
                    created_at: entry.created_at,
                    last_seen_at: entry.created_at,
                    absolute_expires_at: entry.absolute_deadline,
                    user_agent: entry.user_agent,
                })
            })
            .collect();
        for (name, metadata) in touches {
            let (Some(handle), Some(touch)) = (
                name.strip_prefix(touch_prefix.as_str()),
                metadata.and_then(|m| Touch::decode(m)),
            ) else {
                continue;
            };
            if let Some(s) = sessions.iter_mut().find(|s| s.handle == handle) {
                s.last_seen_at = s.last_seen_at.max(touch.last_seen_at);
            }
        }
        stable_sort(sessions, &|a: &SessionInfo, b| a.created_at > b.created_at)
    }

    /// The store prefix listing `user_id`'s sessions.
    pub fn user_index_prefix(&self, user_id: &str) -> String {
        user_index_prefix(user_id)
    }

    /// The store prefix listing `user_id`'s ended logins.
    pub fn lineage_prefix(&self, user_id: &str) -> String {
        lineage_prefix(user_id)
    }

    /// The store prefix listing `user_id`'s last-seen times.
    pub fn touch_prefix(&self, user_id: &str) -> String {
        touch_prefix(user_id)
    }

    /// The KV key of `user_id`'s revocation cutoff.
    pub fn user_cutoff_key(&self, user_id: &str) -> String {
        user_cutoff_key(user_id)
    }
}

/// `items` sorted so that `before(a, b)` items come first, equal ones in their order: a plain
/// merge sort, a fraction of the standard library's stable sort in the wasm build (which needs
/// one only for devices listings).
fn stable_sort<T>(mut items: Vec<T>, before: &impl Fn(&T, &T) -> bool) -> Vec<T> {
    if items.len() < 2 {
        return items;
    }
    let right = items.split_off(items.len() / 2);
    let (left, right) = (stable_sort(items, before), stable_sort(right, before));
    let mut out = Vec::with_capacity(left.len() + right.len());
    let (mut left, mut right) = (left.into_iter().peekable(), right.into_iter().peekable());
    loop {
        let from_right = match (left.peek(), right.peek()) {
            (Some(l), Some(r)) => before(r, l),
            (Some(_), None) => false,
            (None, Some(_)) => true,
            (None, None) => return out,
        };
        out.extend(if from_right {
            right.next()
        } else {
            left.next()
        });
    }
}

#[cfg(test)]
mod tests {
    use super::stable_sort;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn stable_sort_is_the_standard_stable_sort(keys in prop::collection::vec(0u8..8, 0..200)) {
            let items: Vec<(u8, usize)> = keys.into_iter().zip(0..).collect();
            let mut expected = items.clone();
            expected.sort_by_key(|(k, _)| core::cmp::Reverse(*k));
            prop_assert_eq!(stable_sort(items, &|a: &(u8, usize), b| a.0 > b.0), expected);
        }
    }
}
