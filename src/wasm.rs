//! JS bindings (feature `wasm`): one call per step, plain data in and out, nothing to free.
//!
//! Values cross with serde-wasm-bindgen. Stored values arrive already parsed by the host
//! (`JSON.parse`; the raw text when it is not JSON) and the core checks their shape, so the wasm
//! build carries no JSON parser. Every decision stays in the core: this file converts and
//! delegates.

use serde::de::DeserializeOwned;
use serde::Serialize;
use wasm_bindgen::prelude::*;

use crate::envelope::DecodeBuffer;
use crate::options::{check_names, Options};
use crate::record::{RecordState, Source};
use crate::{
    Checked, ConfigError, DataChange, Decision, Effects, Ended, Engine, Fetched, HubEntry,
    HubRevocation, Lineage, Pending, Put, RejectReason, Session, SessionData, SessionHandle,
    SessionId, SessionInfo, GLOBAL_CUTOFF_KEY, HANDLE_LEN, MAX_COOKIE_HEADER_LEN, TAG_LEN,
};

impl Source for JsValue {
    fn read_as<T: DeserializeOwned>(&self) -> Option<T> {
        serde_wasm_bindgen::from_value(self.clone()).ok()
    }
}

fn config_error(err: &ConfigError) -> JsValue {
    let error = js_sys::Error::new(&err.to_string());
    error.set_name("SessionConfigError");
    // Setting a property on a fresh Error object cannot fail.
    let _ = js_sys::Reflect::set(&error, &"reason".into(), &err.code().into());
    error.into()
}

/// Unix ms from JS: NaN and negatives become 0 (the epoch), which only ever makes things expire;
/// anything beyond 2^52 (year 144,683) is clamped so every derived time stays an exact JS number.
fn ms(value: f64) -> u64 {
    const MAX: f64 = 4_503_599_627_370_496.0;
    if value.is_finite() && value > 0.0 {
        value.min(MAX) as u64
    } else {
        0
    }
}

fn to_js<T: Serialize + ?Sized>(value: &T) -> JsValue {
    let serializer = serde_wasm_bindgen::Serializer::new()
        .serialize_missing_as_null(true)
        .serialize_maps_as_objects(true);
    // Our outputs are structs of strings, bools and integers below 2^53: they always convert.
    value.serialize(&serializer).unwrap_or(JsValue::NULL)
}

/// `null` and `undefined` (an absent key) read as `None`.
fn present(value: &JsValue) -> Option<&JsValue> {
    (!value.is_null() && !value.is_undefined()).then_some(value)
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Accepted<'a> {
    ok: bool,
    session: &'a Session,
    set_cookie: Option<&'a str>,
    refreshed: bool,
    #[serde(skip_serializing_if = "<[_]>::is_empty")]
    puts: &'a [Put],
    #[serde(skip_serializing_if = "<[_]>::is_empty")]
    deletes: &'a [String],
}

