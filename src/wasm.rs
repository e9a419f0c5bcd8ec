//! JS bindings (feature `wasm`): converts between JS values and core types, nothing more.
//!
//! Hot-path results are read through getters (strings and numbers), not serialised objects.
//! Options and store writes are read and built with `Reflect` directly: serde-wasm-bindgen would
//! add more code to the module than these few fields justify.

use js_sys::{Array, Object, Reflect};
use wasm_bindgen::prelude::*;

use crate::{
    ConfigError, CookieConfig, Decision, Effects, Engine, KeyRing, Pending, Policy, RejectReason,
    SameSite, Session, SessionHandle,
};

fn config_error(err: &ConfigError) -> JsValue {
    let error = js_sys::Error::new(&err.to_string());
    error.set_name("SessionConfigError");
    // Setting a property on a fresh Error object cannot fail.
    let _ = js_sys::Reflect::set(&error, &"reason".into(), &err.code().into());
    error.into()
}

/// Unix ms from JS: NaN and negatives become 0 (the epoch), which only ever makes things expire.
fn ms(value: f64) -> u64 {
    if value.is_finite() && value > 0.0 {
        value as u64
    } else {
        0
    }
}

/// Reads one field of the options object; `undefined` and `null` read as absent.
fn field(options: &JsValue, name: &str) -> Option<JsValue> {
    Reflect::get(options, &JsValue::from_str(name))
        .ok()
        .filter(|v| !v.is_undefined() && !v.is_null())
}

fn number_field(options: &JsValue, name: &str) -> Result<Option<u64>, JsValue> {
    match field(options, name) {
        None => Ok(None),
        Some(v) => match v.as_f64() {
            Some(n) if n.is_finite() && n >= 0.0 => Ok(Some(n as u64)),
            _ => Err(config_error(&ConfigError::InvalidTimeouts(
                "times must be non-negative numbers",
            ))),
        },
    }
}

fn string_field(
    options: &JsValue,
    name: &str,
    err: ConfigError,
) -> Result<Option<String>, JsValue> {
    match field(options, name) {
        None => Ok(None),
        Some(v) => v.as_string().map(Some).ok_or_else(|| config_error(&err)),
    }
}

fn set(target: &Object, name: &str, value: &JsValue) {
    // Defining a property on a plain new object cannot fail.
    let _ = Reflect::set(target, &JsValue::from_str(name), value);
}

enum State {
    Valid { session: Session, refreshed: bool },
    Pending(Pending),
    Rejected(RejectReason),
    Done,
}

/// The result of an engine call: a session, an authenticated envelope awaiting its record, a
/// rejection, or store effects alone.
#[wasm_bindgen]
pub struct Outcome {
    state: State,
    set_cookie: Option<String>,
    effects: Effects,
    previous: Option<String>,
    user_id: Option<String>,
}

impl Outcome {
    fn new(state: State) -> Self {
        Self {
            state,
            set_cookie: None,
            effects: Effects::default(),
            previous: None,
            user_id: None,
        }
    }

    fn session(&self) -> Option<&Session> {
        match &self.state {
            State::Valid { session, .. } => Some(session),
            _ => None,
        }
    }

    fn time(&self, pick: fn(&Session) -> u64) -> f64 {
        self.session().map_or(f64::NAN, |s| pick(s) as f64)
    }
}

#[wasm_bindgen]
impl Outcome {
    /// "valid", "need_record", "rejected" or "done".
    #[wasm_bindgen(getter)]
    pub fn kind(&self) -> String {
        match self.state {
            State::Valid { .. } => "valid",
            State::Pending(_) => "need_record",
            State::Rejected(_) => "rejected",
            State::Done => "done",
        }
        .into()
    }

    /// The reject reason code, when rejected.
    #[wasm_bindgen(getter)]
    pub fn reason(&self) -> Option<String> {
        match self.state {
            State::Rejected(reason) => Some(reason.code().into()),
            _ => None,
        }
    }

    /// Whether the record was consulted.
    #[wasm_bindgen(getter)]
    pub fn refreshed(&self) -> bool {
        matches!(
            self.state,
            State::Valid {
                refreshed: true,
                ..
            }
        )
    }

