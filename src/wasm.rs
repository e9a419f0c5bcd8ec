//! JS bindings (feature `wasm`): one call per step, plain data in and out, nothing to free.
//!
//! Only strings and numbers cross. JS hands over JSON text: the options (`JSON.stringify`),
//! stored values exactly as KV returned them, listing metadata and hub pages; the core reads it
//! with its own small reader (`src/json.rs`). Results go back as JSON text the core writes,
//! turned into objects by one imported `JSON.parse` call, so the JS API is unchanged. The fast
//! path (`fastLayout` / `check`) crosses as numbers over shared buffers and builds nothing.
//!
//! Why: serde-wasm-bindgen's (de)serialisers, serde and the `core::fmt` they pull in were four
//! fifths of the module (ARCHITECTURE.md, "The wasm boundary"). Every decision stays in the
//! core: this file converts and delegates.

use alloc::{borrow::ToOwned, boxed::Box, string::String, vec::Vec};
use wasm_bindgen::prelude::*;

use crate::envelope::DecodeBuffer;
use crate::js::{config_error, json_parse};
use crate::json::{self, ObjectWriter};
use crate::options::Options;
use crate::record::RecordState;
use crate::{
    Checked, ConfigError, DataChange, Decision, Effects, Ended, Engine, Fetched, HubEntry,
    HubRevocation, Lineage, Pending, Put, RejectReason, Session, SessionData, SessionHandle,
    SessionId, SessionInfo, GLOBAL_CUTOFF_KEY, HANDLE_LEN, MAX_COOKIE_HEADER_LEN, TAG_LEN,
};

#[wasm_bindgen]
extern "C" {
    /// The object `fastLayout` returns.
    type Layout;

    #[wasm_bindgen(method, setter)]
    fn set_memory(this: &Layout, memory: JsValue);
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

/// A JSON object written by `write`, as a JS object.
fn object(write: impl FnOnce(&mut ObjectWriter<'_>)) -> JsValue {
    let mut text = String::new();
    let mut o = ObjectWriter::new(&mut text);
    write(&mut o);
    o.end();
    json_parse(&text)
}

/// Stored text from JS: a string, or `None` for `null`/`undefined` (an absent key). Anything
/// else is no value this library wrote: it reads as corrupt.
fn text(value: &JsValue) -> Option<String> {
    if value.is_null() || value.is_undefined() {
        None
    } else {
        Some(value.as_string().unwrap_or_else(|| "\u{0}".to_owned()))
    }
}

fn texts(values: &[JsValue]) -> Vec<Option<String>> {
    values.iter().map(text).collect()
}

fn fetched(values: &[Option<String>]) -> Fetched<'_, str> {
    let at = |i: usize| values.get(i).and_then(Option::as_deref);
    Fetched::from_reads([at(0), at(1), at(2), at(3), at(4)])
}

/// A listing as `(name, metadata)` pairs: `names[i]` with `metadata[i]` (JSON text or null).
fn pairs<'a>(
    names: &'a [String],
    metadata: &'a [Option<String>],
) -> Vec<(&'a str, Option<&'a str>)> {
    names
        .iter()
        .enumerate()
        .map(|(i, n)| (n.as_str(), metadata.get(i).and_then(Option::as_deref)))
        .collect()
}

fn data_of(json: Option<String>) -> Result<Option<SessionData>, JsValue> {
    json.map(|d| SessionData::new(&d))
        .transpose()
        .map_err(|e| config_error(&e))
}

fn write_session(out: &mut String, s: &Session) {
    let mut o = ObjectWriter::new(out);
    o.str("userId", &s.user_id)
        .str("handle", s.handle.as_str())
        .u64("createdAt", s.created_at)
        .u64("issuedAt", s.issued_at)
        .u64("envelopeExpiresAt", s.envelope_expires_at)
        .u64("idleExpiresAt", s.idle_expires_at)
        .u64("absoluteExpiresAt", s.absolute_expires_at)
        .u64("generation", s.generation.into())
        .opt_str("data", s.data.as_deref());
    o.end();
}

