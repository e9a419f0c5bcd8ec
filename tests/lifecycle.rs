//! Whole session lifecycles against an in-memory store: login, fast path, refresh from the
//! record, write throttling, expiry, rotation, logout and revocation.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

mod common;

use common::*;
use edge_session::{
    ConfigError, Decision, IndexEntry, Policy, Record, RejectReason, RECORD_VERSION,
};

#[test]
fn issue_validate_expire_resume() {
    let engine = engine();
    let mut store = Store::default();
    let (issued, cookie) = login(&engine, "alice", T0);
    store.apply(&issued.effects);
    assert_eq!(issued.previous, None);
    assert!(issued.effects.deletes.is_empty());
    assert_eq!(issued.effects.puts.len(), 2);

    // The record and the index entry.
    let handle = issued.session.handle.clone();
    let record = Record::from_json(store.get(&handle.storage_key()).unwrap()).unwrap();
    assert_eq!(record.v, RECORD_VERSION);
    assert_eq!(record.user_id, "alice");
    assert_eq!(record.created_at, T0);
    assert_eq!(record.last_seen_at, T0);
    assert_eq!(record.generation, 0);
    assert_eq!(record.absolute_deadline, T0 + 43_200_000);
    assert_eq!(record.user_agent.as_deref(), Some("TestAgent/1.0"));
    let index_key = handle.index_key("alice");
    assert!(index_key.starts_with(&engine.user_index_prefix("alice")));
    let index_put = issued
        .effects
        .puts
        .iter()
        .find(|p| p.key == index_key)
        .unwrap();
    let entry: IndexEntry = serde_json::from_str(&index_put.value).unwrap();
    assert_eq!(entry, IndexEntry::of(&record));
    assert_eq!(
        index_put.metadata.as_deref(),
        Some(index_put.value.as_str())
    );
    for put in &issued.effects.puts {
        assert_eq!(put.ttl_secs, 43_200);
    }

    // The Set-Cookie.
    assert!(issued.set_cookie.starts_with("__Host-session="));
    assert!(issued
        .set_cookie
        .ends_with("; Max-Age=43200; Path=/; Secure; HttpOnly; SameSite=Lax"));

    // Fast path.
    let (session, set_cookie) = expect_valid(engine.validate(Some(&cookie), T0 + 30_000));
    assert_eq!(session, issued.session);
    assert_eq!(set_cookie, None);

    // Envelope expired: the record decides.
    let t1 = T0 + 61_000;
    let pending = expect_pending(engine.validate(Some(&cookie), t1));
    assert_eq!(pending.storage_key(), issued.effects.puts[0].key);
    assert_eq!(pending.handle(), &handle);
    assert_eq!(pending.user_id(), "alice");
    assert_eq!(pending.session(), issued.session);
    let refreshed = engine
        .resume(&pending, store.get(&pending.storage_key()), t1)
        .unwrap();
    // Within the touch interval: nothing to write.
    assert_eq!(refreshed.effects, Default::default());
    let renewed = refreshed.set_cookie.expect("a renewed envelope");
    assert!(renewed.contains(&format!("Max-Age={};", 43_200 - 61)));
    assert_eq!(refreshed.session.handle, handle);
    assert_eq!(refreshed.session.created_at, T0);
    assert_eq!(refreshed.session.issued_at, t1);
    assert_eq!(refreshed.session.envelope_expires_at, t1 + 60_000);
    assert_eq!(refreshed.session.idle_expires_at, t1 + 1_800_000);
    assert_eq!(refreshed.session.absolute_expires_at, T0 + 43_200_000);

    // The renewed envelope is on the fast path again.
    let (session, _) = expect_valid(engine.validate(Some(&pair(&renewed)), t1 + 1));
    assert_eq!(session, refreshed.session);
}

