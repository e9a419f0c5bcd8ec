//! Shared fixtures and assertions for the integration tests.
//!
//! Each test crate includes this with `mod common;` and uses a different subset, hence the
//! `dead_code` allowance.

#![allow(
    dead_code,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

use std::collections::HashMap;

use edge_session::{
    base64url, CookieConfig, Decision, Effects, Engine, Issued, KeyRing, Pending, Policy,
    RejectReason, Session,
};

/// A fixed "now" (2023-11-14T22:13:20Z) that every test starts from.
pub const T0: u64 = 1_700_000_000_000;

/// Secrets: at least 32 bytes each.
pub const SECRET_OLD: &str = "old-secret-0123456789abcdef-0123456789";
pub const SECRET_NEW: &str = "new-secret-fedcba9876543210-fedcba9876";
pub const SECRET_OTHER: &str = "someone-elses-secret-0000000000000000000";

/// The default ring used by most tests: one key, `k1`.
pub fn ring_k1() -> String {
    format!("k1:{SECRET_OLD}")
}

pub fn ring(spec: &str) -> KeyRing {
    KeyRing::parse(spec).expect("test key ring parses")
}

pub fn engine_full(spec: &str, policy: Policy, cookie: CookieConfig) -> Engine {
    Engine::new(ring(spec), policy, cookie).expect("test engine builds")
}

/// An engine with the given ring, the default policy and the default cookie.
pub fn engine_ring(spec: &str) -> Engine {
    engine_full(spec, Policy::default(), CookieConfig::default())
}

/// An engine with ring `k1`, the given policy and the default cookie.
pub fn engine_policy(policy: Policy) -> Engine {
    engine_full(&ring_k1(), policy, CookieConfig::default())
}

/// An engine with ring `k1`, the default policy and the default cookie.
pub fn engine() -> Engine {
    engine_ring(&ring_k1())
}

/// The `name=value` pair a browser sends back for a `Set-Cookie` value.
pub fn pair(set_cookie: &str) -> String {
    set_cookie
        .split(';')
        .next()
        .expect("Set-Cookie has a name=value pair")
        .to_owned()
}

/// The cookie value of a `Set-Cookie` value.
pub fn value(set_cookie: &str) -> String {
    pair(set_cookie)
        .split_once('=')
        .expect("name=value")
        .1
        .to_owned()
}

/// A `Cookie` header carrying `value` under `engine`'s cookie name.
pub fn header(engine: &Engine, value: &str) -> String {
    format!("{}={}", engine.cookie().name(), value)
}

/// The record JSON an issue or rotation wrote for its new session.
pub fn record_json(issued: &Issued) -> String {
    let key = issued.session.handle.storage_key();
    issued
        .effects
        .puts
        .iter()
        .find(|p| p.key == key)
        .map(|p| p.value.clone())
        .expect("issue writes the record under the handle's storage key")
}

/// Issues a session for `user` at `now` and returns it with its cookie header.
pub fn login(engine: &Engine, user: &str, now: u64) -> (Issued, String) {
    let issued = engine
        .issue(user, Some("TestAgent/1.0"), now)
        .expect("issue");
    let cookie = pair(&issued.set_cookie);
    (issued, cookie)
}

#[track_caller]
pub fn expect_valid(decision: Decision) -> (Session, Option<String>) {
    match decision {
        Decision::Valid {
            session,
            set_cookie,
        } => (session, set_cookie),
        other => panic!("expected Valid, got {other:?}"),
    }
}

#[track_caller]
pub fn expect_pending(decision: Decision) -> Pending {
    match decision {
        Decision::NeedRecord(pending) => pending,
        other => panic!("expected NeedRecord, got {other:?}"),
    }
}

#[track_caller]
pub fn expect_reject(decision: Decision) -> RejectReason {
    match decision {
        Decision::Reject(reason) => reason,
        other => panic!("expected Reject, got {other:?}"),
    }
}

/// A forged or damaged cookie header must be refused outright by both `validate` and
/// `authenticate`: never `Valid`, and never `NeedRecord` (a forged envelope must not cost a
/// store read). Returns the reason `validate` gave.
#[track_caller]
pub fn assert_refused(engine: &Engine, cookie_header: &str, now: u64, what: &str) -> RejectReason {
    let reason = match engine.validate(Some(cookie_header), now) {
        Decision::Reject(reason) => reason,
        other => panic!("{what}: {cookie_header:?} was not refused: {other:?}"),
    };
    match engine.authenticate(Some(cookie_header), now) {
        Err(again) => assert_eq!(again, reason, "{what}: validate and authenticate disagree"),
        Ok(pending) => panic!("{what}: authenticate accepted {cookie_header:?}: {pending:?}"),
    }
    reason
}