impl<'a> Accepted<'a> {
    fn new(
        session: &'a Session,
        set_cookie: Option<&'a str>,
        refreshed: bool,
        e: &'a Effects,
    ) -> Self {
        Self {
            ok: true,
            session,
            set_cookie,
            refreshed,
            puts: &e.puts,
            deletes: &e.deletes,
        }
    }
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Refusal<'a> {
    ok: bool,
    reason: &'static str,
    set_cookie: Option<String>,
    handle: Option<&'a str>,
    /// Remembering this refusal overflowed the revocation memory (the isolate went strict).
    #[serde(skip_serializing_if = "core::ops::Not::not")]
    overflow: bool,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Need<'a> {
    need: [String; 5],
    handle: &'a str,
    user_id: &'a str,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Writes<'a> {
    ok: bool,
    handle: Option<&'a str>,
    user_id: Option<&'a str>,
    /// The ended session's lineage and absolute deadline (for `holdEnded` when writes fail).
    lineage: Option<String>,
    until: Option<u64>,
    puts: &'a [Put],
    deletes: &'a [String],
    /// The revocation memory was full: the isolate reads records until entries age out.
    overflow: bool,
    /// A stored value was corrupt and is being replaced.
    corrupt: bool,
    /// What to append to the revocation hub (when the isolate follows one).
    #[serde(skip_serializing_if = "Option::is_none")]
    hub: Option<HubEntry>,
    /// The cutoff written (user revocations).
    #[serde(skip_serializing_if = "Option::is_none")]
    before: Option<u64>,
}

impl<'a> Writes<'a> {
    fn new(e: &'a Effects) -> Self {
        Self {
            ok: true,
            handle: None,
            user_id: None,
            lineage: None,
            until: None,
            puts: &e.puts,
            deletes: &e.deletes,
            overflow: false,
            corrupt: false,
            hub: None,
            before: None,
        }
    }
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Held {
    overflow: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    hub: Option<HubEntry>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct HubApplied {
    ok: bool,
    more: bool,
    overflow: bool,
    /// The sequence number to pull after next.
    after: u64,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct HubClaim {
    after: u64,
    out_of_reach: bool,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct HubStatus {
    seq: u64,
    head: u64,
    last_pull_at: Option<u64>,
    out_of_reach: bool,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Rotated<'a> {
    ok: bool,
    session: &'a Session,
    set_cookie: &'a str,
    puts: &'a [Put],
    deletes: &'a [String],
    retire: &'a Effects,
    previous_handle: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    hub: Option<HubEntry>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct UserKeys {
    index: String,
    touch: String,
    ended: String,
    cutoff: String,
    others: String,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Status {
    issued_before: u64,
    revoked_sessions: usize,
    revoked_users: usize,
    strict: bool,
    hub: Option<HubStatus>,
}

/// The session engine for one isolate: keys, policy, cookie and in-memory revocations.
#[wasm_bindgen(js_name = Engine)]
pub struct JsEngine {
    engine: Engine,
    settings: JsValue,
    fast: Box<FastIo>,
}

/// How many numbers [`JsEngine::check`] writes to `out`.
const FAST_OUT: usize = 11;

/// Slots of the fast path's memo (see [`JsEngine::check`]); a slot is the tag's first byte.
const MEMO_SLOTS: usize = 256;

/// Buffers the fast path shares with JS through the module's memory, so a valid session crosses
/// the boundary as ten numbers and two byte ranges: no allocation, no object built here. JS
/// writes the `Cookie` header into `input` (`TextEncoder.encodeInto`), calls `check`, reads `out`
/// and decodes the user id (and data) straight from `raw`, where the envelope was decoded.
struct FastIo {
    input: [u8; MAX_COOKIE_HEADER_LEN],
    raw: DecodeBuffer,
    out: [f64; FAST_OUT],
    handle: [u8; HANDLE_LEN],
    /// The tag of the envelope whose derived strings JS keeps in each slot.
    memo: [Option<[u8; TAG_LEN]>; MEMO_SLOTS],
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct FastLayout {
    input: usize,
    input_len: usize,
    out: usize,
    handle: usize,
}

fn fetched(values: &[JsValue]) -> Fetched<'_, JsValue> {
    let at = |i: usize| values.get(i).and_then(present);
    Fetched::from_reads([at(0), at(1), at(2), at(3), at(4)])
}

/// A listing as `(name, metadata)` pairs: `names[i]` with `metadata[i]`.
fn pairs<'a>(names: &'a [String], metadata: &'a [JsValue]) -> Vec<(&'a str, Option<&'a JsValue>)> {
    names
        .iter()
        .enumerate()
        .map(|(i, n)| (n.as_str(), metadata.get(i).and_then(present)))
        .collect()
}

fn data_of(json: Option<String>) -> Result<Option<SessionData>, JsValue> {
    json.map(|d| SessionData::new(&d))
        .transpose()
        .map_err(|e| config_error(&e))
}

#[wasm_bindgen(js_class = Engine)]
impl JsEngine {
    /// Builds an engine from the `SessionManager` options less `store`, `now` and `onEvent`.
    /// Throws a `SessionConfigError` with a `reason` code for unknown or bad settings.
    #[wasm_bindgen(constructor)]
    pub fn new(options: JsValue) -> Result<JsEngine, JsValue> {
        let names = |value: &JsValue| -> Vec<String> {
            if value.is_object() {
                js_sys::Object::keys(value.unchecked_ref::<js_sys::Object>())
                    .iter()
                    .filter_map(|k| k.as_string())
                    .collect()
            } else {
                Vec::new()
            }
        };
        let cookie = js_sys::Reflect::get(&options, &"cookie".into()).unwrap_or(JsValue::UNDEFINED);
        let (top, cookie) = (names(&options), names(&cookie));
        check_names(
            top.iter().map(String::as_str),
            cookie.iter().map(String::as_str),
        )
        .map_err(|e| config_error(&e))?;
        let options: Options = serde_wasm_bindgen::from_value(options).map_err(|e| {
            let text = e.to_string();
            let text = text.strip_prefix("Error: ").unwrap_or(&text).to_owned();
            config_error(&ConfigError::InvalidOption(text))
        })?;
        let (engine, settings) = options.build().map_err(|e| config_error(&e))?;
        Ok(Self {
            engine,
            settings: to_js(&settings),
            fast: Box::new(FastIo {
                input: [0; MAX_COOKIE_HEADER_LEN],
                raw: [0; core::mem::size_of::<DecodeBuffer>()],
                out: [0.0; FAST_OUT],
                handle: [0; HANDLE_LEN],
                memo: [None; MEMO_SLOTS],
            }),
        })
    }

    /// Where the fast path's buffers are: `{ memory, input, inputLen, out, handle }` (the module's
    /// `WebAssembly.Memory` and byte offsets into it). Views over them must be rebuilt whenever
    /// `memory.buffer` changes (the memory grew).
    #[wasm_bindgen(js_name = fastLayout)]
    pub fn fast_layout(&self) -> JsValue {
        let layout = to_js(&FastLayout {
            input: self.fast.input.as_ptr() as usize,
            input_len: MAX_COOKIE_HEADER_LEN,
            out: self.fast.out.as_ptr() as usize,
            handle: self.fast.handle.as_ptr() as usize,
        });
        let _ = js_sys::Reflect::set(&layout, &"memory".into(), &wasm_bindgen::memory());
        layout
    }

    /// The fast path: judges the `Cookie` header JS wrote into the input buffer (`len` bytes).
    /// Returns 0 when the session is not valid on its envelope alone (call `validate` for the
    /// refusal or the reads to make). Otherwise fills `out` with `[createdAt, issuedAt,
    /// envelopeExpiresAt, idleExpiresAt, absoluteExpiresAt, generation, userId offset, userId
    /// length, data offset, data length, memo slot]` (offsets into memory; data length 0 = none)
    /// and returns 1 or 2:
    /// - 1: a new envelope for its memo slot; the handle buffer holds the session's handle (43
    ///   ASCII bytes), and JS keeps the strings it decodes (user id, handle, data text) in that
    ///   slot;
    /// - 2: the same envelope as the one last kept in that slot (the slots are keyed by the
    ///   verified tag, which covers every field): JS reuses that slot's strings, and the handle's
    ///   SHA-256 is not computed again.
    ///
    /// Every call verifies the tag and judges expiry and revocation afresh; the memo only spares
    /// re-deriving strings from an envelope already verified. It holds tags, never session IDs.
    pub fn check(&mut self, len: usize, now: f64) -> u32 {
        let FastIo {
            input,
            raw,
            out,
            handle,
            memo,
        } = &mut *self.fast;
        let Some(header) = input
            .get(..len)
            .and_then(|bytes| core::str::from_utf8(bytes).ok())
        else {
            return 0;
        };
        let Checked::Valid(view) = self.engine.check(Some(header), ms(now), raw) else {
            return 0;
        };
        let slot = usize::from(view.tag[0]);
        let kept = memo.get_mut(slot);
        let hit = kept.as_deref() == Some(&Some(*view.tag));
        if !hit {
            // One SHA-256 compression, cheaper than any way for JS to ask for the handle later.
            SessionId::handle_into(view.session_id, handle);
            if let Some(kept) = kept {
                *kept = Some(*view.tag);
            }
        }
        let (data_at, data_len) = view.data.map_or((0, 0), |d| (d.as_ptr() as usize, d.len()));
        *out = [
            view.created_at as f64,
            view.issued_at as f64,
            view.expires_at as f64,
            view.idle_deadline as f64,
            view.absolute_deadline as f64,
            f64::from(view.generation),
            view.user_id.as_ptr() as usize as f64,
            view.user_id.len() as f64,
            data_at as f64,
            data_len as f64,
            slot as f64,
        ];
        if hit {
            2
        } else {
            1
        }
    }

    /// `{ cookieName, storeTimeoutMs }`.
    #[wasm_bindgen(getter)]
    pub fn settings(&self) -> JsValue {
        self.settings.clone()
    }

    /// The `Set-Cookie` value that deletes the session cookie.
    #[wasm_bindgen(js_name = clearCookie)]
    pub fn clear_cookie(&self) -> String {
        self.engine.clear_cookie()
    }

    /// The hub entry announcing `revocation`, when this isolate follows a hub.
    fn hub_entry(&self, revocation: HubRevocation, now: u64) -> Option<HubEntry> {
        self.engine.hub()?;
        Some(self.engine.hub_entry(revocation, now))
    }

    fn refusal(&self, reason: RejectReason, handle: Option<&str>) -> JsValue {
        self.refusal_noting(reason, handle, false)
    }

    /// A refusal after judging against the store, which may have overflowed the memory.
    fn judged_refusal(&mut self, reason: RejectReason, handle: &str) -> JsValue {
        let overflow = self.engine.take_overflow();
        self.refusal_noting(reason, Some(handle), overflow)
    }

    fn refusal_noting(
        &self,
        reason: RejectReason,
        handle: Option<&str>,
        overflow: bool,
    ) -> JsValue {
        to_js(&Refusal {
            ok: false,
            reason: reason.code(),
            set_cookie: reason.clears_cookie().then(|| self.engine.clear_cookie()),
            handle,
            overflow,
        })
    }

    /// The header's authentic session (see `Engine::authenticate`), or its refusal to answer.
    fn authenticated(&self, cookie_header: Option<String>, now: u64) -> Result<Pending, JsValue> {
        self.engine
            .authenticate(cookie_header.as_deref(), now)
            .map_err(|reason| self.refusal(reason, None))
    }

    fn need(pending: &Pending) -> JsValue {
        to_js(&Need {
            need: pending.reads(),
            handle: pending.handle().as_str(),
            user_id: pending.user_id(),
        })
    }

    /// Judges a Cookie header: `{ ok: true, session, ... }` (no store access), `{ need: [keys],
    /// handle, userId }` (read those keys and call `resume`), or `{ ok: false, reason, setCookie }`.
    pub fn validate(&self, cookie_header: Option<String>, now: f64) -> JsValue {
        match self.engine.validate(cookie_header.as_deref(), ms(now)) {
            Decision::Valid(session) => {
                to_js(&Accepted::new(&session, None, false, &Effects::default()))
            }
            Decision::NeedRecord(pending) => Self::need(&pending),
            Decision::Reject(reason) => self.refusal(reason, None),
        }
    }

    /// Verifies the envelope without judging expiry (logout, rotation): `{ need, handle, userId }`
    /// or a refusal.
    pub fn authenticate(&self, cookie_header: Option<String>, now: f64) -> JsValue {
        match self.engine.authenticate(cookie_header.as_deref(), ms(now)) {
            Ok(pending) => Self::need(&pending),
            Err(reason) => self.refusal(reason, None),
        }
    }

    /// Judges the header against the values read for `need` (parsed; `null` when absent).
    pub fn resume(
        &mut self,
        cookie_header: Option<String>,
        values: Vec<JsValue>,
        now: f64,
    ) -> JsValue {
        let now = ms(now);
        let pending = match self.authenticated(cookie_header, now) {
            Ok(pending) => pending,
            Err(refusal) => return refusal,
        };
        match self.engine.resume(&pending, &fetched(&values), now) {
            Ok(r) => to_js(&Accepted::new(
                &r.session,
                r.set_cookie.as_deref(),
                true,
                &r.effects,
            )),
            Err(reason) => self.judged_refusal(reason, pending.handle().as_str()),
        }
    }

    /// Logs a user in: `{ ok, session, setCookie, puts, deletes }`. `data` is JSON object text.
    /// Throws for an invalid user id or data.
    pub fn issue(
        &self,
        user_id: &str,
        user_agent: Option<String>,
        data: Option<String>,
        now: f64,
    ) -> Result<JsValue, JsValue> {
        let issued = self
            .engine
            .issue(user_id, user_agent.as_deref(), data_of(data)?, ms(now))
            .map_err(|e| config_error(&e))?;
        Ok(to_js(&Accepted::new(
            &issued.session,
            Some(&issued.set_cookie),
            false,
            &issued.effects,
        )))
    }

    /// Checks session data (JSON object text of at most 1024 bytes). Throws when it is not.
    #[wasm_bindgen(js_name = checkData)]
    pub fn check_data(&self, data: &str) -> Result<(), JsValue> {
        data_of(Some(data.to_owned())).map(|_| ())
    }

    /// Rotates the header's session given the values read for it; with `change`, sets its data
    /// to `data` (JSON text, or undefined for none). Returns the new session's writes (apply
    /// first), then `retire` (apply after `rememberRotated(previousHandle)`), or a refusal.
    pub fn rotate(
        &mut self,
        cookie_header: Option<String>,
        values: Vec<JsValue>,
        change: bool,
        data: Option<String>,
        now: f64,
    ) -> Result<JsValue, JsValue> {
        let change = if change {
            DataChange::Set(data_of(data)?)
        } else {
            DataChange::Keep
        };
        let now = ms(now);
        let pending = match self.authenticated(cookie_header, now) {
            Ok(pending) => pending,
            Err(refusal) => return Ok(refusal),
        };
        Ok(
            match self.engine.rotate(&pending, &fetched(&values), change, now) {
                Ok(r) => to_js(&Rotated {
                    ok: true,
                    session: &r.issued.session,
                    set_cookie: &r.issued.set_cookie,
                    puts: &r.issued.effects.puts,
                    deletes: &r.issued.effects.deletes,
                    retire: &r.retire,
                    previous_handle: r.previous.as_str(),
                    hub: self.hub_entry(
                        HubRevocation::Session {
                            handle: r.previous.to_string(),
                        },
                        now,
                    ),
                }),
                Err(reason) => self.judged_refusal(reason, pending.handle().as_str()),
            },
        )
    }

    /// Makes this isolate refuse a rotated-away handle. Returns true when the revocation memory
    /// was full (the isolate now reads records until entries age out).
    #[wasm_bindgen(js_name = rememberRotated)]
    pub fn remember_rotated(&mut self, handle: &str, now: f64) -> Result<bool, JsValue> {
        let handle = SessionHandle::parse(handle).map_err(|e| config_error(&e))?;
        Ok(self.engine.remember_ended(&handle, Ended::Rotated, ms(now)))
    }

    /// Keeps refusing, until `until` (the session's absolute deadline), a login whose logout could
    /// not be written (`target` its lineage, `reason` "revoked") or an old ID whose retirement
    /// could not be written (`target` its handle, "rotated"). Returns `{ overflow, hub }`:
    /// whether the revocation memory was full, and (with a hub) the entry that makes every
    /// isolate hold it as long.
    #[wasm_bindgen(js_name = holdEnded)]
    pub fn hold_ended(
        &mut self,
        target: &str,
        reason: &str,
        until: f64,
        now: f64,
    ) -> Result<JsValue, JsValue> {
        let (until, now) = (ms(until), ms(now));
        let lineage = (reason == "revoked")
            .then(|| Lineage::parse(target))
            .flatten();
        let (overflow, revocation) = match lineage {
            Some(lineage) => (
                self.engine.hold_lineage(&lineage, until, now),
                HubRevocation::Login {
                    lineage: lineage.text(),
                },
            ),
            None => {
                let handle = SessionHandle::parse(target).map_err(|e| config_error(&e))?;
                (
                    self.engine.hold_ended(&handle, Ended::Rotated, until, now),
                    HubRevocation::Session {
                        handle: handle.to_string(),
                    },
                )
            }
        };
        let hub = self
            .engine
            .hub()
            .map(|_| self.engine.hub_entry_held(revocation, until, now));
        Ok(to_js(&Held { overflow, hub }))
    }

    /// Logs the header's session out: this isolate refuses it at once; returns `{ ok, handle,
    /// userId, until, puts, deletes, overflow }` or a refusal (nothing to log out).
    pub fn destroy(&mut self, cookie_header: Option<String>, now: f64) -> JsValue {
        let now = ms(now);
        let pending = match self.engine.identify(cookie_header.as_deref(), now) {
            Ok(pending) => pending,
            Err(reason) => return self.refusal(reason, None),
        };
        let (effects, overflow) = self.engine.destroy(&pending, now);
        to_js(&Writes {
            handle: Some(pending.handle().as_str()),
            user_id: Some(pending.user_id()),
            lineage: Some(pending.lineage().text()),
            until: Some(pending.session().absolute_expires_at),
            overflow,
            hub: self.hub_entry(
                HubRevocation::Login {
                    lineage: pending.lineage().text(),
                },
                now,
            ),
            ..Writes::new(&effects)
        })
    }

    /// The KV key of the record named by `handle`. Throws for a malformed handle.
    #[wasm_bindgen(js_name = recordKey)]
    pub fn record_key(&self, handle: &str) -> Result<String, JsValue> {
        SessionHandle::parse(handle)
            .map(|h| h.storage_key())
            .map_err(|e| config_error(&e))
    }

    /// Revokes the session `handle` given its stored record; with `owner`, only that user's.
    /// `undefined` when there is no such live session. Throws for a malformed handle.
    #[wasm_bindgen(js_name = revokeHandle)]
    pub fn revoke_handle(
        &mut self,
        handle: &str,
        record: JsValue,
        owner: Option<String>,
        now: f64,
    ) -> Result<JsValue, JsValue> {
        let parsed = SessionHandle::parse(handle).map_err(|e| config_error(&e))?;
        // Its lineage and deadline, for `holdEnded` should the writes fail.
        let ended = match present(&record).map(RecordState::decode) {
            Some(Ok(RecordState::Live(r))) => Some((r.lineage.text(), r.absolute_deadline)),
            _ => None,
        };
        let now = ms(now);
        Ok(
            match self
                .engine
                .revoke_handle(&parsed, present(&record), owner.as_deref(), now)
            {
                Some((user_id, effects, overflow)) => to_js(&Writes {
                    handle: Some(handle),
                    user_id: Some(&user_id),
                    hub: ended.as_ref().and_then(|(lineage, _)| {
                        self.hub_entry(
                            HubRevocation::Login {
                                lineage: lineage.clone(),
                            },
                            now,
                        )
                    }),
                    lineage: ended.as_ref().map(|(l, _)| l.clone()),
                    until: ended.map(|(_, until)| until),
                    overflow,
                    ..Writes::new(&effects)
                }),
                None => JsValue::UNDEFINED,
            },
        )
    }

    /// The store keys of a user: `{ index, touch, ended, cutoff }` (three list prefixes and one
    /// key).
    #[wasm_bindgen(js_name = userKeys)]
    pub fn user_keys(&self, user_id: &str) -> JsValue {
        to_js(&UserKeys {
            index: self.engine.user_index_prefix(user_id),
            touch: self.engine.touch_prefix(user_id),
            ended: self.engine.lineage_prefix(user_id),
            cutoff: self.engine.user_cutoff_key(user_id),
            others: crate::others_cutoff_key(user_id),
        })
    }

    /// Revokes every session of `user_id` created up to now, given the stored cutoff: this
    /// isolate at once; returns the cutoff write.
    #[wasm_bindgen(js_name = revokeUser)]
    pub fn revoke_user(
        &mut self,
        user_id: &str,
        stored: JsValue,
        stored_others: JsValue,
        now: f64,
    ) -> JsValue {
        let now = ms(now);
        let (effects, overflow) =
            self.engine
                .revoke_user_except(user_id, None, present(&stored), now);
        let out = self.cutoff_writes(user_id, None, &effects, overflow, now);
        // An unreadable "other sessions" cutoff would fail every refresh of the user closed for
        // good: the plain cutoff written now covers all it could refuse, so it goes, but only
        // once that cutoff is stored (`repair`: keys to delete after `puts` succeeded).
        let repair: Vec<String> = self
            .engine
            .corrupt_others_cutoff(user_id, present(&stored_others), now)
            .into_iter()
            .collect();
        let _ = js_sys::Reflect::set(&out, &"repair".into(), &to_js(&repair));
        out
    }

    /// A user cutoff's writes, with the hub entry announcing it.
    fn cutoff_writes(
        &self,
        user_id: &str,
        keep: Option<&Lineage>,
        effects: &Effects,
        overflow: bool,
        now: u64,
    ) -> JsValue {
        let before = match effects.puts.first().map(|p| &p.value) {
            Some(crate::Value::Cutoff(c)) => c.before,
            _ => now.saturating_add(1),
        };
        to_js(&Writes {
            overflow,
            before: Some(before),
            lineage: keep.map(Lineage::text),
            hub: self.hub_entry(
                HubRevocation::User {
                    user_id: user_id.to_owned(),
                    before,
                    keep: keep.map(Lineage::text),
                },
                now,
            ),
            ..Writes::new(effects)
        })
    }

    /// "Log out my other sessions": judges the header's session against the values read for
    /// `need` (as `rotate` does), then revokes every session of its user created up to now
    /// except those of its own login. Returns the cutoff write (`{ puts, before, lineage,
    /// userId, handle, session, hub }`; then list and `endListed` with `lineage`), or a refusal.
    #[wasm_bindgen(js_name = revokeOthers)]
    pub fn revoke_others(
        &mut self,
        cookie_header: Option<String>,
        values: Vec<JsValue>,
        now: f64,
    ) -> JsValue {
        let now = ms(now);
        let pending = match self.authenticated(cookie_header, now) {
            Ok(pending) => pending,
            Err(refusal) => return refusal,
        };
        let (effects, overflow) = match self.engine.revoke_others(&pending, &fetched(&values), now)
        {
            Ok(out) => out,
            Err(reason) => return self.judged_refusal(reason, pending.handle().as_str()),
        };
        let lineage = *pending.lineage();
        let out = self.cutoff_writes(pending.user_id(), Some(&lineage), &effects, overflow, now);
        let _ = js_sys::Reflect::set(&out, &"userId".into(), &pending.user_id().into());
        let _ = js_sys::Reflect::set(&out, &"handle".into(), &pending.handle().as_str().into());
        let _ = js_sys::Reflect::set(&out, &"session".into(), &to_js(&pending.session()));
        out
    }

    /// The writes ending each listed index key of `user_id` (`names[i]` with `metadata[i]`)
    /// created before `before`, the cutoff `revokeUser` wrote; with `keep` (a lineage), that
    /// login's sessions are left alone.
    #[wasm_bindgen(js_name = endListed)]
    pub fn end_listed(
        &self,
        user_id: &str,
        before: f64,
        names: Vec<String>,
        metadata: Vec<JsValue>,
        now: f64,
        keep: Option<String>,
    ) -> JsValue {
        let keep = keep.as_deref().and_then(Lineage::parse);
        let effects = self.engine.end_listed_except(
            user_id,
            ms(before),
            keep.as_ref(),
            &pairs(&names, &metadata),
            ms(now),
        );
        to_js(&Writes::new(&effects))
    }

    /// The KV key of the global cutoff.
    #[wasm_bindgen(getter, js_name = globalCutoffKey)]
    pub fn global_cutoff_key(&self) -> String {
        GLOBAL_CUTOFF_KEY.to_owned()
    }

    /// Revokes every session created before `before` given the stored cutoff; returns the write
    /// (never lowering it). Throws `invalid_time` for a time later than now plus the skew.
    #[wasm_bindgen(js_name = revokeIssuedBefore)]
    pub fn revoke_issued_before(
        &mut self,
        before: f64,
        stored: JsValue,
        now: f64,
    ) -> Result<JsValue, JsValue> {
        self.check_time(before, now)?;
        let now = ms(now);
        let (effects, corrupt) = self
            .engine
            .revoke_issued_before(ms(before), present(&stored), now)
            .map_err(|e| config_error(&e))?;
        let before = self.engine.revocations().issued_before();
        Ok(to_js(&Writes {
            corrupt,
            before: Some(before),
            hub: self.hub_entry(HubRevocation::Before { before }, now),
            ..Writes::new(&effects)
        }))
    }

    /// Throws `invalid_time` unless `before` is whole unix milliseconds no later than now plus
    /// the clock skew.
    #[wasm_bindgen(js_name = checkTime)]
    pub fn check_time(&self, before: f64, now: f64) -> Result<(), JsValue> {
        if !before.is_finite() || before < 0.0 || before.fract() != 0.0 {
            return Err(config_error(&ConfigError::InvalidTime(
                "issuedBefore must be a whole number of unix milliseconds",
            )));
        }
        self.engine
            .check_issued_before(ms(before), ms(now))
            .map_err(|e| config_error(&e))
    }

    /// A user's live sessions from three listings (`names`/`metadata` pairs of the index and
    /// last-seen prefixes, and the key names under the ended-logins prefix), newest first.
    #[wasm_bindgen(js_name = listSessions)]
    // Three listings as parallel arrays: plain arrays cross the boundary without a serde pass.
    #[allow(clippy::too_many_arguments)]
    pub fn list_sessions(
        &self,
        user_id: &str,
        index_names: Vec<String>,
        index_metadata: Vec<JsValue>,
        touch_names: Vec<String>,
        touch_metadata: Vec<JsValue>,
        ended_names: Vec<String>,
        now: f64,
    ) -> JsValue {
        let index = pairs(&index_names, &index_metadata);
        let touches = pairs(&touch_names, &touch_metadata);
        let ended: Vec<&str> = ended_names.iter().map(String::as_str).collect();
        let sessions: Vec<SessionInfo> =
            self.engine
                .list_sessions(user_id, &index, &touches, &ended, ms(now));
        to_js(&sessions)
    }

    /// This isolate's revocation state: `{ issuedBefore, revokedSessions, revokedUsers, strict }`.
    pub fn status(&self, now: f64) -> JsValue {
        let now = ms(now);
        let r = self.engine.revocations();
        let (revoked_sessions, revoked_users) = r.counts();
        to_js(&Status {
            issued_before: r.issued_before(),
            revoked_sessions,
            revoked_users,
            // Whether this isolate reads the record on every request, for whatever reason.
            strict: r.strict(now)
                || self.engine.policy().strict
                || self.engine.hub().is_some_and(|h| h.unreachable(now)),
            hub: self.engine.hub().map(|h| HubStatus {
                seq: h.seq(),
                head: h.head(),
                last_pull_at: h.last_ok(),
                out_of_reach: h.unreachable(now),
            }),
        })
    }

    /// With a hub, when a pull is due (or with `force`, always): claims it and returns
    /// `{ after, outOfReach }` (the
    /// sequence number to pull after; whether the isolate reads records on every request until a
    /// pull succeeds). Otherwise undefined: go on without pulling.
    #[wasm_bindgen(js_name = hubClaim)]
    pub fn hub_claim(&mut self, now: f64, force: bool) -> JsValue {
        let now = ms(now);
        match self.engine.hub_claim(now, force) {
            Some(after) => to_js(&HubClaim {
                after,
                out_of_reach: self.engine.hub().is_some_and(|h| h.out_of_reach(now)),
            }),
            None => JsValue::UNDEFINED,
        }
    }

    /// Applies a page the hub answered (`{ entries, head, log }`, parsed): `{ ok, more,
    /// overflow }`; `ok: false` for a malformed page (a failed pull).
    #[wasm_bindgen(js_name = hubApply)]
    pub fn hub_apply(&mut self, page: JsValue, after: f64, now: f64) -> JsValue {
        let applied = match self.engine.hub_apply_pulled(&page, ms(after), ms(now)) {
            Ok(more) => HubApplied {
                ok: true,
                more,
                overflow: self.engine.take_overflow(),
                after: self.engine.hub().map_or(0, |h| h.seq()),
            },
            Err(_) => HubApplied {
                ok: false,
                more: false,
                overflow: false,
                after: 0,
            },
        };
        to_js(&applied)
    }

    /// Records a pull that failed or timed out.
    #[wasm_bindgen(js_name = hubFailed)]
    pub fn hub_failed(&mut self, now: f64) {
        self.engine.hub_failed(ms(now));
    }
}

/// Reports on a cookie value, `Set-Cookie` line or `Cookie` header without trusting it (see
/// `edge_session::inspect`): `{ cookieName, found, length, envelope, problem, verified }`. With
/// `keys` (a `SESSION_KEYS` spec) it verifies the envelope for `cookieName` (default
/// `__Host-session`) and says why not. Throws a `SessionConfigError` for bad keys or a bad
/// cookie name. Never returns a secret or the raw session ID.
#[wasm_bindgen(js_name = inspectEnvelope)]
pub fn inspect_envelope(
    input: &str,
    keys: Option<String>,
    cookie_name: Option<String>,
) -> Result<JsValue, JsValue> {
    let ring = keys
        .as_deref()
        .map(crate::KeyRing::parse)
        .transpose()
        .map_err(|e| config_error(&e))?;
    let name = cookie_name.unwrap_or_else(|| crate::CookieConfig::default().name().to_owned());
    crate::inspect::inspect(input, ring.as_ref(), &name)
        .map(|report| to_js(&report))
        .map_err(|e| config_error(&e))
}