#[test]
fn touch_writes_are_throttled() {
    let engine = engine();
    let mut store = Store::default();
    let (issued, mut cookie) = login(&engine, "alice", T0);
    store.apply(&issued.effects);
    let key = issued.session.handle.storage_key();
    let index_key = issued.session.handle.index_key("alice");
    let touch = engine.policy().touch_interval_ms;

    let mut last_seen = T0;
    let mut writes = 0;
    // A request every 61 s for an hour: a refresh each time, a write every third or so.
    for step in 1..=59u64 {
        let now = T0 + step * 61_000;
        let pending = expect_pending(engine.validate(Some(&cookie), now));
        let r = engine.resume(&pending, store.get(&key), now).unwrap();
        if now - last_seen >= touch {
            assert_eq!(r.effects.puts.len(), 2, "step {step}");
            assert_eq!(r.effects.puts[0].key, key);
            assert_eq!(r.effects.puts[1].key, index_key);
            for put in &r.effects.puts {
                assert!(put.ttl_secs >= 60);
                assert_eq!(put.ttl_secs, (T0 + 43_200_000 - now).div_ceil(1_000));
            }
            let written = Record::from_json(&r.effects.puts[0].value).unwrap();
            assert_eq!(written.last_seen_at, now);
            assert_eq!(
                r.effects.puts[1].metadata.as_deref(),
                Some(r.effects.puts[1].value.as_str())
            );
            last_seen = now;
            writes += 1;
        } else {
            assert!(r.effects.puts.is_empty(), "step {step}");
        }
        assert!(r.effects.deletes.is_empty());
        store.apply(&r.effects);
        cookie = pair(&r.set_cookie.unwrap());
    }
    assert!((15..=25).contains(&writes), "{writes} writes");
    assert_eq!(
        Record::from_json(store.get(&key).unwrap())
            .unwrap()
            .last_seen_at,
        last_seen
    );
}

#[test]
fn near_the_absolute_deadline_ttls_stay_at_the_kv_minimum() {
    // Idle timeout as long as the absolute lifetime, so one late request is still in time.
    let engine = engine_policy(Policy::new(60_000, 43_200_000, 43_200_000).unwrap());
    let (issued, cookie) = login(&engine, "alice", T0);
    let now = T0 + 43_200_000 - 5_000;
    let pending = engine.authenticate(Some(&cookie), now).unwrap();
    let r = engine
        .resume(&pending, Some(&record_json(&issued)), now)
        .unwrap();
    assert_eq!(r.effects.puts.len(), 2);
    for put in &r.effects.puts {
        assert_eq!(put.ttl_secs, 60);
    }
}

#[test]
fn idle_expiry_through_resume() {
    let engine = engine_policy(Policy::new(1_000, 3_000, 10_000).unwrap());
    let (issued, cookie) = login(&engine, "alice", T0);
    let pending = expect_pending(engine.validate(Some(&cookie), T0 + 2_000));
    // The user came back after the idle timeout, but the host read the record late.
    assert_eq!(
        engine.resume(&pending, Some(&record_json(&issued)), T0 + 3_000),
        Err(RejectReason::ExpiredIdle)
    );
    assert_eq!(
        expect_reject(engine.validate(Some(&cookie), T0 + 3_000)),
        RejectReason::ExpiredIdle
    );
}

#[test]
fn absolute_expiry_cannot_be_outrun_by_activity() {
    let engine = engine_policy(Policy::new(1_000, 3_000, 10_000).unwrap());
    let mut store = Store::default();
    let (issued, mut cookie) = login(&engine, "alice", T0);
    store.apply(&issued.effects);
    let key = issued.session.handle.storage_key();
    let mut now = T0;
    loop {
        now += 1_500;
        match engine.validate(Some(&cookie), now) {
            Decision::Valid { .. } => {}
            Decision::NeedRecord(pending) => {
                let r = engine.resume(&pending, store.get(&key), now).unwrap();
                store.apply(&r.effects);
                if let Some(set) = r.set_cookie {
                    cookie = pair(&set);
                }
            }
            Decision::Reject(reason) => {
                assert_eq!(reason, RejectReason::ExpiredAbsolute);
                break;
            }
        }
        assert!(now < T0 + 10_000, "outlived the absolute deadline");
    }
    assert_eq!(now, T0 + 10_500);
}

