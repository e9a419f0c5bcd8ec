//! A stateful target: two isolates (each an [`Engine`] with its own revocation memory and a clock
//! up to the clock skew behind the true one) share a compact model of KV and, in half the runs, a
//! revocation hub's log (pulled, failing, or replaced by an arbitrary page), and arbitrary
//! operations drive issue / validate / resume / rotate / update / destroy and the revocations,
//! with arbitrary cookies, clock steps and store answers. After every decision it checks:
//!
//! 1. No forgery: every session accepted (valid on its envelope, resumed, rotated from, or
//!    judged by `revoke_others`) carries an envelope `seal` produced, and the session the engine
//!    reports is the one that envelope was sealed for.
//! 2. No resurrection: a session a revocation covers is never accepted by the isolate that made
//!    it (in the same incarnation) from that moment on, nor by any isolate from the revocation's
//!    time + B (B = envelope lifetime + KV propagation + clock skew) once its writes landed.
//! 3. With a revocation hub (half the runs): once an isolate has pulled the hub's log up to a
//!    revocation's entry (a pull that caught up), it refuses what the entry covers until the
//!    entry's `until`, whatever the store answers (an isolate that was also fed an arbitrary hub
//!    page, which could claim any log position, is exempt).
//! 4. Deadlines: no session's envelope or idle deadline passes its absolute deadline, the
//!    absolute deadline and creation time are the login's for every rotation and refresh, no
//!    session is accepted at or after its idle or absolute deadline, and no `Set-Cookie` outlives
//!    the absolute deadline.
//!
//! # The store model
//!
//! Every write is kept with its time (and its expiry from `expiration_ttl`). A read at time t
//! answers, as the input chooses: the value at t (present); any value the key held during
//! [t - P, t] (stale; P = [`KV_PROPAGATION_MS`]), absence among them (missing, only when the key
//! really was absent in that window, else present); or fails (the operation stops, as the host
//! does, with nothing written). Judging reads may also answer a corrupt value (the real one cut
//! short, or garbage), which must only ever be refused. Writes land, fail, or land and report a
//! failure (a timeout after the write). Operator revocations (user, issued-before) run in
//! isolate 0, whose location reads its own writes (KV has no compare-and-swap: two locations
//! writing one cutoff from stale reads is a documented limit, as is the exception of two
//! overlapping "log out my other sessions", which the checks exempt).
#![no_main]

use std::collections::HashMap;

use arbitrary::{Arbitrary, Unstructured};
use edge_session::{
    DataChange, Decision, Effects, Engine, Fetched, HubEntry, HubRevocation, Lineage, Pending,
    Policy, RecordState, SessionData, SessionHandle, Value, HUB_PAGE, KV_PROPAGATION_MS,
};
use edge_session_fuzz::{engine_with, T0};
use libfuzzer_sys::fuzz_target;

const ENVELOPE: u64 = 10_000;
const SKEW: u64 = 5_000;
const P: u64 = KV_PROPAGATION_MS;
const BOUND: u64 = ENVELOPE + P + SKEW;
const HUB_INTERVAL: u64 = 5_000;
const USERS: [&str; 3] = ["alice", "bob", "carol ünïcode"];

fn policy(strict: bool) -> Policy {
    Policy {
        envelope_ttl_ms: ENVELOPE,
        idle_timeout_ms: 120_000,
        absolute_timeout_ms: 600_000,
        touch_interval_ms: 12_000,
        clock_skew_ms: SKEW,
        strict,
        write_grace_ms: 10_000,
    }
}

#[derive(Arbitrary, Debug, Clone, Copy)]
enum Answer {
    Present,
    Missing,
    Stale(u8),
    Corrupt(u8),
    Failing,
}

#[derive(Arbitrary, Debug, Clone, Copy, PartialEq)]
enum Fate {
    Lands,
    Fails,
    LandsButFails,
}

#[derive(Arbitrary, Debug)]
enum Cookie {
    Sealed(u8),
    Flipped(u8, u16, u8),
    Truncated(u8, u16),
    Extended(u8, String),
    OtherName(u8),
    Duplicated(u8, u8),
    Junk(String),
    Absent,
}

