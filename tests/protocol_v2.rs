//! Store protocol v2: what changed from v1 and the guarantees the new schema exists for.
//!
//! - Envelopes and records carry a version; v1 ones are refused (`bad_version`,
//!   `record_version`), never misread.
//! - An envelope signed by a previous key is re-signed only after its record (and both cutoffs)
//!   have been read; a removed key is refused with no store read.
//! - Session data (a JSON object of at most 1024 bytes) travels signed in the envelope and is
//!   checked against the record.
//! - The record is written once; refreshes write only a throttled last-seen key; endings are
//!   tombstones; cutoffs are read on every refresh, never lowered, and fail closed (keeping the
//!   cookie) when unreadable.
//! - The in-memory revocation list goes strict rather than forgetting when it is full.
//! - Secrets are base64url text decoded to at least 32 bytes.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

mod common;

use common::*;
use edge_session::envelope::{self, Claims};
use edge_session::{
    base64url, user_cutoff_key, ConfigError, DataChange, Decision, Ended, Engine, Fetched, KeyRing,
    Options, Policy, RecordState, RejectReason, SessionData, SessionId, Signer, GLOBAL_CUTOFF_KEY,
    MAX_DATA_LEN, TAG_LEN,
};

/// A ring whose current key is `k2`, keeping `k1` to verify envelopes signed before.
fn ring_k2_k1() -> String {
    format!("k2:{SECRET_NEW},k1:{SECRET_OLD}")
}