#[test]
fn rotation() {
    let mut engine = engine();
    let mut store = Store::default();
    let (issued, old_cookie) = login(&engine, "alice", T0);
    store.apply(&issued.effects);
    let old = issued.session.handle.clone();

    let t = T0 + 10_000;
    let pending = engine.authenticate(Some(&old_cookie), t).unwrap();
    let rotated = engine
        .rotate(&pending, store.get(&old.storage_key()), t)
        .unwrap();
    store.apply(&rotated.effects);

    // The new session: same user, login time and absolute deadline; a new handle.
    assert_eq!(rotated.previous.as_ref(), Some(&old));
    assert_ne!(rotated.session.handle, old);
    assert_eq!(rotated.session.user_id, "alice");
    assert_eq!(rotated.session.created_at, T0);
    assert_eq!(rotated.session.absolute_expires_at, T0 + 43_200_000);
    assert_eq!(rotated.session.generation, 1);
    assert_eq!(rotated.session.issued_at, t);

    // Tombstone for the old key, index entry for the old key deleted, new record and index.
    let tombstone = rotated
        .effects
        .puts
        .iter()
        .find(|p| p.key == old.storage_key())
        .expect("tombstone");
    let tomb = Record::from_json(&tombstone.value).unwrap();
    assert_eq!(tomb.rotated_at, Some(t));
    assert_eq!(tomb.generation, 0);
    assert!(tombstone.ttl_secs >= 60);
    assert_eq!(rotated.effects.deletes, vec![old.index_key("alice")]);
    let new_record = Record::from_json(&record_json(&rotated)).unwrap();
    assert_eq!(new_record.generation, 1);
    assert_eq!(new_record.created_at, T0);
    assert_eq!(new_record.last_seen_at, t);
    assert_eq!(new_record.absolute_deadline, T0 + 43_200_000);
    assert_eq!(new_record.rotated_at, None);
    assert!(rotated
        .effects
        .puts
        .iter()
        .any(|p| p.key == rotated.session.handle.index_key("alice")));
    assert_eq!(rotated.effects.puts.len(), 3);

    // The new cookie works; the old one is refused at once in this isolate.
    let new_cookie = pair(&rotated.set_cookie);
    let (session, _) = expect_valid(engine.validate(Some(&new_cookie), t + 1));
    assert_eq!(session.generation, 1);
    assert_eq!(
        expect_reject(engine.validate(Some(&old_cookie), t + 1)),
        RejectReason::Rotated
    );
    assert_eq!(
        engine.rotate(&pending, store.get(&old.storage_key()), t + 1),
        Err(RejectReason::Rotated)
    );

    // Another isolate knows nothing, but once the old envelope expires the tombstone decides.
    let other = engine_ring(&ring_k1());
    let later = T0 + 61_000;
    let pending = expect_pending(other.validate(Some(&old_cookie), later));
    assert_eq!(
        other.resume(&pending, store.get(&old.storage_key()), later),
        Err(RejectReason::Rotated)
    );
    let mut other = other;
    assert_eq!(
        other.rotate(&pending, store.get(&old.storage_key()), later),
        Err(RejectReason::Rotated)
    );
    // ...and the new session resumes there from its own record.
    let pending = expect_pending(other.validate(Some(&new_cookie), t + 61_000));
    let r = other
        .resume(&pending, store.get(&pending.storage_key()), t + 61_000)
        .unwrap();
    assert_eq!(r.session.generation, 1);
    assert_eq!(r.session.created_at, T0);
}

#[test]
fn rotation_never_extends_the_absolute_deadline() {
    let mut engine = engine_policy(Policy::new(1_000, 3_000, 10_000).unwrap());
    let (issued, cookie) = login(&engine, "alice", T0);
    let pending = engine.authenticate(Some(&cookie), T0 + 2_500).unwrap();
    let rotated = engine
        .rotate(&pending, Some(&record_json(&issued)), T0 + 2_500)
        .unwrap();
    assert_eq!(rotated.session.absolute_expires_at, T0 + 10_000);
    assert_eq!(rotated.session.idle_expires_at, T0 + 5_500);
    // Rotating an expired session is refused like resuming it.
    let mut engine = engine_policy(Policy::new(1_000, 3_000, 10_000).unwrap());
    let pending = engine.authenticate(Some(&cookie), T0 + 3_000).unwrap();
    assert_eq!(
        engine.rotate(&pending, Some(&record_json(&issued)), T0 + 3_000),
        Err(RejectReason::ExpiredIdle)
    );
}