/// Base64url characters used as replacements in the tamper matrix.
pub const ALPHABET_SUBSTITUTES: [char; 8] = ['A', 'B', 'f', 'g', '0', '9', '-', '_'];

/// Characters outside the base64url alphabet (including cookie syntax and non-ASCII).
pub const NON_ALPHABET_SUBSTITUTES: [char; 9] = ['.', '+', '/', '=', '%', '"', ' ', ';', 'é'];

/// The tamper matrix, in one place (after cookie-rs's `assert_secure_behaviour!`).
///
/// `good` must be a value that `engine` accepts as `Valid` at `now`. Every one-character
/// substitution (by other alphabet characters and by non-alphabet characters), every proper
/// prefix, several extensions, and every single-bit flip of the decoded bytes (re-encoded
/// canonically) must be refused, and none may ask for a record.
///
/// Returns how many mutations were tried.
#[track_caller]
pub fn assert_secure_behaviour(engine: &Engine, good: &str, now: u64) -> usize {
    let (session, _) = expect_valid(engine.validate(Some(&header(engine, good)), now));
    assert!(!session.user_id.is_empty());
    let mut tried = 0;
    let chars: Vec<char> = good.chars().collect();

    // Every position, every substitute.
    for position in 0..chars.len() {
        for &substitute in ALPHABET_SUBSTITUTES
            .iter()
            .chain(NON_ALPHABET_SUBSTITUTES.iter())
        {
            if chars[position] == substitute {
                continue;
            }
            let mut mutated = chars.clone();
            mutated[position] = substitute;
            let mutated: String = mutated.into_iter().collect();
            assert_refused(
                engine,
                &header(engine, &mutated),
                now,
                &format!("substitution {substitute:?} at {position}"),
            );
            tried += 1;
        }
    }

    // Every proper prefix, including the empty value.
    for len in 0..good.len() {
        assert_refused(
            engine,
            &header(engine, &good[..len]),
            now,
            &format!("truncation to {len}"),
        );
        tried += 1;
    }

    // Extensions.
    for suffix in [
        "A", "AA", "AAA", "AAAA", "_", "-_", "0000", "AAAAAAAA", good,
    ] {
        let extended = format!("{good}{suffix}");
        assert_refused(
            engine,
            &header(engine, &extended),
            now,
            &format!("extension by {suffix:?}"),
        );
        tried += 1;
    }

    // Every bit of the decoded bytes, re-encoded canonically.
    let raw = base64url::decode(good).expect("a valid envelope is canonical base64url");
    for byte in 0..raw.len() {
        for bit in 0..8 {
            let mut flipped = raw.clone();
            flipped[byte] ^= 1 << bit;
            let text = base64url::encode(&flipped);
            assert_ne!(text, good);
            assert_refused(
                engine,
                &header(engine, &text),
                now,
                &format!("bit {bit} of byte {byte}"),
            );
            tried += 1;
        }
    }
    tried
}

/// A minimal in-memory KV that applies an engine's effects, standing in for the host.
#[derive(Debug, Default)]
pub struct Store {
    pub values: HashMap<String, String>,
    pub ttls: HashMap<String, u64>,
}

impl Store {
    pub fn apply(&mut self, effects: &Effects) {
        for key in &effects.deletes {
            self.values.remove(key);
            self.ttls.remove(key);
        }
        for put in &effects.puts {
            assert!(
                put.ttl_secs >= edge_session::MIN_KV_TTL_SECS,
                "KV refuses TTLs below 60 s: {put:?}"
            );
            self.values.insert(put.key.clone(), put.value.clone());
            self.ttls.insert(put.key.clone(), put.ttl_secs);
        }
    }

    pub fn get(&self, key: &str) -> Option<&str> {
        self.values.get(key).map(String::as_str)
    }
}

/// The raw envelope bytes of a cookie value.
pub fn raw(value: &str) -> Vec<u8> {
    base64url::decode(value).expect("canonical base64url")
}