#[derive(Arbitrary, Debug)]
enum Op {
    Advance(u16),
    Jump(u32),
    /// Up to 800 days ahead.
    Far(u64),
    /// The clock's end (u64::MAX less a little): every deadline saturates.
    EndOfTime(u16),
    Login {
        isolate: bool,
        user: u8,
        name: Option<String>,
        data: Option<String>,
    },
    Validate {
        isolate: bool,
        cookie: Cookie,
        answers: [Answer; 5],
    },
    Rotate {
        isolate: bool,
        cookie: Cookie,
        data: Option<Option<bool>>,
        answers: [Answer; 5],
        issued: Fate,
        retire: Fate,
    },
    Destroy {
        isolate: bool,
        cookie: Cookie,
        fate: Fate,
    },
    RevokeHandle {
        isolate: bool,
        session: u8,
        owner: Option<u8>,
        answer: Answer,
        fate: Fate,
    },
    RevokeUser {
        user: u8,
        answer: Answer,
        fate: Fate,
    },
    RevokeOthers {
        isolate: bool,
        cookie: Cookie,
        answers: [Answer; 5],
        fate: Fate,
    },
    RevokeBefore {
        back: u32,
        answer: Answer,
        fate: Fate,
    },
    Restart {
        isolate: bool,
    },
    HubPull {
        isolate: bool,
    },
    HubPage {
        isolate: bool,
        page: String,
    },
    HubDown {
        isolate: bool,
    },
}

/// What an envelope was sealed for.
#[derive(Clone, Debug)]
struct Sealed {
    handle: SessionHandle,
    lineage: Lineage,
    user: String,
    created_at: u64,
    absolute: u64,
}

/// What a revocation covers.
#[derive(Clone, Debug)]
enum Cover {
    Handle(SessionHandle),
    Lineage(Lineage),
    User {
        user: String,
        before: u64,
        keep: Option<Lineage>,
    },
    Before(u64),
}

#[derive(Clone, Debug)]
struct Revocation {
    cover: Cover,
    isolate: usize,
    incarnation: u32,
    at: u64,
    durable: bool,
    /// Its hub entry's `until`, when announced to a hub.
    hub_until: Option<u64>,
}

struct Version {
    value: Option<String>,
    at: u64,
    expires: Option<u64>,
}

#[derive(Default)]
struct Kv {
    keys: HashMap<String, Vec<Version>>,
}

impl Kv {
    fn at(&self, key: &str, t: u64) -> Option<&str> {
        let version = self.keys.get(key)?.iter().rev().find(|v| v.at <= t)?;
        if version.expires.is_some_and(|e| e <= t) {
            return None;
        }
        version.value.as_deref()
    }

    /// The distinct answers KV may give for `key` at `now`: what it held during [now - P, now].
    fn window(&self, key: &str, now: u64) -> Vec<Option<String>> {
        let from = now.saturating_sub(P);
        let mut times = vec![from, now];
        for v in self.keys.get(key).into_iter().flatten() {
            times.extend([v.at, v.expires.unwrap_or(v.at)]);
        }
        times.retain(|t| (from..=now).contains(t));
        times.sort_unstable();
        let mut out: Vec<Option<String>> = Vec::new();
        for t in times {
            let value = self.at(key, t).map(str::to_owned);
            if !out.contains(&value) {
                out.push(value);
            }
        }
        out
    }

    /// `Err` for a failing read. `corrupt` allows a corrupt answer.
    fn read(
        &self,
        key: &str,
        now: u64,
        answer: Answer,
        corrupt: bool,
    ) -> Result<Option<String>, ()> {
        let present = || self.at(key, now).map(str::to_owned);
        Ok(match answer {
            Answer::Present => present(),
            Answer::Missing => {
                if self.window(key, now).contains(&None) {
                    None
                } else {
                    present()
                }
            }
            Answer::Stale(i) => {
                let window = self.window(key, now);
                window
                    .get(usize::from(i) % window.len().max(1))
                    .cloned()
                    .unwrap_or_else(present)
            }
            Answer::Corrupt(cut) if corrupt => Some(match present() {
                // JSON cut short is never JSON.
                Some(v) if !v.is_empty() => {
                    v[..v.floor_char_boundary(usize::from(cut) % v.len())].to_owned()
                }
                _ => ["", "null", "[]", "{\"v\":1}", "{\"v\":2}", "\u{1}"][usize::from(cut) % 6]
                    .to_owned(),
            }),
            Answer::Corrupt(_) => present(),
            Answer::Failing => return Err(()),
        })
    }