#[test]
fn destroy() {
    let mut engine = engine();
    let mut store = Store::default();
    let (issued, cookie) = login(&engine, "alice", T0);
    store.apply(&issued.effects);
    let handle = issued.session.handle.clone();
    let t = T0 + 5_000;
    let pending = engine.authenticate(Some(&cookie), t).unwrap();
    let effects = engine.destroy(&pending, t);
    assert!(effects.puts.is_empty());
    assert_eq!(
        effects.deletes,
        vec![handle.storage_key(), handle.index_key("alice")]
    );
    store.apply(&effects);
    assert!(store.values.is_empty());

    // Refused at once here, on the fast path.
    assert_eq!(
        expect_reject(engine.validate(Some(&cookie), t)),
        RejectReason::Revoked
    );
    assert_eq!(
        engine.authenticate(Some(&cookie), t + 1),
        Err(RejectReason::Revoked)
    );

    // Elsewhere, after the envelope expires, the record is gone.
    let other = engine_ring(&ring_k1());
    let pending = expect_pending(other.validate(Some(&cookie), T0 + 60_000));
    assert_eq!(
        other.resume(&pending, store.get(&pending.storage_key()), T0 + 60_000),
        Err(RejectReason::SessionNotFound)
    );
}

#[test]
fn records_that_do_not_fit_are_refused() {
    let engine = engine();
    let (issued, cookie) = login(&engine, "alice", T0);
    let good = record_json(&issued);
    let now = T0 + 61_000;
    let pending = expect_pending(engine.validate(Some(&cookie), now));
    let resume = |json: Option<&str>| engine.resume(&pending, json, now);

    assert!(resume(Some(&good)).is_ok());
    assert_eq!(resume(None), Err(RejectReason::SessionNotFound));
    for corrupt in [
        "",
        "{",
        "null",
        "[]",
        "{\"v\":1}",
        "\u{0}",
        &good[..good.len() - 1],
    ] {
        assert_eq!(
            resume(Some(corrupt)),
            Err(RejectReason::CorruptRecord),
            "{corrupt:?}"
        );
    }
    let v2 = good.replace("\"v\":1", "\"v\":2");
    assert_ne!(v2, good);
    assert_eq!(resume(Some(&v2)), Err(RejectReason::RecordVersion));

    // Another user's record, another session's record, a different generation or deadline.
    let (bob, _) = login(&engine, "bob", T0);
    assert_eq!(
        resume(Some(&record_json(&bob))),
        Err(RejectReason::RecordMismatch)
    );
    let (later, _) = login(&engine, "alice", T0 + 1);
    assert_eq!(
        resume(Some(&record_json(&later))),
        Err(RejectReason::RecordMismatch)
    );
    let mut record = Record::from_json(&good).unwrap();
    record.generation = 1;
    assert_eq!(
        resume(Some(&record.to_json())),
        Err(RejectReason::RecordMismatch)
    );
    let mut record = Record::from_json(&good).unwrap();
    record.absolute_deadline += 1;
    assert_eq!(
        resume(Some(&record.to_json())),
        Err(RejectReason::RecordMismatch)
    );

    // A revoked tombstone.
    let mut record = Record::from_json(&good).unwrap();
    record.revoked_at = Some(T0 + 1);
    assert_eq!(resume(Some(&record.to_json())), Err(RejectReason::Revoked));
}

#[test]
fn revoke_user_refuses_on_the_fast_path() {
    let mut engine = engine();
    let (_, alice) = login(&engine, "alice", T0);
    let (_, alice2) = login(&engine, "alice", T0 + 100);
    let (_, bob) = login(&engine, "bob", T0);
    let t = T0 + 1_000;
    engine.revoke_user("alice", t);
    for cookie in [&alice, &alice2] {
        assert_eq!(
            expect_reject(engine.validate(Some(cookie), t)),
            RejectReason::Revoked
        );
        // Also after expiry: refused before any record read.
        assert_eq!(
            expect_reject(engine.validate(Some(cookie), T0 + 120_000)),
            RejectReason::Revoked
        );
    }
    expect_valid(engine.validate(Some(&bob), t));
    // A login after the cutoff works.
    let (_, fresh) = login(&engine, "alice", t + 1);
    let (session, _) = expect_valid(engine.validate(Some(&fresh), t + 2));
    assert_eq!(session.user_id, "alice");
}

#[test]
fn revoke_issued_before_refuses_on_the_fast_path() {
    let mut engine = engine();
    let (_, alice) = login(&engine, "alice", T0);
    let (_, bob) = login(&engine, "bob", T0 + 500);
    let cutoff = T0 + 1_000;
    engine.revoke_issued_before(cutoff);
    assert_eq!(engine.revocations().issued_before(), cutoff);
    for cookie in [&alice, &bob] {
        assert_eq!(
            expect_reject(engine.validate(Some(cookie), cutoff)),
            RejectReason::Revoked
        );
    }
    // The cutoff never moves back.
    engine.revoke_issued_before(T0);
    assert_eq!(engine.revocations().issued_before(), cutoff);
    let (_, fresh) = login(&engine, "carol", cutoff + 1);
    expect_valid(engine.validate(Some(&fresh), cutoff + 2));
}