    /// The KV key of the record to read (need_record).
    #[wasm_bindgen(getter, js_name = storageKey)]
    pub fn storage_key(&self) -> Option<String> {
        match &self.state {
            State::Pending(p) => Some(p.storage_key()),
            _ => None,
        }
    }

    /// The `Set-Cookie` value to send, if any.
    #[wasm_bindgen(getter, js_name = setCookie)]
    pub fn set_cookie(&self) -> Option<String> {
        self.set_cookie.clone()
    }

    /// The user (valid sessions, pending envelopes, revocations).
    #[wasm_bindgen(getter, js_name = userId)]
    pub fn user_id(&self) -> Option<String> {
        match &self.state {
            State::Valid { session, .. } => Some(session.user_id.clone()),
            State::Pending(p) => Some(p.user_id().to_owned()),
            _ => self.user_id.clone(),
        }
    }

    /// The session's handle (valid sessions and pending envelopes).
    #[wasm_bindgen(getter)]
    pub fn handle(&self) -> Option<String> {
        match &self.state {
            State::Valid { session, .. } => Some(session.handle.to_string()),
            State::Pending(p) => Some(p.handle().to_string()),
            _ => None,
        }
    }

    /// The replaced handle, after rotation.
    #[wasm_bindgen(getter, js_name = previousHandle)]
    pub fn previous_handle(&self) -> Option<String> {
        self.previous.clone()
    }

    /// Login time (unix ms), NaN unless valid.
    #[wasm_bindgen(getter, js_name = createdAt)]
    pub fn created_at(&self) -> f64 {
        self.time(|s| s.created_at)
    }

    /// Envelope signing time (unix ms), NaN unless valid.
    #[wasm_bindgen(getter, js_name = issuedAt)]
    pub fn issued_at(&self) -> f64 {
        self.time(|s| s.issued_at)
    }

    /// Envelope expiry (unix ms), NaN unless valid.
    #[wasm_bindgen(getter, js_name = envelopeExpiresAt)]
    pub fn envelope_expires_at(&self) -> f64 {
        self.time(|s| s.envelope_expires_at)
    }

    /// Idle deadline (unix ms), NaN unless valid.
    #[wasm_bindgen(getter, js_name = idleExpiresAt)]
    pub fn idle_expires_at(&self) -> f64 {
        self.time(|s| s.idle_expires_at)
    }

    /// Absolute deadline (unix ms), NaN unless valid.
    #[wasm_bindgen(getter, js_name = absoluteExpiresAt)]
    pub fn absolute_expires_at(&self) -> f64 {
        self.time(|s| s.absolute_expires_at)
    }

    /// Rotation count, -1 unless valid.
    #[wasm_bindgen(getter)]
    pub fn generation(&self) -> f64 {
        self.session().map_or(-1.0, |s| f64::from(s.generation))
    }

    /// Store writes: `[{ key, value, ttl, metadata? }]` (`metadata` is JSON text).
    pub fn puts(&self) -> Array {
        self.effects
            .puts
            .iter()
            .map(|p| {
                let put = Object::new();
                set(&put, "key", &JsValue::from_str(&p.key));
                set(&put, "value", &JsValue::from_str(&p.value));
                set(&put, "ttl", &JsValue::from_f64(p.ttl_secs as f64));
                if let Some(metadata) = &p.metadata {
                    set(&put, "metadata", &JsValue::from_str(metadata));
                }
                JsValue::from(put)
            })
            .collect()
    }

    /// Store deletions: `[key]`.
    pub fn deletes(&self) -> Array {
        self.effects
            .deletes
            .iter()
            .map(|k| JsValue::from_str(k))
            .collect()
    }
}

/// The session engine for one isolate: keys, policy, cookie and in-memory revocations.
#[wasm_bindgen(js_name = Engine)]
pub struct JsEngine {
    engine: Engine,
}

fn rejected(reason: RejectReason) -> Outcome {
    Outcome::new(State::Rejected(reason))
}

fn pending_of(outcome: &Outcome) -> Option<&Pending> {
    match &outcome.state {
        State::Pending(p) => Some(p),
        _ => None,
    }
}

