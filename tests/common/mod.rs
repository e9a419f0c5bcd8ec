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

use std::collections::BTreeMap;

use edge_session::{
    base64url, CookieConfig, Decision, Effects, Engine, Fetched, Issued, KeyRing, Pending, Policy,
    Record, RecordState, RejectReason, Session, SessionData,
};

/// Bytes from hex text (test vectors).
pub fn hex(text: &str) -> Vec<u8> {
    assert_eq!(text.len() % 2, 0, "hex text has even length");
    (0..text.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&text[i..i + 2], 16).expect("hex digit"))
        .collect()
}

/// A fixed "now" (2023-11-14T22:13:20Z) that every test starts from.
pub const T0: u64 = 1_700_000_000_000;

/// Secrets: the base64url encoding (no padding) of at least 32 bytes each. They decode to
/// `old-secret-0123456789abcdef-0123456789`, `new-secret-fedcba9876543210-fedcba9876` and
/// `someone-elses-secret-0000000000000000000` (38, 38 and 40 bytes).
pub const SECRET_OLD: &str = "b2xkLXNlY3JldC0wMTIzNDU2Nzg5YWJjZGVmLTAxMjM0NTY3ODk";
pub const SECRET_NEW: &str = "bmV3LXNlY3JldC1mZWRjYmE5ODc2NTQzMjEwLWZlZGNiYTk4NzY";
pub const SECRET_OTHER: &str = "c29tZW9uZS1lbHNlcy1zZWNyZXQtMDAwMDAwMDAwMDAwMDAwMDAwMA";

/// A secret made the documented way: base64url of 32 bytes.
pub fn secret_of(byte: u8) -> String {
    base64url::encode(&[byte; 32])
}

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

/// Session data from JSON text the test knows to be valid.
pub fn data(json: &str) -> SessionData {
    SessionData::new(json).expect("test session data is a small JSON object")
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
        .map(|p| p.value.to_json())
        .expect("issue writes the record under the handle's storage key")
}

/// The live record an issue or rotation wrote.
pub fn record_of(issued: &Issued) -> Record {
    live(&record_json(issued))
}

/// Decodes stored JSON that must be a live v2 record.
#[track_caller]
pub fn live(json: &str) -> Record {
    match RecordState::decode(json) {
        Ok(RecordState::Live(record)) => record,
        other => panic!("expected a live record, got {other:?} from {json}"),
    }
}

/// The JSON text of a record.
pub fn to_json(record: &Record) -> String {
    edge_session::Value::Record(record.clone()).to_json()
}

/// What a host read when only the record is stored (no cutoffs).
pub fn only_record(json: &str) -> Fetched<'_, str> {
    Fetched::new([Some(json), None, None, None])
}

/// What a host read when nothing is stored.
pub fn nothing() -> Fetched<'static, str> {
    Fetched::new([None, None, None, None])
}

/// Issues a session for `user` at `now` and returns it with its cookie header.
pub fn login(engine: &Engine, user: &str, now: u64) -> (Issued, String) {
    login_with(engine, user, None, now)
}

/// Issues a session for `user` with `data` at `now` and returns it with its cookie header.
pub fn login_with(
    engine: &Engine,
    user: &str,
    data: Option<SessionData>,
    now: u64,
) -> (Issued, String) {
    let issued = engine
        .issue(user, Some("TestAgent/1.0"), data, now)
        .expect("issue");
    let cookie = pair(&issued.set_cookie);
    (issued, cookie)
}

#[track_caller]
pub fn expect_valid(decision: Decision) -> Session {
    match decision {
        Decision::Valid(session) => session,
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
    let session = expect_valid(engine.validate(Some(&header(engine, good)), now));
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

/// A minimal in-memory KV that applies an engine's effects, standing in for the host. Values
/// and metadata are kept as the JSON text a host would store.
#[derive(Debug, Default)]
pub struct Store {
    pub values: BTreeMap<String, String>,
    pub metadata: BTreeMap<String, String>,
    /// `expirationTtl` per key; `None` for keys kept for good.
    pub ttls: BTreeMap<String, Option<u64>>,
}

/// The key prefixes a refresh must never write: records, login tombstones, user index, user and
/// global cutoffs.
pub const REFRESH_FORBIDDEN_PREFIXES: [&str; 6] = ["s:", "l:", "u:", "c:", "o:", "r:"];

impl Store {
    pub fn apply(&mut self, effects: &Effects) {
        for key in &effects.deletes {
            self.values.remove(key);
            self.metadata.remove(key);
            self.ttls.remove(key);
        }
        for put in &effects.puts {
            if let Some(ttl) = put.expiration_ttl {
                assert!(
                    ttl >= edge_session::MIN_KV_TTL_SECS,
                    "KV refuses TTLs below 60 s: {put:?}"
                );
            }
            self.values.insert(put.key.clone(), put.value.to_json());
            match &put.metadata {
                Some(m) => self.metadata.insert(put.key.clone(), m.to_json()),
                None => self.metadata.remove(&put.key),
            };
            self.ttls.insert(put.key.clone(), put.expiration_ttl);
        }
    }

    pub fn get(&self, key: &str) -> Option<&str> {
        self.values.get(key).map(String::as_str)
    }

    /// The five values `pending` asks for, as a host would read them.
    pub fn reads(&self, pending: &Pending) -> [Option<&str>; 5] {
        pending.reads().map(|key| self.get(&key))
    }

    /// [`reads`](Self::reads) as a [`Fetched`].
    pub fn fetched(&self, pending: &Pending) -> Fetched<'_, str> {
        Fetched::from_reads(self.reads(pending))
    }

    /// A KV `list` of `prefix`: `(name, metadata)` pairs in key order.
    pub fn list(&self, prefix: &str) -> Vec<(String, Option<String>)> {
        self.values
            .range(prefix.to_owned()..)
            .take_while(|(k, _)| k.starts_with(prefix))
            .map(|(k, _)| (k.clone(), self.metadata.get(k).cloned()))
            .collect()
    }
}

/// Borrows a listing as the `(&str, Option<&str>)` pairs the engine takes.
pub fn borrowed(listing: &[(String, Option<String>)]) -> Vec<(&str, Option<&str>)> {
    listing
        .iter()
        .map(|(k, m)| (k.as_str(), m.as_deref()))
        .collect()
}

/// Validates `cookie` at `now` and, when the store must decide, resumes from `store`, applying
/// the refresh's effects. Returns the session and the cookie header to send next.
#[track_caller]
pub fn request(
    engine: &mut Engine,
    store: &mut Store,
    cookie: &str,
    now: u64,
) -> Result<(Session, String), RejectReason> {
    match engine.validate(Some(cookie), now) {
        Decision::Valid(session) => Ok((session, cookie.to_owned())),
        Decision::Reject(reason) => Err(reason),
        Decision::NeedRecord(pending) => {
            let refreshed = engine.resume(&pending, &store.fetched(&pending), now)?;
            for put in &refreshed.effects.puts {
                assert!(
                    !REFRESH_FORBIDDEN_PREFIXES
                        .iter()
                        .any(|p| put.key.starts_with(p)),
                    "a refresh wrote {}",
                    put.key
                );
            }
            assert!(refreshed.effects.deletes.is_empty());
            store.apply(&refreshed.effects);
            let next = refreshed
                .set_cookie
                .as_deref()
                .map_or_else(|| cookie.to_owned(), pair);
            Ok((refreshed.session, next))
        }
    }
}

/// The raw envelope bytes of a cookie value.
pub fn raw(value: &str) -> Vec<u8> {
    base64url::decode(value).expect("canonical base64url")
}