fn write_puts(out: &mut String, puts: &[Put]) {
    json::push_array(out, puts, |out, p| {
        let mut o = ObjectWriter::new(out);
        o.str("key", &p.key);
        p.value.write_json(o.key("value"));
        o.opt_u64("expirationTtl", p.expiration_ttl);
        match &p.metadata {
            Some(m) => m.write_json(o.key("metadata")),
            None => {
                o.raw("metadata", "null");
            }
        }
        o.end();
    });
}

fn write_strings(out: &mut String, items: &[String]) {
    json::push_array(out, items, |out, s| json::push_str(out, s));
}

/// `puts` and `deletes` members.
fn effects(o: &mut ObjectWriter<'_>, e: &Effects) {
    write_puts(o.key("puts"), &e.puts);
    write_strings(o.key("deletes"), &e.deletes);
}

fn hub_member(o: &mut ObjectWriter<'_>, hub: Option<&HubEntry>) {
    if let Some(entry) = hub {
        entry.write_json(o.key("hub"));
    }
}

/// An accepted session: `{ ok, session, setCookie, refreshed, puts?, deletes? }`.
fn accepted(session: &Session, set_cookie: Option<&str>, refreshed: bool, e: &Effects) -> JsValue {
    object(|o| {
        o.bool("ok", true);
        write_session(o.key("session"), session);
        o.opt_str("setCookie", set_cookie)
            .bool("refreshed", refreshed);
        if !e.puts.is_empty() {
            write_puts(o.key("puts"), &e.puts);
        }
        if !e.deletes.is_empty() {
            write_strings(o.key("deletes"), &e.deletes);
        }
    })
}

/// What a revocation writes: `{ ok, handle, userId, lineage, until, puts, deletes, overflow,
/// corrupt, hub?, before? }`, then whatever `extra` adds.
#[derive(Default)]
struct Writes<'a> {
    handle: Option<&'a str>,
    user_id: Option<&'a str>,
    /// The ended session's lineage and absolute deadline (for `holdEnded` when writes fail).
    lineage: Option<String>,
    until: Option<u64>,
    /// The revocation memory was full: the isolate reads records until entries age out.
    overflow: bool,
    /// A stored value was corrupt and is being replaced.
    corrupt: bool,
    /// What to append to the revocation hub (when the isolate follows one).
    hub: Option<HubEntry>,
    /// The cutoff written (user revocations).
    before: Option<u64>,
}