fn cutoff(before: u64, at: u64) -> String {
    format!(r#"{{"v":2,"before":{before},"at":{at}}}"#)
}

/// The key id an envelope was signed with.
fn key_id(set_cookie_or_pair: &str) -> String {
    let bytes = raw(&value(set_cookie_or_pair));
    let len = usize::from(bytes[1]);
    String::from_utf8(bytes[2..2 + len].to_vec()).unwrap()
}

// ---------------------------------------------------------------------------------------------
// Key rotation

#[test]
fn a_previous_key_envelope_needs_the_record_and_resume_re_signs_it_with_the_current_key() {
    let old = engine_ring(&ring_k1());
    let mut store = Store::default();
    let (issued, cookie) = login_with(&old, "alice", Some(data(r#"{"role":"admin"}"#)), T0);
    store.apply(&issued.effects);
    assert_eq!(key_id(&cookie), "k1");

    // The new key is deployed: the envelope is fresh and authentic, but only the store can say
    // whether the session still lives.
    let mut new = engine_ring(&ring_k2_k1());
    let now = T0 + 1_000;
    let pending = expect_pending(new.validate(Some(&cookie), now));
    assert_eq!(pending.session(), issued.session);
    assert_eq!(
        pending.reads(),
        [
            issued.session.handle.storage_key(),
            pending.lineage().storage_key(),
            user_cutoff_key("alice"),
            GLOBAL_CUTOFF_KEY.to_owned()
        ]
    );
    let refreshed = new.resume(&pending, &store.fetched(&pending), now).unwrap();
    // Re-signed from the record with the current key.
    let resigned = refreshed.set_cookie.expect("re-signed");
    assert_eq!(key_id(&resigned), "k2");
    let session = &refreshed.session;
    assert_eq!(session.handle, issued.session.handle);
    assert_eq!(session.user_id, "alice");
    assert_eq!(session.created_at, T0);
    assert_eq!(session.generation, 0);
    assert_eq!(session.issued_at, now);
    assert_eq!(session.envelope_expires_at, now + 60_000);
    assert_eq!(
        session.absolute_expires_at,
        issued.session.absolute_expires_at
    );
    assert_eq!(session.data.as_deref(), Some(r#"{"role":"admin"}"#));
    // Same touch interval as the login: nothing to write.
    assert!(refreshed.effects.is_empty());

    // The new envelope is on the fast path, with no further store read.
    let again = expect_valid(new.validate(Some(&pair(&resigned)), now + 1));
    assert_eq!(&again, session);
    // The old one keeps asking for the record until it expires (each time re-signed).
    expect_pending(new.validate(Some(&cookie), now + 2));
}

#[test]
fn a_previous_key_envelope_of_an_ended_session_is_not_re_signed() {
    let old = engine_ring(&ring_k1());
    let mut store = Store::default();
    let (issued, cookie) = login(&old, "alice", T0);
    store.apply(&issued.effects);
    let now = T0 + 1_000;
    let mut new = engine_ring(&ring_k2_k1());
    let pending = expect_pending(new.validate(Some(&cookie), now));

    // Logged out elsewhere: the tombstone decides.
    let tombstone = format!(r#"{{"v":2,"ended":"revoked","at":{T0}}}"#);
    assert_eq!(
        new.resume(&pending, &only_record(&tombstone), now),
        Err(RejectReason::Revoked)
    );
    // All the user's sessions revoked: the cutoff decides although the record is live.
    let json = record_json(&issued);
    let c = cutoff(T0 + 1, T0);
    assert_eq!(
        new.resume(
            &pending,
            &Fetched::new([Some(json.as_str()), None, Some(c.as_str()), None]),
            now
        ),
        Err(RejectReason::Revoked)
    );
    // Every session issued before a time revoked: likewise.
    let mut fresh = engine_ring(&ring_k2_k1());
    assert_eq!(
        fresh.resume(
            &pending,
            &Fetched::new([Some(json.as_str()), None, None, Some(c.as_str())]),
            now
        ),
        Err(RejectReason::Revoked)
    );
}

#[test]
fn a_removed_key_is_refused_as_unknown_with_no_store_read() {
    let old = engine_ring(&ring_k1());
    let (_, cookie) = login(&old, "alice", T0);
    let new = engine_ring(&format!("k2:{SECRET_NEW}"));
    for now in [T0 + 1, T0 + 120_000] {
        assert_eq!(
            assert_refused(&new, &cookie, now, "removed key"),
            RejectReason::UnknownKey
        );
    }
    // Under strict too: no key, no read.
    let strict = engine_full(
        &format!("k2:{SECRET_NEW}"),
        Policy {
            strict: true,
            ..Policy::default()
        },
        edge_session::CookieConfig::default(),
    );
    assert_eq!(
        assert_refused(&strict, &cookie, T0 + 1, "removed key, strict"),
        RejectReason::UnknownKey
    );
    assert!(RejectReason::UnknownKey.clears_cookie());
}

#[test]
fn rotation_of_a_previous_key_session_signs_with_the_current_key() {
    let old = engine_ring(&ring_k1());
    let (issued, cookie) = login(&old, "alice", T0);
    let json = record_json(&issued);
    let mut new = engine_ring(&ring_k2_k1());
    let pending = new.authenticate(Some(&cookie), T0 + 1_000).unwrap();
    let rotation = new
        .rotate(&pending, &only_record(&json), DataChange::Keep, T0 + 1_000)
        .unwrap();
    assert_eq!(key_id(&rotation.issued.set_cookie), "k2");
    expect_valid(new.validate(Some(&pair(&rotation.issued.set_cookie)), T0 + 1_001));
}

// ---------------------------------------------------------------------------------------------
// Versions

/// A complete, correctly signed v1 envelope: the v1 layout (no data length) under `ring`'s
/// current key, exactly as a v1 build sealed it.
fn v1_envelope(secret: &[u8], key_id: &str, cookie_name: &str, claims: &Claims) -> String {
    let mut raw = vec![1u8, key_id.len() as u8];
    raw.extend_from_slice(key_id.as_bytes());
    raw.extend_from_slice(claims.session_id.as_bytes());
    raw.extend_from_slice(&claims.generation.to_be_bytes());
    for t in [
        claims.created_at,
        claims.issued_at,
        claims.expires_at,
        claims.idle_deadline,
        claims.absolute_deadline,
    ] {
        raw.extend_from_slice(&t.to_be_bytes());
    }
    raw.push(claims.user_id.len() as u8);
    raw.extend_from_slice(claims.user_id.as_bytes());
    let name = cookie_name.as_bytes();
    let tag = Signer::new(secret)
        .derive("envelope")
        .sign(&[&[name.len() as u8], name, &raw]);
    raw.extend_from_slice(&tag);
    base64url::encode(&raw)
}

#[test]
fn a_v1_envelope_is_a_bad_version_with_no_store_read() {
    let engine = engine();
    let secret = base64url::decode(SECRET_OLD).unwrap();
    for (now, id) in [(T0, [1u8; 32]), (T0 + 120_000, [2u8; 32])] {
        let claims = Claims {
            session_id: SessionId::from_bytes(id),
            lineage: edge_session::Lineage::from_bytes([7; 16]),
            user_id: "alice".to_owned(),
            generation: 0,
            created_at: T0,
            issued_at: T0,
            expires_at: T0 + 60_000,
            idle_deadline: T0 + 1_800_000,
            absolute_deadline: T0 + 43_200_000,
            data: None,
        };
        let v1 = v1_envelope(&secret, "k1", engine.cookie().name(), &claims);
        let bytes = raw(&v1);
        assert_eq!(bytes[0], 1);
        assert_eq!(bytes.len(), 2 + 2 + 77 + 5 + TAG_LEN);
        // The tag is genuine: the same bytes under a version 2 header would be a bad signature
        // (the version is signed), never a misreading of the layout.
        assert_eq!(
            assert_refused(&engine, &header(&engine, &v1), now, "v1 envelope"),
            RejectReason::BadVersion
        );
        assert_eq!(
            envelope::open(engine.ring(), engine.cookie().name(), &v1),
            Err(RejectReason::BadVersion)
        );
        let mut relabelled = bytes.clone();
        relabelled[0] = 2;
        assert_ne!(
            assert_refused(
                &engine,
                &header(&engine, &base64url::encode(&relabelled)),
                now,
                "v1 relabelled as v2"
            ),
            RejectReason::BadVersion
        );
    }
    assert!(RejectReason::BadVersion.clears_cookie());
}

/// A record as a v1 build stored it.
fn v1_record(user: &str, created_at: u64) -> String {
    format!(
        r#"{{"v":1,"user_id":"{user}","created_at":{created_at},"last_seen_at":{created_at},"idle_timeout_ms":1800000,"absolute_deadline":{},"generation":0,"user_agent":"TestAgent/1.0"}}"#,
        created_at + 43_200_000
    )
}

#[test]
fn a_v1_record_is_a_record_version_refusal() {
    let mut engine = engine();
    let (issued, cookie) = login(&engine, "alice", T0);
    let v1 = v1_record("alice", T0);
    let now = T0 + 61_000;
    let pending = expect_pending(engine.validate(Some(&cookie), now));
    assert_eq!(
        RecordState::decode(v1.as_str()),
        Err(RejectReason::RecordVersion)
    );
    assert_eq!(
        engine.resume(&pending, &only_record(&v1), now),
        Err(RejectReason::RecordVersion)
    );
    assert_eq!(
        engine.rotate(&pending, &only_record(&v1), DataChange::Keep, now),
        Err(RejectReason::RecordVersion)
    );
    // v1 tombstones too.
    let v1_tomb = format!(
        r#"{{"v":1,"user_id":"alice","created_at":{T0},"last_seen_at":{T0},"idle_timeout_ms":1800000,"absolute_deadline":{},"generation":0,"revoked_at":{T0}}}"#,
        T0 + 43_200_000
    );
    assert_eq!(
        engine.resume(&pending, &only_record(&v1_tomb), now),
        Err(RejectReason::RecordVersion)
    );
    // Administration treats it as no live session.
    assert_eq!(
        engine.revoke_handle(&issued.session.handle, Some(v1.as_str()), None, now),
        None
    );
    assert!(RejectReason::RecordVersion.clears_cookie());
}

// ---------------------------------------------------------------------------------------------
// Session data

#[test]
fn data_round_trips_through_the_fast_path_and_refresh() {
    let mut engine = engine();
    let mut store = Store::default();
    let json = r#"{"role":"admin","tenant":"acme","n":[1,2,3],"s":"é🦀"}"#;
    let (issued, cookie) = login_with(&engine, "alice", Some(data(json)), T0);
    store.apply(&issued.effects);
    assert_eq!(issued.session.data.as_deref(), Some(json));
    assert_eq!(record_of(&issued).data.as_deref(), Some(json));

    let session = expect_valid(engine.validate(Some(&cookie), T0 + 1));
    assert_eq!(session.data.as_deref(), Some(json));

    let mut cookie = cookie;
    for step in 1..=5u64 {
        let now = T0 + step * 61_000;
        let (session, next) = request(&mut engine, &mut store, &cookie, now).unwrap();
        assert_eq!(session.data.as_deref(), Some(json), "step {step}");
        assert_ne!(next, cookie, "step {step}: re-signed");
        cookie = next;
    }
    // No data is no data, not an empty object.
    let (issued, cookie) = login(&engine, "bob", T0);
    assert_eq!(record_of(&issued).data, None);
    assert!(!record_json(&issued).contains("data"));
    assert_eq!(expect_valid(engine.validate(Some(&cookie), T0)).data, None);
}

#[test]
fn updating_data_rotates_the_session() {
    let mut engine = engine();
    let mut store = Store::default();
    let (issued, cookie) = login_with(&engine, "alice", Some(data(r#"{"cart":1}"#)), T0);
    store.apply(&issued.effects);
    let t = T0 + 5_000;

    let apply = |engine: &mut Engine, store: &mut Store, cookie: &str, change, t| {
        let pending = engine.authenticate(Some(cookie), t).unwrap();
        let rotation = engine
            .rotate(&pending, &store.fetched(&pending), change, t)
            .unwrap();
        store.apply(&rotation.issued.effects);
        engine.remember_ended(&rotation.previous, Ended::Rotated, t);
        store.apply(&rotation.retire);
        assert_eq!(rotation.previous, pending.handle().clone());
        (rotation.issued, pending)
    };

    // Set: new data, new handle, next generation; the old envelope is dead.
    let (updated, old) = apply(
        &mut engine,
        &mut store,
        &cookie,
        DataChange::Set(Some(data(r#"{"cart":2}"#))),
        t,
    );
    assert_ne!(updated.session.handle, issued.session.handle);
    assert_eq!(updated.session.generation, 1);
    assert_eq!(updated.session.data.as_deref(), Some(r#"{"cart":2}"#));
    assert_eq!(record_of(&updated).data.as_deref(), Some(r#"{"cart":2}"#));
    assert_eq!(
        expect_reject(engine.validate(Some(&cookie), t)),
        RejectReason::Rotated
    );
    let mut other = engine_ring(&ring_k1());
    assert_eq!(
        other.resume(&old, &store.fetched(&old), t),
        Err(RejectReason::Rotated)
    );
    let new_cookie = pair(&updated.set_cookie);
    let session = expect_valid(engine.validate(Some(&new_cookie), t));
    assert_eq!(session.data.as_deref(), Some(r#"{"cart":2}"#));
    let (session, _) = request(&mut other, &mut store, &new_cookie, t + 61_000).unwrap();
    assert_eq!(session.data.as_deref(), Some(r#"{"cart":2}"#));

    // Keep: same data, new handle.
    let (kept, _) = apply(
        &mut engine,
        &mut store,
        &new_cookie,
        DataChange::Keep,
        t + 1,
    );
    assert_eq!(kept.session.data.as_deref(), Some(r#"{"cart":2}"#));
    assert_eq!(kept.session.generation, 2);

    // Set(None): cleared.
    let (cleared, _) = apply(
        &mut engine,
        &mut store,
        &pair(&kept.set_cookie),
        DataChange::Set(None),
        t + 2,
    );
    assert_eq!(cleared.session.data, None);
    assert_eq!(record_of(&cleared).data, None);
    assert_eq!(
        expect_valid(engine.validate(Some(&pair(&cleared.set_cookie)), t + 3)).data,
        None
    );
    // Rotation never moved the login time or the absolute deadline.
    assert_eq!(cleared.session.created_at, T0);
    assert_eq!(
        cleared.session.absolute_expires_at,
        issued.session.absolute_expires_at
    );
}

#[test]
fn data_must_be_a_json_object_of_at_most_1024_bytes() {
    let at_limit = format!(r#"{{"a":"{}"}}"#, "y".repeat(MAX_DATA_LEN - 8));
    assert_eq!(at_limit.len(), 1024);
    assert!(SessionData::new(&at_limit).is_ok());
    // Bytes, not characters: 1024 characters of which some take two bytes are too long.
    let multibyte = format!(r#"{{"a":"é{}"}}"#, "y".repeat(MAX_DATA_LEN - 9));
    assert_eq!(multibyte.chars().count(), 1024);
    assert_eq!(multibyte.len(), 1025);
    for too_big in [format!("{at_limit} "), multibyte, "{".repeat(2_000) + "}"] {
        let err = SessionData::new(&too_big).unwrap_err();
        assert_eq!(err.code(), "invalid_data");
        assert!(err.to_string().contains("1024 bytes"), "{err}");
    }
    for not_an_object in [
        "", "null", "1", "\"{}\"", "[]", "[{}]", "{", "}", " {}", "{} ",
    ] {
        let err = SessionData::new(not_an_object).unwrap_err();
        assert_eq!(
            err,
            ConfigError::InvalidData("must be a JSON object"),
            "{not_an_object:?}"
        );
    }
    assert_eq!(SessionData::new("{}").unwrap().as_str(), "{}");
}

#[test]
fn tampered_data_is_a_bad_signature() {
    let engine = engine();
    let (issued, _) = login_with(&engine, "alice", Some(data(r#"{"role":"user"}"#)), T0);
    let bytes = raw(&value(&issued.set_cookie));
    let data_at = 2 + 2 + 77 + 5;
    assert_eq!(&bytes[data_at..data_at + 2], &15u16.to_be_bytes());
    assert_eq!(&bytes[data_at + 2..data_at + 17], br#"{"role":"user"}"#);
    for now in [T0 + 1, T0 + 120_000] {
        // Same length, other content.
        let mut changed = bytes.clone();
        changed[data_at + 10..data_at + 14].copy_from_slice(b"root");
        assert_eq!(
            assert_refused(
                &engine,
                &header(&engine, &base64url::encode(&changed)),
                now,
                "data rewritten"
            ),
            RejectReason::BadSignature
        );
        // Other length, consistently declared.
        let mut longer = bytes[..data_at].to_vec();
        longer.extend_from_slice(&16u16.to_be_bytes());
        longer.extend_from_slice(br#"{"role":"admin"}"#);
        longer.extend_from_slice(&bytes[bytes.len() - TAG_LEN..]);
        assert_eq!(
            assert_refused(
                &engine,
                &header(&engine, &base64url::encode(&longer)),
                now,
                "data replaced"
            ),
            RejectReason::BadSignature
        );
        // Removed.
        let mut removed = bytes[..data_at].to_vec();
        removed.extend_from_slice(&[0, 0]);
        removed.extend_from_slice(&bytes[bytes.len() - TAG_LEN..]);
        assert_eq!(
            assert_refused(
                &engine,
                &header(&engine, &base64url::encode(&removed)),
                now,
                "data removed"
            ),
            RejectReason::BadSignature
        );
    }
}

#[test]
fn record_data_that_differs_from_the_envelope_is_a_mismatch() {
    let mut engine = engine();
    let (issued, cookie) = login_with(&engine, "alice", Some(data(r#"{"role":"user"}"#)), T0);
    let now = T0 + 61_000;
    let pending = expect_pending(engine.validate(Some(&cookie), now));
    let good = record_of(&issued);
    for other in [
        None,
        Some("{}"),
        Some(r#"{"role":"admin"}"#),
        Some(r#"{"role": "user"}"#),
    ] {
        let mut record = good.clone();
        record.data = other.map(str::to_owned);
        let json = to_json(&record);
        assert_eq!(
            engine.resume(&pending, &only_record(&json), now),
            Err(RejectReason::RecordMismatch),
            "{other:?}"
        );
        assert_eq!(
            engine.rotate(&pending, &only_record(&json), DataChange::Keep, now),
            Err(RejectReason::RecordMismatch)
        );
    }
    // And the other way round: data in the record, none in the envelope.
    let (plain, cookie) = login(&engine, "alice", T0);
    let pending = expect_pending(engine.validate(Some(&cookie), now));
    let mut record = record_of(&plain);
    record.data = Some(r#"{"role":"admin"}"#.to_owned());
    assert_eq!(
        engine.resume(&pending, &only_record(&to_json(&record)), now),
        Err(RejectReason::RecordMismatch)
    );
    // A record whose data is not an object is corrupt, whatever the envelope says.
    record.data = Some("[1]".to_owned());
    assert_eq!(
        engine.resume(&pending, &only_record(&to_json(&record)), now),
        Err(RejectReason::CorruptRecord)
    );
}

// ---------------------------------------------------------------------------------------------
// What refreshes write

#[test]
fn refreshes_never_write_records_index_entries_or_cutoffs() {
    // Six hours of a busy user across a key rotation, strict mode and three isolates: every
    // refresh writes at most a last-seen key (checked inside `request`).
    let login_isolate = engine();
    let mut a = engine_ring(&ring_k2_k1());
    let mut b = engine_ring(&ring_k2_k1());
    let mut strict = engine_full(
        &ring_k2_k1(),
        Policy {
            strict: true,
            ..Policy::default()
        },
        edge_session::CookieConfig::default(),
    );
    let mut store = Store::default();
    let (issued, mut cookie) = login_with(&login_isolate, "alice", Some(data(r#"{"x":1}"#)), T0);
    store.apply(&issued.effects);
    let record = store
        .get(&issued.session.handle.storage_key())
        .unwrap()
        .to_owned();
    let (admin_cutoff, _) = b.revoke_user("mallory", None::<&str>, T0);
    store.apply(&admin_cutoff);
    let (global, _) = b.revoke_issued_before(T0, None::<&str>, T0).unwrap();
    store.apply(&global);
    let before: Vec<(String, String)> = store
        .values
        .iter()
        .filter(|(k, _)| !k.starts_with("t:"))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();

    let mut refreshes = 0;
    for step in 1..=(6 * 60 * 2) {
        let now = T0 + step * 30_000;
        let engine = match step % 3 {
            0 => &mut a,
            1 => &mut b,
            _ => &mut strict,
        };
        let (session, next) = request(engine, &mut store, &cookie, now).unwrap();
        assert_eq!(session.data.as_deref(), Some(r#"{"x":1}"#));
        if next != cookie {
            refreshes += 1;
        }
        cookie = next;
    }
    assert!(refreshes > 100, "{refreshes}");
    // Nothing but t: keys changed.
    let after: Vec<(String, String)> = store
        .values
        .iter()
        .filter(|(k, _)| !k.starts_with("t:"))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    assert_eq!(before, after);
    assert_eq!(
        store.get(&issued.session.handle.storage_key()),
        Some(record.as_str())
    );
    assert_eq!(store.list("t:").len(), 1);
}

// ---------------------------------------------------------------------------------------------
// Tombstones and cutoffs

#[test]
fn tombstones_refuse_with_why_the_session_ended() {
    let mut engine = engine();
    let (issued, cookie) = login(&engine, "alice", T0);
    let now = T0 + 61_000;
    let pending = expect_pending(engine.validate(Some(&cookie), now));
    for (json, reason) in [
        (r#"{"v":2,"ended":"revoked","at":1}"#, RejectReason::Revoked),
        (r#"{"v":2,"ended":"rotated","at":1}"#, RejectReason::Rotated),
        // Later fields are ignored within v2.
        (
            r#"{"v":2,"ended":"rotated","at":1,"by":"admin"}"#,
            RejectReason::Rotated,
        ),
    ] {
        assert_eq!(
            engine.resume(&pending, &only_record(json), now),
            Err(reason)
        );
        assert_eq!(
            engine.rotate(&pending, &only_record(json), DataChange::Keep, now),
            Err(reason)
        );
        assert_eq!(
            engine.revoke_handle(&issued.session.handle, Some(json), None, now),
            None
        );
        assert!(reason.clears_cookie());
    }
    assert_eq!(Ended::Revoked.reason(), RejectReason::Revoked);
    assert_eq!(Ended::Rotated.reason(), RejectReason::Rotated);
}

#[test]
fn a_user_cutoff_refuses_sessions_that_were_never_listed_or_ended() {
    // A login lands on one isolate while an administrator revokes the user on another; the
    // listing the administrator ends does not show it yet (KV lists are eventually consistent).
    let login_isolate = engine();
    let mut admin = engine();
    let mut store = Store::default();
    let (issued, cookie) = login(&login_isolate, "alice", T0);
    // Only the record has propagated; the index entry has not.
    store.apply(&edge_session::Effects {
        puts: vec![issued.effects.puts[0].clone()],
        deletes: Vec::new(),
    });
    let t = T0 + 1_000;
    let (cutoff_write, _) = admin.revoke_user("alice", None::<&str>, t);
    store.apply(&cutoff_write);
    let listing = store.list(&admin.user_index_prefix("alice"));
    assert!(listing.is_empty());
    let ended = admin.end_listed("alice", &borrowed(&listing), t);
    assert!(ended.is_empty());
    store.apply(&ended);
    // The record is live...
    assert!(matches!(
        RecordState::decode(store.get(&issued.session.handle.storage_key()).unwrap()),
        Ok(RecordState::Live(_))
    ));
    // ...but the next refresh anywhere reads the cutoff.
    let mut third = engine();
    assert_eq!(
        request(&mut third, &mut store, &cookie, T0 + 61_000),
        Err(RejectReason::Revoked)
    );
    // And the login isolate's own fast path ends with the envelope's lifetime.
    let mut login_isolate = login_isolate;
    expect_valid(login_isolate.validate(Some(&cookie), T0 + 59_999));
    assert_eq!(
        request(&mut login_isolate, &mut store, &cookie, T0 + 60_000),
        Err(RejectReason::Revoked)
    );
}

#[test]
fn a_user_cutoff_is_now_plus_one_so_a_login_in_the_same_millisecond_is_refused() {
    let mut admin = engine();
    let mut store = Store::default();
    let t = T0 + 1_000;
    let elsewhere = engine();
    let (same_ms, same_cookie) = login(&elsewhere, "alice", t);
    let (next_ms, next_cookie) = login(&elsewhere, "alice", t + 1);
    store.apply(&same_ms.effects);
    store.apply(&next_ms.effects);
    let (effects, _) = admin.revoke_user("alice", None::<&str>, t);
    store.apply(&effects);
    assert_eq!(
        store.get(&user_cutoff_key("alice")),
        Some(cutoff(t + 1, t).as_str())
    );
    // In the revoking isolate, at once.
    assert_eq!(
        expect_reject(admin.validate(Some(&same_cookie), t + 1)),
        RejectReason::Revoked
    );
    expect_valid(admin.validate(Some(&next_cookie), t + 1));
    // Elsewhere, from the store.
    let mut other = engine();
    let later = t + 61_000;
    assert_eq!(
        request(&mut other, &mut store, &same_cookie, later),
        Err(RejectReason::Revoked)
    );
    request(&mut other, &mut store, &next_cookie, later).unwrap();
}

#[test]
fn rotation_keeps_the_login_time_so_it_cannot_escape_a_cutoff() {
    let mut engine = engine();
    let mut store = Store::default();
    let (issued, cookie) = login(&engine, "alice", T0);
    store.apply(&issued.effects);
    let pending = engine.authenticate(Some(&cookie), T0 + 1_000).unwrap();
    let rotation = engine
        .rotate(
            &pending,
            &store.fetched(&pending),
            DataChange::Keep,
            T0 + 1_000,
        )
        .unwrap();
    store.apply(&rotation.issued.effects);
    store.apply(&rotation.retire);
    assert_eq!(rotation.issued.session.created_at, T0);
    let rotated = pair(&rotation.issued.set_cookie);

    // Revoked after the rotation: the rotated session was created (logged in) before the cutoff.
    let mut admin = engine_ring(&ring_k1());
    let (effects, _) = admin.revoke_user("alice", None::<&str>, T0 + 2_000);
    store.apply(&effects);
    let mut other = engine_ring(&ring_k1());
    assert_eq!(
        request(&mut other, &mut store, &rotated, T0 + 61_001),
        Err(RejectReason::Revoked)
    );
    // The same for a global cutoff.
    store.values.remove(&user_cutoff_key("alice"));
    let (effects, _) = admin
        .revoke_issued_before(T0 + 1, None::<&str>, T0 + 2_000)
        .unwrap();
    store.apply(&effects);
    let mut other = engine_ring(&ring_k1());
    assert_eq!(
        request(&mut other, &mut store, &rotated, T0 + 61_001),
        Err(RejectReason::Revoked)
    );
}

#[test]
fn the_global_cutoff_is_never_lowered_by_a_write() {
    let mut engine = engine();
    let stored = cutoff(T0 + 5_000, T0);
    // A lower request keeps the stored value.
    let (effects, corrupt) = engine
        .revoke_issued_before(T0 + 1_000, Some(stored.as_str()), T0 + 10_000)
        .unwrap();
    assert!(!corrupt);
    assert_eq!(effects.puts[0].key, GLOBAL_CUTOFF_KEY);
    assert_eq!(
        effects.puts[0].value.to_json(),
        cutoff(T0 + 5_000, T0 + 10_000)
    );
    assert_eq!(engine.revocations().issued_before(), T0 + 5_000);

    // This isolate's own (read at a refresh) wins over a lower stored one.
    let mut isolate = engine_ring(&ring_k1());
    let (issued, cookie) = login(&isolate, "alice", T0 + 8_000);
    let json = record_json(&issued);
    let higher = cutoff(T0 + 7_000, T0);
    let pending = isolate.authenticate(Some(&cookie), T0 + 70_000).unwrap();
    isolate
        .resume(
            &pending,
            &Fetched::new([Some(json.as_str()), None, None, Some(higher.as_str())]),
            T0 + 70_000,
        )
        .unwrap();
    assert_eq!(isolate.revocations().issued_before(), T0 + 7_000);
    let (effects, _) = isolate
        .revoke_issued_before(T0 + 2_000, Some(stored.as_str()), T0 + 70_000)
        .unwrap();
    assert_eq!(
        effects.puts[0].value.to_json(),
        cutoff(T0 + 7_000, T0 + 70_000)
    );

    // A higher request raises it.
    let (effects, _) = engine
        .revoke_issued_before(T0 + 9_000, Some(stored.as_str()), T0 + 10_000)
        .unwrap();
    assert_eq!(
        effects.puts[0].value.to_json(),
        cutoff(T0 + 9_000, T0 + 10_000)
    );

    // A corrupt stored value is replaced, and the caller told.
    let mut engine = engine_ring(&ring_k1());
    for garbage in ["", "null", "{}", r#"{"v":1,"before":1,"at":1}"#, "not json"] {
        let (effects, corrupt) = engine
            .revoke_issued_before(T0, Some(garbage), T0 + 10_000)
            .unwrap();
        assert!(corrupt, "{garbage:?}");
        assert_eq!(effects.puts[0].value.to_json(), cutoff(T0, T0 + 10_000));
    }
}

#[test]
fn a_future_global_cutoff_is_refused() {
    let mut engine = engine();
    let (_, cookie) = login(&engine, "alice", T0);
    let now = T0 + 1_000;
    // Microseconds by mistake.
    let err = engine
        .revoke_issued_before(now * 1_000, None::<&str>, now)
        .unwrap_err();
    assert!(matches!(err, ConfigError::InvalidTime(_)));
    assert!(err.to_string().contains("future"), "{err}");
    // Nothing changed.
    assert_eq!(engine.revocations().issued_before(), 0);
    expect_valid(engine.validate(Some(&cookie), now));
}

#[test]
fn a_corrupt_or_future_stored_cutoff_fails_closed_and_keeps_the_cookie() {
    let mut engine = engine();
    let (issued, cookie) = login(&engine, "alice", T0);
    let json = record_json(&issued);
    let now = T0 + 61_000;
    let pending = expect_pending(engine.validate(Some(&cookie), now));
    let future = cutoff(now * 1_000, now);
    for bad in [
        "",
        "garbage",
        "{}",
        r#"{"v":1,"before":1,"at":1}"#,
        r#"{"v":2,"before":-1,"at":1}"#,
        r#"{"v":2,"before":"1","at":1}"#,
        future.as_str(),
    ] {
        for values in [
            [Some(json.as_str()), None, Some(bad), None],
            [Some(json.as_str()), None, None, Some(bad)],
            // Checked before the record: fails closed whatever the record says.
            [None, None, Some(bad), None],
            [Some(r#"{"v":2,"ended":"revoked","at":1}"#), None, None, Some(bad)],
        ] {
            let fetched = Fetched::new(values);
            assert_eq!(
                engine.resume(&pending, &fetched, now).map(|_| ()),
                Err(RejectReason::CorruptCutoff),
                "{bad:?}"
            );
            assert_eq!(
                engine
                    .rotate(&pending, &fetched, DataChange::Keep, now)
                    .map(|_| ()),
                Err(RejectReason::CorruptCutoff)
            );
        }
    }
    assert!(!RejectReason::CorruptCutoff.clears_cookie());
    // The isolate learned nothing from them.
    assert_eq!(engine.revocations().issued_before(), 0);
    assert!(engine.resume(&pending, &only_record(&json), now).is_ok());
}

#[test]
fn only_refusals_that_say_nothing_against_the_session_keep_the_cookie() {
    let kept: Vec<RejectReason> = RejectReason::ALL
        .into_iter()
        .filter(|r| !r.clears_cookie())
        .collect();
    assert_eq!(
        kept,
        [
            RejectReason::Missing,
            RejectReason::StoreUnavailable,
            RejectReason::CorruptCutoff
        ]
    );
    for reason in [
        RejectReason::Revoked,
        RejectReason::Rotated,
        RejectReason::ExpiredIdle,
        RejectReason::ExpiredAbsolute,
        RejectReason::SessionNotFound,
        RejectReason::RecordMismatch,
        RejectReason::CorruptRecord,
        RejectReason::RecordVersion,
        RejectReason::BadSignature,
        RejectReason::BadVersion,
        RejectReason::UnknownKey,
        RejectReason::Malformed,
        RejectReason::DuplicateCookie,
        RejectReason::HeaderTooLarge,
        RejectReason::IssuedInFuture,
    ] {
        assert!(reason.clears_cookie(), "{reason}");
    }
    assert_eq!(RejectReason::CorruptCutoff.code(), "corrupt_cutoff");
    assert_eq!(
        RejectReason::from_code("corrupt_cutoff"),
        Some(RejectReason::CorruptCutoff)
    );
}

/// Regression (found while porting to v2): a stored global cutoff later than now
/// plus the skew is treated as corrupt by `resume` (`corrupt_cutoff`), but
/// `revoke_issued_before` took it as the highest value, reported it as not corrupt, wrote it
/// back, and raised this isolate's memory to it, so every session here (new logins included)
/// was refused `revoked` and its cookie cleared until the isolate restarts.
#[test]
fn revoke_issued_before_replaces_a_future_stored_cutoff() {
    let mut engine = engine();
    let now = T0 + 1_000;
    let future = cutoff(now * 1_000, T0);
    let (effects, corrupt) = engine
        .revoke_issued_before(T0, Some(future.as_str()), now)
        .unwrap();
    assert!(corrupt, "a future stored cutoff is as corrupt as garbage");
    assert_eq!(effects.puts[0].value.to_json(), cutoff(T0, now));
    assert_eq!(engine.revocations().issued_before(), T0);
    let (_, cookie) = login(&engine, "bob", now + 1);
    expect_valid(engine.validate(Some(&cookie), now + 2));
}

/// Regression, the same for one user: `revoke_user` used to keep a future stored cutoff (which
/// `resume` refuses as `corrupt_cutoff`), write it back, and remember it, so the user could not
/// log in on this isolate (`revoked`, cookie cleared) for the absolute timeout.
#[test]
fn revoke_user_replaces_a_future_stored_cutoff() {
    let mut engine = engine();
    let now = T0 + 1_000;
    let future = cutoff(now * 1_000, T0);
    let (effects, _) = engine.revoke_user("alice", Some(future.as_str()), now);
    assert_eq!(effects.puts[0].value.to_json(), cutoff(now + 1, now));
    let (_, cookie) = login(&engine, "alice", now + 1);
    expect_valid(engine.validate(Some(&cookie), now + 2));
}

// ---------------------------------------------------------------------------------------------
// Revocation memory

fn handle(i: u64) -> edge_session::SessionHandle {
    let mut bytes = [0xA5u8; 32];
    bytes[..8].copy_from_slice(&i.to_be_bytes());
    SessionId::from_bytes(bytes).handle()
}

#[test]
fn a_full_revocation_memory_goes_strict_and_recovers_once_entries_age_out() {
    const CAPACITY: u64 = 10_000;
    let mut engine = engine();
    let mut store = Store::default();
    let policy = *engine.policy();
    let remembered_for =
        policy.envelope_ttl_ms + policy.clock_skew_ms + edge_session::KV_PROPAGATION_MS;

    // The earliest entry is a real session, logged out first.
    let t = T0 + 1_000;
    let (victim, victim_cookie) = login(&engine, "victim", T0);
    store.apply(&victim.effects);
    let pending = engine.authenticate(Some(&victim_cookie), t - 1).unwrap();
    let (ended, overflowed) = engine.destroy(&pending, t - 1);
    assert!(!overflowed);
    store.apply(&ended);
    for i in 1..CAPACITY {
        assert!(!engine.remember_ended(&handle(i), Ended::Rotated, t));
    }
    assert_eq!(engine.revocations().counts(), (CAPACITY as usize, 0));
    assert!(!engine.revocations().strict(t));
    let (fresh, fresh_cookie) = login(&engine, "alice", t);
    store.apply(&fresh.effects);
    expect_valid(engine.validate(Some(&fresh_cookie), t));

    // One more: the earliest entry (the victim) is dropped and the isolate goes strict until it
    // would have expired.
    assert!(engine.remember_ended(&handle(CAPACITY), Ended::Revoked, t));
    assert_eq!(engine.revocations().counts(), (CAPACITY as usize, 0));
    let strict_until = t - 1 + remembered_for;
    assert!(engine.revocations().strict(strict_until - 1));
    assert!(!engine.revocations().strict(strict_until));

    // While strict, even a fresh envelope is judged against the store...
    let pending = expect_pending(engine.validate(Some(&fresh_cookie), t + 1));
    let r = engine
        .resume(&pending, &store.fetched(&pending), t + 1)
        .unwrap();
    assert_eq!(r.set_cookie, None);
    assert_eq!(r.session, fresh.session);
    // ...so the forgotten logout is still refused, by its tombstone.
    let pending = expect_pending(engine.validate(Some(&victim_cookie), t + 1));
    assert_eq!(
        engine.resume(&pending, &store.fetched(&pending), t + 1),
        Err(RejectReason::Revoked)
    );

    // Once the dropped entry would have expired, the fast path is back.
    expect_pending(engine.validate(Some(&fresh_cookie), strict_until - 1));
    let (_, later_cookie) = login(&engine, "alice", strict_until);
    expect_valid(engine.validate(Some(&later_cookie), strict_until));
    // And room is made by dropping expired entries, without going strict again.
    let much_later = t + remembered_for;
    assert!(!engine.remember_ended(&handle(CAPACITY + 1), Ended::Revoked, much_later));
    assert!(!engine.revocations().strict(much_later));
    assert_eq!(engine.revocations().counts(), (1, 0));
}

#[test]
fn a_full_user_revocation_memory_goes_strict_for_a_session_lifetime() {
    const CAPACITY: usize = 10_000;
    let mut engine = engine();
    let policy = *engine.policy();
    let t = T0;
    for i in 0..CAPACITY {
        let (_, overflowed) = engine.revoke_user(&format!("user{i}"), None::<&str>, t);
        assert!(!overflowed);
    }
    assert!(!engine.revocations().strict(t));
    let (effects, overflowed) = engine.revoke_user("one-more", None::<&str>, t);
    assert!(overflowed);
    // The cutoff is still written: the store remains the authority.
    assert_eq!(effects.puts.len(), 1);
    let until = t + policy.absolute_timeout_ms + policy.clock_skew_ms;
    assert!(engine.revocations().strict(until - 1));
    assert!(!engine.revocations().strict(until));
    let (_, cookie) = login(&engine, "alice", t + 1);
    expect_pending(engine.validate(Some(&cookie), t + 1));
}

// ---------------------------------------------------------------------------------------------
// Configuration

#[test]
fn secrets_are_base64url_of_at_least_32_bytes() {
    assert!(KeyRing::parse(&format!("k1:{}", secret_of(7))).is_ok());
    assert!(KeyRing::parse(&format!(" k1:{} , k0:{} ", secret_of(7), secret_of(8))).is_ok());
    // 31 bytes: too short, counted in decoded bytes.
    let short = base64url::encode(&[7u8; 31]);
    assert_eq!(short.len(), 42);
    let err = KeyRing::parse(&format!("k1:{short}")).unwrap_err();
    assert_eq!(
        err,
        ConfigError::SecretTooShort {
            key_id: "k1".to_owned(),
            len: 31
        }
    );
    assert_eq!(err.code(), "secret_too_short");
    let message = err.to_string();
    assert!(message.contains("31 bytes"), "{message}");
    assert!(
        message.contains("randomBytes(32).toString('base64url')"),
        "{message}"
    );

    // Not base64url: a v1-style passphrase, padding, the standard alphabet, spaces inside,
    // non-canonical trailing bits, an impossible length.
    let padded = format!("{}=", secret_of(7));
    let standard = base64url::encode(&[0xfb; 33])
        .replace('-', "+")
        .replace('_', "/");
    let sloppy = format!("{}B", &secret_of(0)[..42]);
    for bad in [
        "old-secret-0123456789abcdef-0123456789",
        padded.as_str(),
        standard.as_str(),
        "abcd efgh",
        sloppy.as_str(),
        "A",
        "é",
    ] {
        let err = KeyRing::parse(&format!("k1:{bad}")).unwrap_err();
        assert_eq!(
            err,
            ConfigError::SecretNotBase64url("k1".to_owned()),
            "{bad:?}"
        );
        assert_eq!(err.code(), "secret_not_base64url");
        let message = err.to_string();
        assert!(message.contains("base64url"), "{message}");
        assert!(
            message.contains("node -e") && message.contains("randomBytes(32)"),
            "{message}"
        );
    }
    // An empty secret decodes to nothing: too short.
    assert!(matches!(
        KeyRing::parse("k1:"),
        Err(ConfigError::SecretTooShort { len: 0, .. })
    ));
    // The secret is never echoed in an error.
    let err = KeyRing::parse(&format!("k1:{}", base64url::encode(b"hunter2"))).unwrap_err();
    assert!(!err.to_string().contains(&base64url::encode(b"hunter2")));
}

#[test]
fn options_from_json_build_the_engine_and_refuse_unknown_names() {
    let json = format!(
        r#"{{"keys":{{"current":"k2","keys":{{"k1":"{SECRET_OLD}","k2":"{SECRET_NEW}"}}}},"envelopeTtl":30,"idleTimeout":"600","absoluteTimeout":3600,"cookie":{{"name":"sid","sameSite":"Strict"}},"storeTimeoutMs":2000}}"#
    );
    let (engine, settings) = Options::from_json(&json).unwrap().build().unwrap();
    assert_eq!(settings.cookie_name, "__Host-sid");
    assert_eq!(settings.store_timeout_ms, 2_000);
    assert_eq!(engine.ring().ids().collect::<Vec<_>>(), ["k2", "k1"]);
    assert_eq!(engine.policy().envelope_ttl_ms, 30_000);
    assert_eq!(engine.policy().idle_timeout_ms, 600_000);
    assert_eq!(engine.policy().absolute_timeout_ms, 3_600_000);
    let issued = engine.issue("alice", None, None, T0).unwrap();
    assert!(issued
        .set_cookie
        .ends_with("; Max-Age=3600; Path=/; Secure; HttpOnly; SameSite=Strict"));
    // Values are bound to the cookie name: one moved from the default name is refused.
    let (_, cookie) = login(&engine_ring(&ring_k1()), "alice", T0);
    let cookie = cookie.replace("__Host-session", "__Host-sid");
    assert!(matches!(
        engine.validate(Some(&cookie), T0),
        Decision::Reject(RejectReason::BadSignature)
    ));

    for (json, code) in [
        (
            format!(r#"{{"keys":"k1:{SECRET_OLD}","envelopeTTL":30}}"#),
            "invalid_options",
        ),
        (
            format!(r#"{{"keys":"k1:{SECRET_OLD}","cookie":{{"colour":"red"}}}}"#),
            "invalid_options",
        ),
        (
            r#"{"keys":"k1:old-secret-0123456789abcdef-0123456789"}"#.to_owned(),
            "secret_not_base64url",
        ),
        (
            format!(r#"{{"keys":"k1:{}"}}"#, base64url::encode(&[1; 16])),
            "secret_too_short",
        ),
        ("{}".to_owned(), "invalid_key_ring"),
    ] {
        assert_eq!(
            Options::from_json(&json)
                .and_then(Options::build)
                .map(|_| ())
                .map_err(|e| e.code()),
            Err(code),
            "{json}"
        );
    }
}