    /// Applies `effects` at `now` as `fate` says; whether the host is told it worked.
    fn write(&mut self, effects: &Effects, now: u64, fate: Fate) -> bool {
        if fate != Fate::Fails {
            for put in &effects.puts {
                self.keys.entry(put.key.clone()).or_default().push(Version {
                    value: Some(put.value.to_json()),
                    at: now,
                    expires: put
                        .expiration_ttl
                        .map(|s| now.saturating_add(s.saturating_mul(1000))),
                });
                assert!(
                    put.expiration_ttl.map_or(true, |s| s >= 60),
                    "KV refuses TTLs under 60 s"
                );
            }
            for key in &effects.deletes {
                self.keys.entry(key.clone()).or_default().push(Version {
                    value: None,
                    at: now,
                    expires: None,
                });
            }
        }
        fate == Fate::Lands
    }
}

struct Isolate {
    engine: Engine,
    incarnation: u32,
    /// How far behind the true clock this isolate's clock runs.
    lag: u64,
    /// Revocations (indexes) this incarnation has pulled from the hub.
    hub_known: Vec<usize>,
    /// Fed an arbitrary hub page: its hub position means nothing.
    hub_tainted: bool,
}

struct World {
    now: u64,
    strict: bool,
    /// Whether the isolates follow a revocation hub.
    hub: bool,
    /// The hub's log: each entry with the revocation (index) it announces.
    hub_log: Vec<(usize, HubEntry)>,
    isolates: [Isolate; 2],
    kv: Kv,
    /// Every envelope `seal` produced, in order, and what it was sealed for.
    sealed: Vec<String>,
    info: HashMap<String, Sealed>,
    /// Every session handle ever issued with its record's JSON (revoke_handle targets).
    handles: Vec<(SessionHandle, String)>,
    revocations: Vec<Revocation>,
}

fn envelope_of(set_cookie: &str) -> &str {
    let pair = set_cookie.split(';').next().unwrap_or_default();
    pair.split_once('=').map_or("", |(_, v)| v)
}

fn max_age(set_cookie: &str) -> u64 {
    set_cookie
        .split("; ")
        .find_map(|a| a.strip_prefix("Max-Age="))
        .and_then(|n| n.parse().ok())
        .expect("Set-Cookie has a Max-Age")
}

impl World {
    fn new(strict: bool, hub: bool, lag: [u64; 2]) -> Self {
        let isolate = |lag| Isolate {
            engine: fresh_engine(strict, hub),
            incarnation: 0,
            lag,
            hub_known: Vec::new(),
            hub_tainted: false,
        };
        Self {
            now: T0,
            strict,
            hub,
            hub_log: Vec::new(),
            isolates: [isolate(lag[0]), isolate(lag[1])],
            kv: Kv::default(),
            sealed: Vec::new(),
            info: HashMap::new(),
            handles: Vec::new(),
            revocations: Vec::new(),
        }
    }