impl Writes<'_> {
    fn to_js(&self, e: &Effects, extra: impl FnOnce(&mut ObjectWriter<'_>)) -> JsValue {
        object(|o| {
            o.bool("ok", true)
                .opt_str("handle", self.handle)
                .opt_str("userId", self.user_id)
                .opt_str("lineage", self.lineage.as_deref())
                .opt_u64("until", self.until);
            effects(o, e);
            o.bool("overflow", self.overflow)
                .bool("corrupt", self.corrupt);
            hub_member(o, self.hub.as_ref());
            if let Some(before) = self.before {
                o.u64("before", before);
            }
            extra(o);
        })
    }
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
/// the boundary as eleven numbers and two byte ranges: no allocation, no object built here. JS
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

#[wasm_bindgen(js_class = Engine)]
impl JsEngine {
    /// Builds an engine from the `SessionManager` options less `store`, `now` and `onEvent`, as
    /// JSON text. Throws a `SessionConfigError` with a `reason` code for unknown or bad settings.
    #[wasm_bindgen(constructor)]
    pub fn new(options: &str) -> Result<JsEngine, JsValue> {
        let (engine, settings) = Options::from_json(options)
            .and_then(Options::build)
            .map_err(|e| config_error(&e))?;
        Ok(Self {
            engine,
            settings: json_parse(&settings.to_json()),
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
        let layout: Layout = object(|o| {
            o.u64("input", self.fast.input.as_ptr() as usize as u64)
                .u64("inputLen", MAX_COOKIE_HEADER_LEN as u64)
                .u64("out", self.fast.out.as_ptr() as usize as u64)
                .u64("handle", self.fast.handle.as_ptr() as usize as u64);
        })
        .unchecked_into();
        layout.set_memory(wasm_bindgen::memory());
        layout.into()
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
        let Some(header) = input.get(..len) else {
            return 0;
        };
        let Checked::Valid(view) = self.engine.check_octets(header, ms(now), raw) else {
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

    /// `{ cookieName, storeTimeoutMs, keyIds, timeouts, hubPollInterval }`.
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

    /// `{ ok: false, reason, setCookie, handle, overflow? }`.
    fn refusal_noting(
        &self,
        reason: RejectReason,
        handle: Option<&str>,
        overflow: bool,
    ) -> JsValue {
        let clear = reason.clears_cookie().then(|| self.engine.clear_cookie());
        object(|o| {
            o.bool("ok", false)
                .str("reason", reason.code())
                .opt_str("setCookie", clear.as_deref())
                .opt_str("handle", handle);
            // Remembering this refusal overflowed the revocation memory (the isolate went strict).
            if overflow {
                o.bool("overflow", true);
            }
        })
    }

    /// The header's authentic session (see `Engine::authenticate`), or its refusal to answer.
    fn authenticated(&self, cookie_header: Option<String>, now: u64) -> Result<Pending, JsValue> {
        self.engine
            .authenticate(cookie_header.as_deref(), now)
            .map_err(|reason| self.refusal(reason, None))
    }

    fn need(pending: &Pending) -> JsValue {
        object(|o| {
            write_strings(o.key("need"), &pending.reads());
            o.str("handle", pending.handle().as_str())
                .str("userId", pending.user_id());
        })
    }

    /// Judges a Cookie header: `{ ok: true, session, ... }` (no store access), `{ need: [keys],
    /// handle, userId }` (read those keys and call `resume`), or `{ ok: false, reason, setCookie }`.
    pub fn validate(&self, cookie_header: Option<String>, now: f64) -> JsValue {
        match self.engine.validate(cookie_header.as_deref(), ms(now)) {
            Decision::Valid(session) => accepted(&session, None, false, &Effects::default()),
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

    /// Judges the header against the values read for `need` (each the stored text, or `null`
    /// when absent).
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
        let values = texts(&values);
        match self.engine.resume(&pending, &fetched(&values), now) {
            Ok(r) => accepted(&r.session, r.set_cookie.as_deref(), true, &r.effects),
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
        Ok(accepted(
            &issued.session,
            Some(&issued.set_cookie),
            false,
            &issued.effects,
        ))
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
        let values = texts(&values);
        Ok(
            match self.engine.rotate(&pending, &fetched(&values), change, now) {
                Ok(r) => {
                    let hub = self.hub_entry(
                        HubRevocation::Session {
                            handle: r.previous.as_str().to_owned(),
                        },
                        now,
                    );
                    object(|o| {
                        o.bool("ok", true);
                        write_session(o.key("session"), &r.issued.session);
                        o.str("setCookie", &r.issued.set_cookie);
                        effects(o, &r.issued.effects);
                        let mut retire = ObjectWriter::new(o.key("retire"));
                        effects(&mut retire, &r.retire);
                        retire.end();
                        o.str("previousHandle", r.previous.as_str());
                        hub_member(o, hub.as_ref());
                    })
                }
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
                        handle: handle.as_str().to_owned(),
                    },
                )
            }
        };
        let hub = self
            .engine
            .hub()
            .map(|_| self.engine.hub_entry_held(revocation, until, now));
        Ok(object(|o| {
            o.bool("overflow", overflow);
            hub_member(o, hub.as_ref());
        }))
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
        Writes {
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
            ..Writes::default()
        }
        .to_js(&effects, |_| {})
    }

    /// The KV key of the record named by `handle`. Throws for a malformed handle.
    #[wasm_bindgen(js_name = recordKey)]
    pub fn record_key(&self, handle: &str) -> Result<String, JsValue> {
        SessionHandle::parse(handle)
            .map(|h| h.storage_key())
            .map_err(|e| config_error(&e))
    }

    /// Revokes the session `handle` given its stored record (text; `null` when absent); with
    /// `owner`, only that user's. `undefined` when there is no such live session. Throws for a
    /// malformed handle.
    #[wasm_bindgen(js_name = revokeHandle)]
    pub fn revoke_handle(
        &mut self,
        handle: &str,
        record: JsValue,
        owner: Option<String>,
        now: f64,
    ) -> Result<JsValue, JsValue> {
        let parsed = SessionHandle::parse(handle).map_err(|e| config_error(&e))?;
        let record = text(&record);
        // Its lineage and deadline, for `holdEnded` should the writes fail.
        let ended = match record.as_deref().map(RecordState::decode) {
            Some(Ok(RecordState::Live(r))) => Some((r.lineage.text(), r.absolute_deadline)),
            _ => None,
        };
        let now = ms(now);
        let Some((user_id, effects, overflow)) =
            self.engine
                .revoke_handle(&parsed, record.as_deref(), owner.as_deref(), now)
        else {
            return Ok(JsValue::UNDEFINED);
        };
        let hub = ended.as_ref().and_then(|(lineage, _)| {
            self.hub_entry(
                HubRevocation::Login {
                    lineage: lineage.clone(),
                },
                now,
            )
        });
        Ok(Writes {
            handle: Some(handle),
            user_id: Some(&user_id),
            hub,
            lineage: ended.as_ref().map(|(l, _)| l.clone()),
            until: ended.map(|(_, until)| until),
            overflow,
            ..Writes::default()
        }
        .to_js(&effects, |_| {}))
    }

    /// The store keys of a user: `{ index, touch, ended, cutoff, others }` (three list prefixes
    /// and two keys).
    #[wasm_bindgen(js_name = userKeys)]
    pub fn user_keys(&self, user_id: &str) -> JsValue {
        object(|o| {
            o.str("index", &self.engine.user_index_prefix(user_id))
                .str("touch", &self.engine.touch_prefix(user_id))
                .str("ended", &self.engine.lineage_prefix(user_id))
                .str("cutoff", &self.engine.user_cutoff_key(user_id))
                .str("others", &crate::others_cutoff_key(user_id));
        })
    }

    /// Revokes every session of `user_id` created up to now, given the stored cutoffs (text;
    /// `null` when absent): this isolate at once; returns the cutoff write.
    #[wasm_bindgen(js_name = revokeUser)]
    pub fn revoke_user(
        &mut self,
        user_id: &str,
        stored: JsValue,
        stored_others: JsValue,
        now: f64,
    ) -> JsValue {
        let now = ms(now);
        let (stored, stored_others) = (text(&stored), text(&stored_others));
        let (effects, overflow) =
            self.engine
                .revoke_user_except(user_id, None, stored.as_deref(), now);
        // An unreadable "other sessions" cutoff would fail every refresh of the user closed for
        // good: the plain cutoff written now covers all it could refuse, so it goes, but only
        // once that cutoff is stored (`repair`: keys to delete after `puts` succeeded).
        let repair: Vec<String> = self
            .engine
            .corrupt_others_cutoff(user_id, stored_others.as_deref(), now)
            .into_iter()
            .collect();
        self.cutoff_writes(user_id, None, &effects, overflow, now)
            .to_js(&effects, |o| write_strings(o.key("repair"), &repair))
    }

    /// A user cutoff's writes, with the hub entry announcing it.
    fn cutoff_writes(
        &self,
        user_id: &str,
        keep: Option<&Lineage>,
        effects: &Effects,
        overflow: bool,
        now: u64,
    ) -> Writes<'static> {
        let before = match effects.puts.first().map(|p| &p.value) {
            Some(crate::Value::Cutoff(c)) => c.before,
            _ => now.saturating_add(1),
        };
        Writes {
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
            ..Writes::default()
        }
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
        let values = texts(&values);
        let (effects, overflow) = match self.engine.revoke_others(&pending, &fetched(&values), now)
        {
            Ok(out) => out,
            Err(reason) => return self.judged_refusal(reason, pending.handle().as_str()),
        };
        let lineage = *pending.lineage();
        Writes {
            handle: Some(pending.handle().as_str()),
            user_id: Some(pending.user_id()),
            ..self.cutoff_writes(pending.user_id(), Some(&lineage), &effects, overflow, now)
        }
        .to_js(&effects, |o| {
            write_session(o.key("session"), &pending.session())
        })
    }

    /// The writes ending each listed index key of `user_id` (`names[i]` with `metadata[i]`, its
    /// JSON text or `null`) created before `before`, the cutoff `revokeUser` wrote; with `keep`
    /// (a lineage), that login's sessions are left alone.
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
        let metadata = texts(&metadata);
        let effects = self.engine.end_listed_except(
            user_id,
            ms(before),
            keep.as_ref(),
            &pairs(&names, &metadata),
            ms(now),
        );
        Writes::default().to_js(&effects, |_| {})
    }

    /// The KV key of the global cutoff.
    #[wasm_bindgen(getter, js_name = globalCutoffKey)]
    pub fn global_cutoff_key(&self) -> String {
        GLOBAL_CUTOFF_KEY.to_owned()
    }

    /// Revokes every session created before `before` given the stored cutoff (text; `null` when
    /// absent); returns the write (never lowering it). Throws `invalid_time` for a time later
    /// than now plus the skew.
    #[wasm_bindgen(js_name = revokeIssuedBefore)]
    pub fn revoke_issued_before(
        &mut self,
        before: f64,
        stored: JsValue,
        now: f64,
    ) -> Result<JsValue, JsValue> {
        self.check_time(before, now)?;
        let now = ms(now);
        let stored = text(&stored);
        let (effects, corrupt) = self
            .engine
            .revoke_issued_before(ms(before), stored.as_deref(), now)
            .map_err(|e| config_error(&e))?;
        let before = self.engine.revocations().issued_before();
        Ok(Writes {
            corrupt,
            before: Some(before),
            hub: self.hub_entry(HubRevocation::Before { before }, now),
            ..Writes::default()
        }
        .to_js(&effects, |_| {}))
    }

    /// Throws `invalid_time` unless `before` is whole unix milliseconds no later than now plus
    /// the clock skew.
    #[wasm_bindgen(js_name = checkTime)]
    pub fn check_time(&self, before: f64, now: f64) -> Result<(), JsValue> {
        // Whole and non-negative (`f64::fract` is `std`'s): every float from 2^53 up is whole, and
        // below 2^64 the conversion to u64 and back is exact for whole ones only.
        let whole = before >= 0.0
            && (before >= 18_446_744_073_709_551_616.0 || (before as u64) as f64 == before);
        if !before.is_finite() || !whole {
            return Err(config_error(&ConfigError::InvalidTime(
                "issuedBefore must be a whole number of unix milliseconds",
            )));
        }
        self.engine
            .check_issued_before(ms(before), ms(now))
            .map_err(|e| config_error(&e))
    }

    /// A user's live sessions from three listings (`names`/`metadata` pairs of the index and
    /// last-seen prefixes, metadata as JSON text or `null`, and the key names under the
    /// ended-logins prefix), newest first.
    #[wasm_bindgen(js_name = listSessions)]
    // Three listings as parallel arrays: plain arrays of strings cross the boundary as they are.
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
        let (index_metadata, touch_metadata) = (texts(&index_metadata), texts(&touch_metadata));
        let index = pairs(&index_names, &index_metadata);
        let touches = pairs(&touch_names, &touch_metadata);
        let ended: Vec<&str> = ended_names.iter().map(String::as_str).collect();
        let sessions: Vec<SessionInfo> =
            self.engine
                .list_sessions(user_id, &index, &touches, &ended, ms(now));
        let mut text = String::new();
        json::push_array(&mut text, &sessions, |out, s| {
            let mut o = ObjectWriter::new(out);
            o.str("handle", &s.handle)
                .u64("createdAt", s.created_at)
                .u64("lastSeenAt", s.last_seen_at)
                .u64("absoluteExpiresAt", s.absolute_expires_at)
                .str("userAgent", &s.user_agent);
            o.end();
        });
        json_parse(&text)
    }

    /// This isolate's revocation state: `{ issuedBefore, revokedSessions, revokedUsers, strict,
    /// hub }`.
    pub fn status(&self, now: f64) -> JsValue {
        let now = ms(now);
        let r = self.engine.revocations();
        let (revoked_sessions, revoked_users) = r.counts();
        let hub = self.engine.hub();
        // Whether this isolate reads the record on every request, for whatever reason.
        let strict =
            r.strict(now) || self.engine.policy().strict || hub.is_some_and(|h| h.unreachable(now));
        object(|o| {
            o.u64("issuedBefore", r.issued_before())
                .u64("revokedSessions", revoked_sessions as u64)
                .u64("revokedUsers", revoked_users as u64)
                .bool("strict", strict);
            match hub {
                Some(h) => {
                    let mut s = ObjectWriter::new(o.key("hub"));
                    s.u64("seq", h.seq())
                        .u64("head", h.head())
                        .opt_u64("lastPullAt", h.last_ok())
                        .bool("outOfReach", h.unreachable(now));
                    s.end();
                }
                None => {
                    o.raw("hub", "null");
                }
            }
        })
    }

    /// With a hub, when a pull is due (or with `force`, always): claims it and returns
    /// `{ after, outOfReach }` (the sequence number to pull after; whether the isolate reads
    /// records on every request until a pull succeeds). Otherwise undefined: go on without
    /// pulling.
    #[wasm_bindgen(js_name = hubClaim)]
    pub fn hub_claim(&mut self, now: f64, force: bool) -> JsValue {
        let now = ms(now);
        match self.engine.hub_claim(now, force) {
            Some(after) => {
                let out_of_reach = self.engine.hub().is_some_and(|h| h.out_of_reach(now));
                object(|o| {
                    o.u64("after", after).bool("outOfReach", out_of_reach);
                })
            }
            None => JsValue::UNDEFINED,
        }
    }

    /// Applies a page the hub answered (its JSON text, `{ entries, head, log }`): `{ ok, more,
    /// overflow, after, entries }` (`entries`: how many the page held); `ok: false` for a
    /// malformed page (a failed pull).
    #[wasm_bindgen(js_name = hubApply)]
    pub fn hub_apply(&mut self, page: &str, after: f64, now: f64) -> JsValue {
        let entries = crate::HubPage::decode(page).map_or(0, |p| p.entries.len());
        let (ok, more, overflow, after) =
            match self.engine.hub_apply_pulled(page, ms(after), ms(now)) {
                Ok(more) => (
                    true,
                    more,
                    self.engine.take_overflow(),
                    self.engine.hub().map_or(0, |h| h.seq()),
                ),
                Err(_) => (false, false, false, 0),
            };
        object(|o| {
            o.bool("ok", ok)
                .bool("more", more)
                .bool("overflow", overflow)
                .u64("after", after)
                .u64("entries", entries as u64);
        })
    }

    /// Records a pull that failed or timed out.
    #[wasm_bindgen(js_name = hubFailed)]
    pub fn hub_failed(&mut self, now: f64) {
        self.engine.hub_failed(ms(now));
    }
}