#[wasm_bindgen(js_class = Engine)]
impl JsEngine {
    /// Builds an engine from `{ keys, envelopeTtlMs, idleTimeoutMs, absoluteTimeoutMs,
    /// touchIntervalMs, clockSkewMs, strict, cookieName, secure, sameSite, path, domain }`.
    /// Throws a `SessionConfigError` with a `reason` code for bad settings.
    #[wasm_bindgen(constructor)]
    pub fn new(options: JsValue) -> Result<JsEngine, JsValue> {
        let o = &options;
        let bad_keys = ConfigError::InvalidKeyRing("keys must be a string of id:secret pairs");
        let keys =
            string_field(o, "keys", bad_keys.clone())?.ok_or_else(|| config_error(&bad_keys))?;
        let ring = KeyRing::parse(&keys).map_err(|e| config_error(&e))?;
        let defaults = Policy::default();
        let envelope = number_field(o, "envelopeTtlMs")?.unwrap_or(defaults.envelope_ttl_ms);
        let idle = number_field(o, "idleTimeoutMs")?.unwrap_or(defaults.idle_timeout_ms);
        let absolute =
            number_field(o, "absoluteTimeoutMs")?.unwrap_or(defaults.absolute_timeout_ms);
        let mut policy = Policy::new(envelope, idle, absolute).map_err(|e| config_error(&e))?;
        if let Some(touch) = number_field(o, "touchIntervalMs")? {
            policy.touch_interval_ms = touch;
        }
        if let Some(skew) = number_field(o, "clockSkewMs")? {
            policy.clock_skew_ms = skew;
        }
        policy.check().map_err(|e| config_error(&e))?;
        policy.strict = field(o, "strict").is_some_and(|v| v.is_truthy());
        let bad_cookie = || ConfigError::InvalidCookie("cookie settings must be strings");
        let same_site = match string_field(o, "sameSite", bad_cookie())? {
            Some(s) => SameSite::parse(&s).map_err(|e| config_error(&e))?,
            None => SameSite::Lax,
        };
        let name = string_field(o, "cookieName", bad_cookie())?;
        let path = string_field(o, "path", bad_cookie())?;
        let domain = string_field(o, "domain", bad_cookie())?;
        let secure = field(o, "secure").map_or(true, |v| v.is_truthy());
        let cookie = CookieConfig::new(
            name.as_deref().unwrap_or("__Host-session"),
            secure,
            same_site,
            path.as_deref().unwrap_or("/"),
            domain.as_deref(),
        )
        .map_err(|e| config_error(&e))?;
        let engine = Engine::new(ring, policy, cookie).map_err(|e| config_error(&e))?;
        Ok(Self { engine })
    }

    /// The cookie's full name.
    #[wasm_bindgen(getter, js_name = cookieName)]
    pub fn cookie_name(&self) -> String {
        self.engine.cookie().name().to_owned()
    }

    /// The `Set-Cookie` value that deletes the session cookie.
    #[wasm_bindgen(js_name = clearCookie)]
    pub fn clear_cookie(&self) -> String {
        self.engine.clear_cookie()
    }

    /// Judges a Cookie header: valid (no store access), need_record, or rejected.
    pub fn validate(&self, cookie_header: Option<String>, now: f64) -> Outcome {
        match self.engine.validate(cookie_header.as_deref(), ms(now)) {
            Decision::Valid {
                session,
                set_cookie,
            } => Outcome {
                set_cookie,
                ..Outcome::new(State::Valid {
                    session,
                    refreshed: false,
                })
            },
            Decision::NeedRecord(pending) => Outcome::new(State::Pending(pending)),
            Decision::Reject(reason) => rejected(reason),
        }
    }

    /// Verifies the envelope without judging expiry (for logout and rotation).
    pub fn authenticate(&self, cookie_header: Option<String>, now: f64) -> Outcome {
        match self.engine.authenticate(cookie_header.as_deref(), ms(now)) {
            Ok(pending) => Outcome::new(State::Pending(pending)),
            Err(reason) => rejected(reason),
        }
    }