    /// Isolate `i` pulls the hub's log (one page), as the host does when a pull is due.
    fn pull(&mut self, i: usize) {
        let now = self.clock(i);
        let Some(after) = self.isolates[i].engine.hub_claim(now, true) else {
            return;
        };
        let entries: Vec<String> = self
            .hub_log
            .iter()
            .filter(|(_, e)| e.seq > after)
            .take(HUB_PAGE)
            .map(|(_, e)| {
                let mut json = String::new();
                e.write_json(&mut json);
                json
            })
            .collect();
        let page = format!(
            r#"{{"entries":[{}],"head":{},"log":"fuzz-log"}}"#,
            entries.join(","),
            self.hub_log.len()
        );
        let isolate = &mut self.isolates[i];
        match isolate.engine.hub_apply_pulled(page.as_str(), after, now) {
            Ok(false) => {
                let seq = isolate.engine.hub().map_or(0, |h| h.seq());
                for (k, e) in &self.hub_log {
                    if e.seq <= seq && !isolate.hub_known.contains(k) {
                        isolate.hub_known.push(*k);
                    }
                }
            }
            Ok(true) => {}
            Err(reason) => assert!(
                isolate.hub_tainted,
                "a page the hub wrote is refused: {reason:?}"
            ),
        }
    }

    fn clock(&self, i: usize) -> u64 {
        self.now.saturating_sub(self.isolates[i].lag)
    }

    fn pick(&self, n: u8) -> Option<&String> {
        (!self.sealed.is_empty()).then(|| &self.sealed[usize::from(n) % self.sealed.len()])
    }

    /// The Cookie header for `cookie`, and the envelope it carries under the session's name.
    fn header(&self, cookie: &Cookie) -> Option<String> {
        let name = "__Host-session";
        Some(match cookie {
            Cookie::Sealed(n) => format!("{name}={}", self.pick(*n)?),
            Cookie::Flipped(n, at, bits) => {
                let mut bytes = self.pick(*n)?.clone().into_bytes();
                let len = bytes.len();
                let b = bytes.get_mut(usize::from(*at) % len.max(1))?;
                *b = (*b ^ bits.max(&1)) & 0x7f;
                format!("{name}={}", String::from_utf8_lossy(&bytes))
            }
            Cookie::Truncated(n, at) => {
                let v = self.pick(*n)?;
                format!("{name}={}", &v[..usize::from(*at) % v.len().max(1)])
            }
            Cookie::Extended(n, tail) => format!("{name}={}{tail}", self.pick(*n)?),
            Cookie::OtherName(n) => format!("__Host-other={}", self.pick(*n)?),
            Cookie::Duplicated(a, b) => {
                format!("{name}={}; {name}={}", self.pick(*a)?, self.pick(*b)?)
            }
            Cookie::Junk(text) => text.clone(),
            Cookie::Absent => return None,
        })
    }

    /// Records a freshly sealed `Set-Cookie`.
    fn sealed_now(&mut self, set_cookie: &str, info: Sealed, now: u64) {
        assert!(
            max_age(set_cookie) <= info.absolute.saturating_sub(now).div_ceil(1000),
            "a cookie outliving its session: {set_cookie}"
        );
        let value = envelope_of(set_cookie).to_owned();
        // Two refreshes of one session in one millisecond seal the same envelope.
        if let Some(known) = self.info.get(&value) {
            assert_eq!(known.handle, info.handle, "one envelope for two sessions");
            return;
        }
        self.info.insert(value.clone(), info);
        self.sealed.push(value);
    }

    /// What the session carried by `header` was sealed for: it must be a sealed envelope.
    fn sealed_for(&self, header: Option<&str>) -> Sealed {
        let header = header.expect("no session without a cookie");
        let value = edge_session::find_cookie(header, "__Host-session")
            .ok()
            .flatten()
            .expect("an accepted cookie has a value");
        self.info
            .get(value)
            .unwrap_or_else(|| panic!("accepted an envelope seal never produced: {value}"))
            .clone()
    }

    fn covers(cover: &Cover, s: &Sealed) -> bool {
        match cover {
            Cover::Handle(h) => *h == s.handle,
            Cover::Lineage(l) => *l == s.lineage,
            Cover::User { user, before, keep } => {
                *user == s.user && s.created_at < *before && *keep != Some(s.lineage)
            }
            Cover::Before(before) => s.created_at < *before,
        }
    }