#[test]
fn revoke_handle() {
    let mut engine = engine();
    let (issued, cookie) = login(&engine, "alice", T0);
    let handle = issued.session.handle.clone();
    let record = record_json(&issued);
    let t = T0 + 1_000;

    // Owner mismatch, missing and corrupt records: nothing happens.
    assert_eq!(
        engine.revoke_handle(&handle, Some(&record), Some("mallory"), t),
        None
    );
    assert_eq!(engine.revoke_handle(&handle, None, None, t), None);
    assert_eq!(engine.revoke_handle(&handle, Some("{"), None, t), None);
    expect_valid(engine.validate(Some(&cookie), t));
    // An expired or already tombstoned session is not revoked again.
    assert_eq!(
        engine.revoke_handle(&handle, Some(&record), None, T0 + 43_200_000),
        None
    );
    let mut tomb = Record::from_json(&record).unwrap();
    tomb.rotated_at = Some(t);
    assert_eq!(
        engine.revoke_handle(&handle, Some(&tomb.to_json()), None, t),
        None
    );

    // The owner revokes it.
    let (user, effects) = engine
        .revoke_handle(&handle, Some(&record), Some("alice"), t)
        .unwrap();
    assert_eq!(user, "alice");
    assert_eq!(
        effects.deletes,
        vec![handle.storage_key(), handle.index_key("alice")]
    );
    assert!(effects.puts.is_empty());
    assert_eq!(
        expect_reject(engine.validate(Some(&cookie), t)),
        RejectReason::Revoked
    );
}

#[test]
fn strict_policy_always_reads_the_record() {
    let engine = engine_policy(Policy {
        strict: true,
        ..Policy::default()
    });
    let (issued, cookie) = login(&engine, "alice", T0);
    for now in [T0, T0 + 1, T0 + 59_999] {
        let pending = expect_pending(engine.validate(Some(&cookie), now));
        let r = engine
            .resume(&pending, Some(&record_json(&issued)), now)
            .unwrap();
        // Fresh envelope: not re-sent.
        assert_eq!(r.set_cookie, None);
        assert_eq!(r.session.handle, issued.session.handle);
        assert_eq!(r.session.idle_expires_at, T0 + 1_800_000);
        // A revoked record is seen at once.
        let mut record = Record::from_json(&record_json(&issued)).unwrap();
        record.revoked_at = Some(now);
        assert_eq!(
            engine.resume(&pending, Some(&record.to_json()), now),
            Err(RejectReason::Revoked)
        );
    }
}

#[test]
fn invalid_user_ids_are_refused_at_issue() {
    let engine = engine();
    for bad in [
        String::new(),
        "x".repeat(129),
        "é".repeat(65),
        "a\nb".to_owned(),
        "a\u{0}".to_owned(),
        "\u{7f}".to_owned(),
        "\u{85}".to_owned(),
    ] {
        assert_eq!(
            engine.issue(&bad, None, T0).err(),
            Some(ConfigError::InvalidUserId),
            "{bad:?}"
        );
    }
    for good in ["x".repeat(128), "é".repeat(64), "a b;c=d,\"e\"".to_owned()] {
        let (_, cookie) = login(&engine, &good, T0);
        let (session, _) = expect_valid(engine.validate(Some(&cookie), T0));
        assert_eq!(session.user_id, good);
    }
}

#[test]
fn user_agent_is_summarised() {
    let engine = engine();
    let ua = format!("Mozilla/5.0\r\n{}", "x".repeat(500));
    let issued = engine.issue("alice", Some(&ua), T0).unwrap();
    let record = Record::from_json(&record_json(&issued)).unwrap();
    let summary = record.user_agent.unwrap();
    assert!(summary.chars().count() <= 128);
    assert!(!summary.contains(['\r', '\n']));
    let issued = engine.issue("alice", None, T0).unwrap();
    assert_eq!(
        Record::from_json(&record_json(&issued)).unwrap().user_agent,
        None
    );
}