    /// Continues a need_record outcome with the stored record (undefined when absent).
    pub fn resume(&self, pending: &Outcome, record: Option<String>, now: f64) -> Outcome {
        let Some(p) = pending_of(pending) else {
            return rejected(RejectReason::Malformed);
        };
        match self.engine.resume(p, record.as_deref(), ms(now)) {
            Ok(r) => Outcome {
                set_cookie: r.set_cookie,
                effects: r.effects,
                ..Outcome::new(State::Valid {
                    session: r.session,
                    refreshed: true,
                })
            },
            Err(reason) => rejected(reason),
        }
    }

    /// Logs a user in with a new session. Throws for an invalid user id.
    pub fn issue(
        &self,
        user_id: &str,
        user_agent: Option<String>,
        now: f64,
    ) -> Result<Outcome, JsValue> {
        let issued = self
            .engine
            .issue(user_id, user_agent.as_deref(), ms(now))
            .map_err(|e| config_error(&e))?;
        Ok(Outcome {
            set_cookie: Some(issued.set_cookie),
            effects: issued.effects,
            ..Outcome::new(State::Valid {
                session: issued.session,
                refreshed: false,
            })
        })
    }

    /// Rotates an authenticated session's ID, given its stored record.
    pub fn rotate(&mut self, pending: &Outcome, record: Option<String>, now: f64) -> Outcome {
        let Some(p) = pending_of(pending) else {
            return rejected(RejectReason::Malformed);
        };
        match self.engine.rotate(p, record.as_deref(), ms(now)) {
            Ok(issued) => Outcome {
                set_cookie: Some(issued.set_cookie),
                effects: issued.effects,
                previous: issued.previous.map(|h| h.to_string()),
                ..Outcome::new(State::Valid {
                    session: issued.session,
                    refreshed: true,
                })
            },
            Err(reason) => rejected(reason),
        }
    }

    /// Logs an authenticated session out: returns the deletions to apply.
    pub fn destroy(&mut self, pending: &Outcome, now: f64) -> Outcome {
        let Some(p) = pending_of(pending) else {
            return rejected(RejectReason::Malformed);
        };
        let effects = self.engine.destroy(p, ms(now));
        Outcome {
            effects,
            user_id: Some(p.user_id().to_owned()),
            ..Outcome::new(State::Done)
        }
    }

    /// Revokes the session `handle` given its stored record; with `owner`, only that user's.
    /// Returns undefined when there is no such live session. Throws for a malformed handle.
    #[wasm_bindgen(js_name = revokeHandle)]
    pub fn revoke_handle(
        &mut self,
        handle: &str,
        record: Option<String>,
        owner: Option<String>,
        now: f64,
    ) -> Result<Option<Outcome>, JsValue> {
        let handle = SessionHandle::parse(handle).map_err(|e| config_error(&e))?;
        Ok(self
            .engine
            .revoke_handle(&handle, record.as_deref(), owner.as_deref(), ms(now))
            .map(|(user_id, effects)| Outcome {
                effects,
                user_id: Some(user_id),
                ..Outcome::new(State::Done)
            }))
    }

    /// The KV key of the record named by `handle`. Throws for a malformed handle.
    #[wasm_bindgen(js_name = storageKeyOf)]
    pub fn storage_key_of(&self, handle: &str) -> Result<String, JsValue> {
        SessionHandle::parse(handle)
            .map(|h| h.storage_key())
            .map_err(|e| config_error(&e))
    }

    /// The store prefix under which `user_id`'s sessions are indexed.
    #[wasm_bindgen(js_name = userIndexPrefix)]
    pub fn user_index_prefix(&self, user_id: &str) -> String {
        self.engine.user_index_prefix(user_id)
    }

    /// Refuses, in this isolate, every session of `user_id` created up to and including `now`.
    #[wasm_bindgen(js_name = revokeUser)]
    pub fn revoke_user(&mut self, user_id: &str, now: f64) {
        self.engine.revoke_user(user_id, ms(now));
    }

    /// Refuses, in this isolate, every session created before `before`.
    #[wasm_bindgen(js_name = revokeIssuedBefore)]
    pub fn revoke_issued_before(&mut self, before: f64) {
        self.engine.revoke_issued_before(ms(before));
    }

    /// The global cutoff in force in this isolate (unix ms; 0 when none).
    #[wasm_bindgen(getter, js_name = issuedBefore)]
    pub fn issued_before(&self) -> f64 {
        self.engine.revocations().issued_before() as f64
    }
}