    /// Checks an acceptance by isolate `i` at true time `self.now` of the session `s`.
    fn accepted(&self, i: usize, s: &Sealed, session: &edge_session::Session, local_now: u64) {
        assert_eq!(session.handle, s.handle, "the session is the one sealed");
        assert_eq!(session.user_id, s.user);
        assert_eq!(session.created_at, s.created_at, "creation time kept");
        assert_eq!(
            session.absolute_expires_at, s.absolute,
            "absolute deadline kept"
        );
        assert!(session.envelope_expires_at <= session.absolute_expires_at);
        assert!(session.idle_expires_at <= session.absolute_expires_at);
        assert!(
            local_now < session.absolute_expires_at,
            "accepted past its absolute deadline"
        );
        assert!(
            local_now < session.idle_expires_at,
            "accepted past its idle deadline"
        );
        for (k, r) in self.revocations.iter().enumerate() {
            if !Self::covers(&r.cover, s) {
                continue;
            }
            // Documented limit: a later "other sessions" cutoff of the user that keeps this login
            // replaces an earlier one (no compare-and-swap).
            let spared_later = matches!(r.cover, Cover::User { keep: Some(_), .. })
                && self.revocations[k + 1..].iter().any(|later| {
                    matches!(&later.cover, Cover::User { user, keep: Some(l), .. } if *user == s.user && *l == s.lineage)
                });
            if spared_later {
                continue;
            }
            let isolate = &self.isolates[i];
            if let Some(until) = r.hub_until {
                assert!(
                    !(!isolate.hub_tainted && isolate.hub_known.contains(&k) && local_now < until),
                    "isolate {i} accepted what it pulled from the hub: {r:?}"
                );
            }
            let local = r.isolate == i && r.incarnation == isolate.incarnation;
            assert!(
                !(local && self.now >= r.at),
                "isolate {i} accepted what it revoked: {r:?}"
            );
            // (A clock stuck at u64::MAX never gets past a bound.)
            let past_bound = r.at.checked_add(BOUND).is_some_and(|b| self.now >= b);
            assert!(
                !(r.durable && past_bound),
                "isolate {i} accepted past the bound: {r:?} at +{}",
                self.now - r.at
            );
        }
    }

    /// Records a revocation made by isolate `i` now and, with a hub, appends its entry: held
    /// until `held` (the session's absolute deadline) when its store write failed, as the host
    /// does.
    fn revoke(&mut self, i: usize, cover: Cover, durable: bool, held: Option<u64>) {
        let incarnation = self.isolates[i].incarnation;
        let k = self.revocations.len();
        let mut hub_until = None;
        if self.hub {
            let revocation = match &cover {
                Cover::Handle(h) => HubRevocation::Session {
                    handle: h.to_string(),
                },
                Cover::Lineage(l) => HubRevocation::Login { lineage: l.text() },
                Cover::User { user, before, keep } => HubRevocation::User {
                    user_id: user.clone(),
                    before: *before,
                    keep: keep.map(|l| l.text()),
                },
                Cover::Before(before) => HubRevocation::Before { before: *before },
            };
            let now = self.clock(i);
            let engine = &self.isolates[i].engine;
            let mut entry = match held {
                Some(until) => engine.hub_entry_held(revocation, until, now),
                None => engine.hub_entry(revocation, now),
            };
            entry.seq = self.hub_log.len() as u64 + 1;
            hub_until = Some(entry.until);
            self.hub_log.push((k, entry));
        }
        self.revocations.push(Revocation {
            cover,
            isolate: i,
            incarnation,
            at: self.now,
            durable,
            hub_until,
        });
    }

    /// The five reads of `pending`, or `None` when one fails.
    fn reads(
        &self,
        pending: &Pending,
        now: u64,
        answers: &[Answer; 5],
    ) -> Option<[Option<String>; 5]> {
        let keys = pending.reads();
        let mut out: [Option<String>; 5] = Default::default();
        for k in 0..5 {
            out[k] = self.kv.read(&keys[k], now, answers[k], true).ok()?;
        }
        Some(out)
    }

    /// What rotate and revokeOthers start from: `cookie` authenticated at isolate `i`, its
    /// sealed claims and its five reads; `None` when it does not authenticate or a read fails.
    fn authenticated(
        &self,
        i: usize,
        cookie: &Cookie,
        answers: &[Answer; 5],
    ) -> Option<(u64, Pending, Sealed, [Option<String>; 5])> {
        let now = self.clock(i);
        let header = self.header(cookie);
        let pending = self.isolates[i]
            .engine
            .authenticate(header.as_deref(), now)
            .ok()?;
        let sealed = self.sealed_for(header.as_deref());
        let values = self.reads(&pending, now, answers)?;
        Some((now, pending, sealed, values))
    }

    fn step(&mut self, op: Op) {
        match op {
            Op::Advance(ms) => self.now = self.now.saturating_add(u64::from(ms)),
            Op::Jump(ms) => self.now = self.now.saturating_add(u64::from(ms) * 16),
            Op::Far(ms) => self.now = self.now.saturating_add(ms % (800 * 86_400_000)),
            Op::EndOfTime(less) => self.now = self.now.max(u64::MAX - u64::from(less)),
            Op::Login {
                isolate,
                user,
                name,
                data,
            } => {
                let i = usize::from(isolate);
                let now = self.clock(i);
                let user =
                    name.unwrap_or_else(|| USERS[usize::from(user) % USERS.len()].to_owned());
                let data = data.and_then(|d| SessionData::new(&d).ok());
                let Ok(issued) = self.isolates[i]
                    .engine
                    .issue(&user, Some("fuzz"), data, now)
                else {
                    return;
                };
                let Some(Value::Record(record)) = issued.effects.puts.first().map(|p| &p.value)
                else {
                    panic!("a login writes its record first");
                };
                let info = Sealed {
                    handle: issued.session.handle.clone(),
                    lineage: record.lineage,
                    user: user.clone(),
                    created_at: now,
                    absolute: now.saturating_add(policy(self.strict).absolute_timeout_ms),
                };
                assert_eq!(issued.session.absolute_expires_at, info.absolute);
                assert!(issued.session.envelope_expires_at <= info.absolute);
                self.handles
                    .push((info.handle.clone(), record.user_id.clone()));
                self.kv.write(&issued.effects, self.now, Fate::Lands);
                self.sealed_now(&issued.set_cookie, info, now);
            }
            Op::Validate {
                isolate,
                cookie,
                answers,
            } => {
                let i = usize::from(isolate);
                let now = self.clock(i);
                let header = self.header(&cookie);
                match self.isolates[i].engine.validate(header.as_deref(), now) {
                    Decision::Valid(session) => {
                        let s = self.sealed_for(header.as_deref());
                        assert!(now < session.envelope_expires_at);
                        self.accepted(i, &s, &session, now);
                    }
                    Decision::Reject(_) => {}
                    Decision::NeedRecord(pending) => {
                        let s = self.sealed_for(header.as_deref());
                        assert_eq!(pending.handle(), &s.handle);
                        assert_eq!(pending.lineage(), &s.lineage);
                        let Some(values) = self.reads(&pending, now, &answers) else {
                            return;
                        };
                        let fetched = Fetched::from_reads(values.each_ref().map(|v| v.as_deref()));
                        let resumed = self.isolates[i].engine.resume(&pending, &fetched, now);
                        if let Ok(refreshed) = resumed {
                            self.accepted(i, &s, &refreshed.session, now);
                            if let Some(set_cookie) = &refreshed.set_cookie {
                                self.sealed_now(set_cookie, s.clone(), now);
                            }
                            self.kv.write(&refreshed.effects, self.now, Fate::Lands);
                        }
                    }
                }
            }
            Op::Rotate {
                isolate,
                cookie,
                data,
                answers,
                issued,
                retire,
            } => {
                let i = usize::from(isolate);
                let Some((now, pending, s, values)) = self.authenticated(i, &cookie, &answers)
                else {
                    return;
                };
                let fetched = Fetched::from_reads(values.each_ref().map(|v| v.as_deref()));
                let change = match data {
                    None => DataChange::Keep,
                    Some(None) => DataChange::Set(None),
                    Some(Some(admin)) => {
                        DataChange::Set(SessionData::new(&format!("{{\"admin\":{admin}}}")).ok())
                    }
                };
                let Ok(rotation) = self.isolates[i]
                    .engine
                    .rotate(&pending, &fetched, change, now)
                else {
                    return;
                };
                // Judged live: the old session was accepted.
                self.accepted(i, &s, &pending.session(), now);
                let new = Sealed {
                    handle: rotation.issued.session.handle.clone(),
                    ..s.clone()
                };
                self.handles.push((new.handle.clone(), s.user.clone()));
                self.sealed_now(&rotation.issued.set_cookie, new, now);
                if !self.kv.write(&rotation.issued.effects, self.now, issued) {
                    return; // The old session stays; the client keeps its cookie.
                }
                self.isolates[i].engine.remember_ended(
                    &rotation.previous,
                    edge_session::Ended::Rotated,
                    now,
                );
                let landed = retire != Fate::Fails;
                let mut held = None;
                if !self.kv.write(&rotation.retire, self.now, retire) {
                    self.isolates[i].engine.hold_ended(
                        &rotation.previous,
                        edge_session::Ended::Rotated,
                        s.absolute,
                        now,
                    );
                    held = Some(s.absolute);
                }
                self.revoke(i, Cover::Handle(rotation.previous), landed, held);
            }
            Op::Destroy {
                isolate,
                cookie,
                fate,
            } => {
                let i = usize::from(isolate);
                let now = self.clock(i);
                let header = self.header(&cookie);
                let Ok(pending) = self.isolates[i].engine.identify(header.as_deref(), now) else {
                    return;
                };
                let s = self.sealed_for(header.as_deref());
                let (effects, _) = self.isolates[i].engine.destroy(&pending, now);
                let mut held = None;
                if !self.kv.write(&effects, self.now, fate) {
                    self.isolates[i]
                        .engine
                        .hold_lineage(&s.lineage, s.absolute, now);
                    held = Some(s.absolute);
                }
                self.revoke(i, Cover::Lineage(s.lineage), fate != Fate::Fails, held);
            }
            Op::RevokeHandle {
                isolate,
                session,
                owner,
                answer,
                fate,
            } => {
                let i = usize::from(isolate);
                let now = self.clock(i);
                if self.handles.is_empty() {
                    return;
                }
                let (handle, _) = self.handles[usize::from(session) % self.handles.len()].clone();
                let Ok(stored) = self.kv.read(&handle.storage_key(), now, answer, true) else {
                    return;
                };
                let owner = owner.map(|o| USERS[usize::from(o) % USERS.len()]);
                let Some((_, effects, _)) =
                    self.isolates[i]
                        .engine
                        .revoke_handle(&handle, stored.as_deref(), owner, now)
                else {
                    return;
                };
                let Some(RecordState::Live(record)) =
                    stored.as_deref().and_then(|s| RecordState::decode(s).ok())
                else {
                    panic!("revoked a session whose record is not live");
                };
                if let Some(owner) = owner {
                    assert_eq!(owner, record.user_id, "revoked someone else's session");
                }
                let mut held = None;
                if !self.kv.write(&effects, self.now, fate) {
                    self.isolates[i].engine.hold_lineage(
                        &record.lineage,
                        record.absolute_deadline,
                        now,
                    );
                    held = Some(record.absolute_deadline);
                }
                self.revoke(i, Cover::Lineage(record.lineage), fate != Fate::Fails, held);
            }
            Op::RevokeUser { user, answer, fate } => {
                let now = self.clock(0);
                let user = USERS[usize::from(user) % USERS.len()];
                let answer = if matches!(answer, Answer::Failing) {
                    answer
                } else {
                    Answer::Present
                };
                let Ok(stored) =
                    self.kv
                        .read(&edge_session::user_cutoff_key(user), now, answer, false)
                else {
                    return;
                };
                let (effects, _) =
                    self.isolates[0]
                        .engine
                        .revoke_user(user, stored.as_deref(), now);
                let before = cutoff_written(&effects);
                assert!(
                    before >= now.saturating_add(1),
                    "a user cutoff covers logins up to now"
                );
                self.kv.write(&effects, self.now, fate);
                self.revoke(
                    0,
                    Cover::User {
                        user: user.to_owned(),
                        before,
                        keep: None,
                    },
                    fate != Fate::Fails,
                    None,
                );
            }
            Op::RevokeOthers {
                isolate,
                cookie,
                answers,
                fate,
            } => {
                let i = usize::from(isolate);
                let Some((now, pending, s, values)) = self.authenticated(i, &cookie, &answers)
                else {
                    return;
                };
                let fetched = Fetched::from_reads(values.each_ref().map(|v| v.as_deref()));
                let Ok((effects, _)) = self.isolates[i]
                    .engine
                    .revoke_others(&pending, &fetched, now)
                else {
                    return;
                };
                self.accepted(i, &s, &pending.session(), now);
                let before = cutoff_written(&effects);
                assert!(before >= now.saturating_add(1));
                self.kv.write(&effects, self.now, fate);
                let cover = Cover::User {
                    user: s.user.clone(),
                    before,
                    keep: Some(s.lineage),
                };
                self.revoke(i, cover, fate != Fate::Fails, None);
            }
            Op::RevokeBefore { back, answer, fate } => {
                let now = self.clock(0);
                let before = now.saturating_sub(u64::from(back));
                let answer = if matches!(answer, Answer::Failing) {
                    answer
                } else {
                    Answer::Present
                };
                let Ok(stored) = self
                    .kv
                    .read(edge_session::GLOBAL_CUTOFF_KEY, now, answer, false)
                else {
                    return;
                };
                let Ok((effects, _)) =
                    self.isolates[0]
                        .engine
                        .revoke_issued_before(before, stored.as_deref(), now)
                else {
                    panic!("a cutoff in the past is accepted");
                };
                if !effects.puts.is_empty() {
                    assert!(
                        cutoff_written(&effects) >= before,
                        "a global cutoff never lowered"
                    );
                }
                let landed = effects.is_empty() || fate != Fate::Fails;
                self.kv.write(&effects, self.now, fate);
                self.revoke(0, Cover::Before(before), landed, None);
            }
            Op::Restart { isolate } => {
                let i = usize::from(isolate);
                let isolate = &mut self.isolates[i];
                isolate.engine = fresh_engine(self.strict, self.hub);
                isolate.incarnation += 1;
                isolate.hub_known.clear();
                isolate.hub_tainted = false;
            }
            Op::HubPull { isolate } => self.pull(usize::from(isolate)),
            Op::HubPage { isolate, page } => {
                let i = usize::from(isolate);
                let now = self.clock(i);
                let isolate = &mut self.isolates[i];
                isolate.hub_tainted = true;
                let _ = isolate.engine.hub_apply(page.as_str(), now);
            }
            Op::HubDown { isolate } => {
                let i = usize::from(isolate);
                let now = self.clock(i);
                self.isolates[i].engine.hub_failed(now);
            }
        }
    }
}

/// An engine with the target's policy, following a hub polled every [`HUB_INTERVAL`] when `hub`.
fn fresh_engine(strict: bool, hub: bool) -> Engine {
    let mut engine = engine_with(policy(strict));
    if hub {
        engine.follow_hub(HUB_INTERVAL);
    }
    engine
}

fn cutoff_written(effects: &Effects) -> u64 {
    match effects.puts.as_slice() {
        [put] => match &put.value {
            Value::Cutoff(c) => c.before,
            other => panic!("a cutoff write holds {other:?}"),
        },
        other => panic!("one cutoff write expected, got {other:?}"),
    }
}

fuzz_target!(|data: &[u8]| {
    let mut u = Unstructured::new(data);
    let Ok((strict, hub, lag0, lag1)) = <(bool, bool, u16, u16)>::arbitrary(&mut u) else {
        return;
    };
    let lag = |l: u16| u64::from(l) % (SKEW + 1);
    let mut world = World::new(strict, hub, [lag(lag0), lag(lag1)]);
    for _ in 0..64 {
        let Ok(op) = Op::arbitrary(&mut u) else {
            break;
        };
        world.step(op);
    }
});
