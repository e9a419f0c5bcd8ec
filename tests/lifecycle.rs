//! Whole session lifecycles against an in-memory store: login, fast path, refresh from the
//! record, last-seen write throttling, expiry, rotation, logout, revocation and listings.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

mod common;

use common::*;
use edge_session::{
    lineage_prefix, others_cutoff_key, touch_prefix, user_cutoff_key, ConfigError, DataChange,
    Decision, Ended, Fetched, IndexEntry, Policy, RecordState, RejectReason, SessionHandle,
    SessionId, Tombstone, Touch, Value, GLOBAL_CUTOFF_KEY, STORE_VERSION,
};

/// 12 hours, the default absolute lifetime, in KV TTL seconds.
const ABSOLUTE_SECS: u64 = 43_200;

#[test]
fn issue_validate_expire_resume() {
    let mut engine = engine();
    let mut store = Store::default();
    let (issued, cookie) = login(&engine, "alice", T0);
    store.apply(&issued.effects);
    assert!(issued.effects.deletes.is_empty());
    assert_eq!(issued.effects.puts.len(), 2);

    // The record: written once, here, and never by a refresh.
    let handle = issued.session.handle.clone();
    let record = live(store.get(&handle.storage_key()).unwrap());
    assert_eq!(record.v, STORE_VERSION);
    assert_eq!(record.user_id, "alice");
    assert_eq!(record.created_at, T0);
    assert_eq!(record.generation, 0);
    assert_eq!(record.absolute_deadline, T0 + 43_200_000);
    assert_eq!(record.idle_timeout_ms, 1_800_000);
    assert_eq!(record.data, None);
    assert_eq!(record.user_agent.as_deref(), Some("TestAgent/1.0"));
    let record_put = &issued.effects.puts[0];
    assert_eq!(record_put.key, handle.storage_key());
    assert_eq!(record_put.metadata, None);

    // The index entry, as value and as metadata (listings need no per-session reads).
    let index_key = handle.index_key("alice");
    assert!(index_key.starts_with(&engine.user_index_prefix("alice")));
    let index_put = &issued.effects.puts[1];
    assert_eq!(index_put.key, index_key);
    let entry = IndexEntry {
        v: STORE_VERSION,
        lineage: record.lineage,
        created_at: T0,
        absolute_deadline: T0 + 43_200_000,
        user_agent: "TestAgent/1.0".to_owned(),
    };
    assert_eq!(index_put.value, Value::Index(entry.clone()));
    assert_eq!(index_put.metadata, Some(Value::Index(entry.clone())));
    assert_eq!(
        IndexEntry::decode(store.metadata[&index_key].as_str()),
        Some(entry)
    );
    for put in &issued.effects.puts {
        assert_eq!(put.expiration_ttl, Some(ABSOLUTE_SECS));
    }

    // The Set-Cookie.
    assert!(issued.set_cookie.starts_with("__Host-session="));
    assert!(issued
        .set_cookie
        .ends_with("; Max-Age=43200; Path=/; Secure; HttpOnly; SameSite=Lax"));

    // Fast path.
    let session = expect_valid(engine.validate(Some(&cookie), T0 + 30_000));
    assert_eq!(session, issued.session);

    // Envelope expired: the store decides.
    let t1 = T0 + 61_000;
    let pending = expect_pending(engine.validate(Some(&cookie), t1));
    assert_eq!(
        pending.reads(),
        [
            handle.storage_key(),
            pending.lineage().storage_key("alice"),
            user_cutoff_key("alice"),
            GLOBAL_CUTOFF_KEY.to_owned(),
            others_cutoff_key("alice"),
        ]
    );
    assert_eq!(GLOBAL_CUTOFF_KEY, "r:issued_before");
    assert!(pending.reads()[1].starts_with(&engine.lineage_prefix("alice")));
    assert!(pending.reads()[2].starts_with("c:"));
    assert_eq!(pending.reads()[2], engine.user_cutoff_key("alice"));
    // The lineage is the record's, as base64url of 16 bytes.
    let lineage = record_of(&issued).lineage;
    assert_eq!(pending.lineage(), &lineage);
    assert_eq!(
        pending.reads()[1],
        format!("{}{}", lineage_prefix("alice"), lineage.text())
    );
    // `l:` + the user's hash (43) + `:` + the lineage (22).
    assert_eq!(pending.reads()[1].len(), 2 + 43 + 1 + 22);
    assert_eq!(lineage_prefix("alice").len(), 2 + 43 + 1);
    assert_eq!(
        &lineage_prefix("alice")[2..45],
        &user_cutoff_key("alice")[2..],
        "the same user hash as the cutoff key"
    );
    assert_eq!(pending.handle(), &handle);
    assert_eq!(pending.user_id(), "alice");
    assert_eq!(pending.session(), issued.session);
    let refreshed = engine
        .resume(&pending, &store.fetched(&pending), t1)
        .unwrap();
    // T0 and t1 fall in the same touch interval: nothing to write.
    assert!(refreshed.effects.is_empty());
    let renewed = refreshed.set_cookie.expect("a renewed envelope");
    assert!(renewed.contains(&format!("Max-Age={};", ABSOLUTE_SECS - 61)));
    assert_eq!(refreshed.session.handle, handle);
    assert_eq!(refreshed.session.created_at, T0);
    assert_eq!(refreshed.session.issued_at, t1);
    assert_eq!(refreshed.session.envelope_expires_at, t1 + 60_000);
    assert_eq!(refreshed.session.idle_expires_at, t1 + 1_800_000);
    assert_eq!(refreshed.session.absolute_expires_at, T0 + 43_200_000);

    // The renewed envelope is on the fast path again.
    let session = expect_valid(engine.validate(Some(&pair(&renewed)), t1 + 1));
    assert_eq!(session, refreshed.session);
}

#[test]
fn refreshes_write_only_throttled_last_seen_keys() {
    let mut engine = engine();
    let mut store = Store::default();
    let (issued, mut cookie) = login(&engine, "alice", T0);
    store.apply(&issued.effects);
    let handle = issued.session.handle.clone();
    let record_before = store.get(&handle.storage_key()).unwrap().to_owned();
    let touch_key = handle.touch_key("alice");
    assert!(touch_key.starts_with(&touch_prefix("alice")));
    assert!(touch_key.starts_with("t:"));
    let interval = engine.policy().touch_interval_ms;
    assert_eq!(interval, 180_000);

    let mut written_in = std::collections::BTreeSet::new();
    let mut last_seen = T0;
    // A request every 61 s for an hour: a refresh each time, a last-seen write only when the
    // refresh crosses into a new touch interval.
    for step in 1..=59u64 {
        let now = T0 + step * 61_000;
        let previous_issued_at = expect_pending(engine.validate(Some(&cookie), now))
            .session()
            .issued_at;
        let pending = expect_pending(engine.validate(Some(&cookie), now));
        let r = engine
            .resume(&pending, &store.fetched(&pending), now)
            .unwrap();
        assert!(r.effects.deletes.is_empty(), "step {step}");
        if now / interval != previous_issued_at / interval {
            assert_eq!(r.effects.puts.len(), 1, "step {step}");
            let put = &r.effects.puts[0];
            assert_eq!(put.key, touch_key);
            let touch = Touch {
                v: STORE_VERSION,
                last_seen_at: now,
            };
            assert_eq!(put.value, Value::Touch(touch.clone()));
            assert_eq!(put.metadata, Some(Value::Touch(touch)));
            assert_eq!(
                put.expiration_ttl,
                Some((T0 + 43_200_000 - now).div_ceil(1_000))
            );
            // At most one write per touch interval.
            assert!(written_in.insert(now / interval), "step {step}");
            last_seen = now;
        } else {
            assert!(r.effects.puts.is_empty(), "step {step}");
        }
        store.apply(&r.effects);
        cookie = pair(&r.set_cookie.unwrap());
        // The last-seen time never lags more than one interval and one envelope behind.
        assert!(now - last_seen < interval + 61_000, "step {step}");
    }
    assert!((18..=21).contains(&written_in.len()), "{written_in:?}");
    assert_eq!(
        Touch::decode(store.get(&touch_key).unwrap()).unwrap(),
        Touch {
            v: STORE_VERSION,
            last_seen_at: last_seen
        }
    );
    // The record itself was never rewritten, and nothing but s:, u: and t: exists.
    assert_eq!(store.get(&handle.storage_key()).unwrap(), record_before);
    assert_eq!(store.values.len(), 3);
}

#[test]
fn near_the_absolute_deadline_ttls_stay_at_the_kv_minimum() {
    // Idle timeout as long as the absolute lifetime, so one late request is still in time.
    let mut engine = engine_policy(Policy::new(60_000, 43_200_000, 43_200_000).unwrap());
    let (issued, cookie) = login(&engine, "alice", T0);
    let now = T0 + 43_200_000 - 5_000;
    let pending = engine.authenticate(Some(&cookie), now).unwrap();
    let json = record_json(&issued);
    let r = engine.resume(&pending, &only_record(&json), now).unwrap();
    assert_eq!(r.effects.puts.len(), 1);
    assert_eq!(r.effects.puts[0].expiration_ttl, Some(60));
    assert!(r.set_cookie.unwrap().contains("Max-Age=5;"));

    // A session shorter than a minute is still stored for KV's minimum.
    let engine = engine_policy(Policy::new(1_000, 3_000, 10_000).unwrap());
    let (issued, _) = login(&engine, "alice", T0);
    for put in &issued.effects.puts {
        assert_eq!(put.expiration_ttl, Some(60));
    }
    assert!(issued.set_cookie.contains("Max-Age=10;"));
}

#[test]
fn idle_expiry_through_resume() {
    let mut engine = engine_policy(Policy::new(1_000, 3_000, 10_000).unwrap());
    let (issued, cookie) = login(&engine, "alice", T0);
    let pending = expect_pending(engine.validate(Some(&cookie), T0 + 2_000));
    // The user came back after the idle timeout, but the host read the record late.
    let json = record_json(&issued);
    assert_eq!(
        engine.resume(&pending, &only_record(&json), T0 + 3_000),
        Err(RejectReason::ExpiredIdle)
    );
    assert_eq!(
        expect_reject(engine.validate(Some(&cookie), T0 + 3_000)),
        RejectReason::ExpiredIdle
    );
}

#[test]
fn absolute_expiry_cannot_be_outrun_by_activity() {
    let mut engine = engine_policy(Policy::new(1_000, 3_000, 10_000).unwrap());
    let mut store = Store::default();
    let (issued, mut cookie) = login(&engine, "alice", T0);
    store.apply(&issued.effects);
    let mut now = T0;
    loop {
        now += 1_500;
        match request(&mut engine, &mut store, &cookie, now) {
            Ok((_, next)) => cookie = next,
            Err(reason) => {
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
    let (issued, old_cookie) = login_with(&engine, "alice", Some(data(r#"{"role":"user"}"#)), T0);
    store.apply(&issued.effects);
    let old = issued.session.handle.clone();

    let t = T0 + 10_000;
    let pending = engine.authenticate(Some(&old_cookie), t).unwrap();
    let rotation = engine
        .rotate(&pending, &store.fetched(&pending), DataChange::Keep, t)
        .unwrap();
    // rotate() changes nothing in memory: the old envelope still works until the host has
    // written the new session and called remember_ended.
    assert_eq!(engine.revocations().counts(), (0, 0));
    expect_valid(engine.validate(Some(&old_cookie), t));

    let new = rotation.issued.session.clone();
    assert_eq!(rotation.previous, old);
    store.apply(&rotation.issued.effects);
    assert!(!engine.remember_ended(&rotation.previous, Ended::Rotated, t));
    store.apply(&rotation.retire);

    // The new session: same user, login time, absolute deadline and data; a new handle.
    assert_ne!(new.handle, old);
    assert_eq!(new.user_id, "alice");
    assert_eq!(new.created_at, T0);
    assert_eq!(new.absolute_expires_at, T0 + 43_200_000);
    assert_eq!(new.generation, 1);
    assert_eq!(new.issued_at, t);
    assert_eq!(new.data.as_deref(), Some(r#"{"role":"user"}"#));

    // Its record and index entry.
    assert_eq!(rotation.issued.effects.puts.len(), 2);
    assert!(rotation.issued.effects.deletes.is_empty());
    let new_record = record_of(&rotation.issued);
    assert_eq!(new_record.generation, 1);
    assert_eq!(new_record.created_at, T0);
    assert_eq!(new_record.absolute_deadline, T0 + 43_200_000);
    assert_eq!(new_record.data.as_deref(), Some(r#"{"role":"user"}"#));
    assert_eq!(
        rotation.issued.effects.puts[1].key,
        new.handle.index_key("alice")
    );

    // The old one: a tombstone until its own deadline, its index and last-seen keys dropped.
    assert_eq!(rotation.retire.puts.len(), 1);
    let tomb = &rotation.retire.puts[0];
    assert_eq!(tomb.key, old.storage_key());
    assert_eq!(
        tomb.value.to_json(),
        format!(r#"{{"v":2,"ended":"rotated","at":{t}}}"#)
    );
    assert_eq!(
        tomb.expiration_ttl,
        Some((T0 + 43_200_000 - t).div_ceil(1_000))
    );
    assert_eq!(
        rotation.retire.deletes,
        vec![old.index_key("alice"), old.touch_key("alice")]
    );
    assert_eq!(
        RecordState::decode(store.get(&old.storage_key()).unwrap()),
        Ok(RecordState::Ended(Tombstone {
            v: STORE_VERSION,
            ended: Ended::Rotated,
            at: t
        }))
    );

    // The new cookie works; the old one is refused at once in this isolate.
    let new_cookie = pair(&rotation.issued.set_cookie);
    let session = expect_valid(engine.validate(Some(&new_cookie), t + 1));
    assert_eq!(session.generation, 1);
    assert_eq!(
        expect_reject(engine.validate(Some(&old_cookie), t + 1)),
        RejectReason::Rotated
    );
    assert_eq!(
        engine.rotate(&pending, &store.fetched(&pending), DataChange::Keep, t + 1),
        Err(RejectReason::Rotated)
    );

    // Another isolate knows nothing, but once the old envelope expires the tombstone decides.
    let mut other = engine_ring(&ring_k1());
    let later = T0 + 61_000;
    let pending = expect_pending(other.validate(Some(&old_cookie), later));
    assert_eq!(
        other.resume(&pending, &store.fetched(&pending), later),
        Err(RejectReason::Rotated)
    );
    assert_eq!(
        other.rotate(&pending, &store.fetched(&pending), DataChange::Keep, later),
        Err(RejectReason::Rotated)
    );
    // ...and the new session resumes there from its own record.
    let (session, _) = request(&mut other, &mut store, &new_cookie, t + 61_000).unwrap();
    assert_eq!(session.generation, 1);
    assert_eq!(session.created_at, T0);
    assert_eq!(session.handle, new.handle);
}

#[test]
fn rotation_never_extends_the_absolute_deadline() {
    let mut engine = engine_policy(Policy::new(1_000, 3_000, 10_000).unwrap());
    let (issued, cookie) = login(&engine, "alice", T0);
    let json = record_json(&issued);
    let pending = engine.authenticate(Some(&cookie), T0 + 2_500).unwrap();
    let rotation = engine
        .rotate(&pending, &only_record(&json), DataChange::Keep, T0 + 2_500)
        .unwrap();
    assert_eq!(rotation.issued.session.absolute_expires_at, T0 + 10_000);
    assert_eq!(rotation.issued.session.idle_expires_at, T0 + 5_500);
    // Rotating an expired session is refused like resuming it.
    let mut engine = engine_policy(Policy::new(1_000, 3_000, 10_000).unwrap());
    let pending = engine.authenticate(Some(&cookie), T0 + 3_000).unwrap();
    assert_eq!(
        engine.rotate(&pending, &only_record(&json), DataChange::Keep, T0 + 3_000),
        Err(RejectReason::ExpiredIdle)
    );
    // ...and rotating with no record is refused without issuing anything: so soon after
    // signing, the record may not have reached this location yet, so "try again" (cookie kept).
    let pending = engine.authenticate(Some(&cookie), T0 + 2_000).unwrap();
    assert_eq!(
        engine.rotate(&pending, &nothing(), DataChange::Keep, T0 + 2_000),
        Err(RejectReason::StoreUnavailable)
    );
    assert!(!RejectReason::StoreUnavailable.clears_cookie());
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
    let (effects, overflowed) = engine.destroy(&pending, t);
    assert!(!overflowed);
    // The record and the login (lineage) are both tombstoned, until the absolute deadline.
    let lineage = pending.lineage().storage_key("alice");
    assert_eq!(lineage, record_of(&issued).lineage.storage_key("alice"));
    assert!(lineage.starts_with(&engine.lineage_prefix("alice")));
    assert_eq!(
        effects.puts.iter().map(|p| &p.key).collect::<Vec<_>>(),
        [&handle.storage_key(), &lineage]
    );
    for put in &effects.puts {
        assert_eq!(
            put.value.to_json(),
            format!(r#"{{"v":2,"ended":"revoked","at":{t}}}"#)
        );
        assert_eq!(
            put.expiration_ttl,
            Some((T0 + 43_200_000 - t).div_ceil(1_000))
        );
        assert_eq!(put.metadata, None);
    }
    assert_eq!(
        effects.deletes,
        vec![handle.index_key("alice"), handle.touch_key("alice")]
    );
    store.apply(&effects);
    // Only the tombstones are left.
    assert_eq!(
        store.values.keys().collect::<Vec<_>>(),
        [&lineage, &handle.storage_key()]
    );
    // Remembered by lineage (not by handle) in this isolate.
    assert_eq!(engine.revocations().counts(), (1, 0));

    // Refused at once here, on the fast path.
    assert_eq!(
        expect_reject(engine.validate(Some(&cookie), t)),
        RejectReason::Revoked
    );
    assert_eq!(
        engine.authenticate(Some(&cookie), t + 1),
        Err(RejectReason::Revoked)
    );

    // Elsewhere, after the envelope expires, the tombstone refuses it.
    let mut other = engine_ring(&ring_k1());
    let pending = expect_pending(other.validate(Some(&cookie), T0 + 60_000));
    assert_eq!(
        other.resume(&pending, &store.fetched(&pending), T0 + 60_000),
        Err(RejectReason::Revoked)
    );
    // ...and that isolate remembers it: even a store showing nothing is no longer asked.
    assert_eq!(
        expect_reject(other.validate(Some(&cookie), T0 + 60_000)),
        RejectReason::Revoked
    );
    assert_eq!(
        other.resume(&pending, &nothing(), T0 + 60_000),
        Err(RejectReason::Revoked)
    );
    // The s: tombstone alone refuses it, and so does the l: tombstone alone.
    let [record, login_end, _, _, _] = store.reads(&pending);
    assert!(record.is_some() && login_end.is_some());
    for values in [[record, None, None, None], [None, login_end, None, None]] {
        assert_eq!(
            engine_ring(&ring_k1()).resume(&pending, &Fetched::new(values), T0 + 60_000),
            Err(RejectReason::Revoked)
        );
    }
    // Once both tombstones have expired from KV (and past the window in which a record may
    // not have arrived yet: P + S + write grace = 75 s after the envelope was signed at T0),
    // nothing is found.
    assert_eq!(
        engine_ring(&ring_k1()).resume(&pending, &nothing(), T0 + 75_000),
        Err(RejectReason::SessionNotFound)
    );
}

#[test]
fn records_that_do_not_fit_are_refused() {
    let engine = engine();
    let (issued, cookie) = login(&engine, "alice", T0);
    let good = record_json(&issued);
    // Past the window in which an absent record may just not have arrived yet (issued at T0).
    let window = edge_session::KV_PROPAGATION_MS
        + engine.policy().clock_skew_ms
        + engine.policy().write_grace_ms;
    assert_eq!(window, 75_000);
    let now = T0 + window;
    let (bob, _) = login(&engine, "bob", T0);
    let (later, _) = login(&engine, "alice", T0 + 1);
    let pending = expect_pending(engine.validate(Some(&cookie), now));
    // A fresh isolate each time: a refusal learnt from the store is remembered.
    let resume = |json: Option<&str>| {
        engine
            .clone()
            .resume(&pending, &Fetched::new([json, None, None, None]), now)
    };

    assert!(resume(Some(&good)).is_ok());
    assert_eq!(resume(None), Err(RejectReason::SessionNotFound));
    let lineage = live(&good).lineage.text();
    assert_eq!(lineage.len(), 22);
    for corrupt in [
        "",
        "{",
        "null",
        "[]",
        "{\"v\":2}",
        "{\"v\":\"2\"}",
        "\u{0}",
        &good[..good.len() - 1],
        &good.replace("\"alice\"", "5"),
        r#"{"v":2,"ended":"stolen","at":1}"#,
        r#"{"v":2,"ended":"revoked"}"#,
        // The lineage: missing, not base64url, the wrong length, not canonical, not a string.
        &good.replace(&format!(r#","lineage":"{lineage}""#), ""),
        &good.replace(&lineage, "not a lineage!"),
        &good.replace(&lineage, &lineage[..21]),
        &good.replace(&lineage, &format!("{lineage}A")),
        &good.replace(&lineage, &format!("{}B", &lineage[..21])),
        &good.replace(&format!(r#""{lineage}""#), "7"),
    ] {
        assert_ne!(corrupt, good);
        assert_eq!(
            resume(Some(corrupt)),
            Err(RejectReason::CorruptRecord),
            "{corrupt:?}"
        );
    }
    for other_version in [
        good.replace("\"v\":2", "\"v\":1"),
        good.replace("\"v\":2", "\"v\":3"),
        r#"{"v":1,"ended":"revoked","at":1}"#.to_owned(),
    ] {
        assert_ne!(other_version, good);
        assert_eq!(
            resume(Some(&other_version)),
            Err(RejectReason::RecordVersion),
            "{other_version}"
        );
    }
    // Fields this version does not know are ignored (additions within v2 stay readable).
    let extended = good.replacen('{', r#"{"later_field":[1,2],"#, 1);
    assert!(resume(Some(&extended)).is_ok());

    // Another user's record, another session's record, a different generation, login time,
    // deadline or data.
    assert_eq!(
        resume(Some(&record_json(&bob))),
        Err(RejectReason::RecordMismatch)
    );
    assert_eq!(
        resume(Some(&record_json(&later))),
        Err(RejectReason::RecordMismatch)
    );
    let base = live(&good);
    let mut changes: Vec<edge_session::Record> = Vec::new();
    let mut r = base.clone();
    r.generation = 1;
    changes.push(r);
    let mut r = base.clone();
    r.absolute_deadline += 1;
    changes.push(r);
    let mut r = base.clone();
    r.created_at -= 1;
    changes.push(r);
    let mut r = base.clone();
    r.data = Some("{}".to_owned());
    changes.push(r);
    // Another login's lineage.
    let mut r = base.clone();
    r.lineage = record_of(&later).lineage;
    assert_ne!(r.lineage, base.lineage);
    changes.push(r);
    for record in changes {
        assert_eq!(
            resume(Some(&to_json(&record))),
            Err(RejectReason::RecordMismatch),
            "{record:?}"
        );
    }
    // Changes the envelope does not carry are the record's business.
    let mut r = base.clone();
    r.user_agent = None;
    assert!(resume(Some(&to_json(&r))).is_ok());

    // Tombstones.
    assert_eq!(
        resume(Some(r#"{"v":2,"ended":"revoked","at":1}"#)),
        Err(RejectReason::Revoked)
    );
    assert_eq!(
        resume(Some(r#"{"v":2,"ended":"rotated","at":1}"#)),
        Err(RejectReason::Rotated)
    );
}

#[test]
fn revoke_user_refuses_on_the_fast_path_and_through_the_store() {
    let mut engine = engine();
    let mut store = Store::default();
    let (a1, alice) = login(&engine, "alice", T0);
    let (a2, alice2) = login(&engine, "alice", T0 + 100);
    let (b, bob) = login(&engine, "bob", T0);
    for issued in [&a1, &a2, &b] {
        store.apply(&issued.effects);
    }
    let t = T0 + 1_000;
    let (effects, overflowed) = engine.revoke_user("alice", None::<&str>, t);
    assert!(!overflowed);
    assert!(effects.deletes.is_empty());
    assert_eq!(effects.puts.len(), 1);
    let put = &effects.puts[0];
    assert_eq!(put.key, user_cutoff_key("alice"));
    assert_eq!(
        put.value.to_json(),
        format!(r#"{{"v":2,"before":{},"at":{t}}}"#, t + 1)
    );
    assert_eq!(put.expiration_ttl, Some(400 * 24 * 3600));
    store.apply(&effects);

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
    let session = expect_valid(engine.validate(Some(&fresh), t + 2));
    assert_eq!(session.user_id, "alice");

    // Another isolate learns it from the stored cutoff at the next refresh, although the
    // records are still live.
    let mut other = engine_ring(&ring_k1());
    let later = T0 + 61_000;
    for cookie in [&alice, &alice2] {
        assert_eq!(
            request(&mut other, &mut store, cookie, later),
            Err(RejectReason::Revoked)
        );
    }
    request(&mut other, &mut store, &bob, later).unwrap();

    // A second revocation never lowers the stored cutoff.
    let stored = store.get(&user_cutoff_key("alice")).unwrap().to_owned();
    let (effects, _) = other.revoke_user("alice", Some(stored.as_str()), T0 + 500);
    assert_eq!(
        effects.puts[0].value.to_json(),
        format!(r#"{{"v":2,"before":{},"at":{}}}"#, t + 1, T0 + 500)
    );
    // A corrupt stored cutoff is replaced.
    let (effects, _) = other.revoke_user("alice", Some("garbage"), T0 + 500);
    assert_eq!(
        effects.puts[0].value.to_json(),
        format!(r#"{{"v":2,"before":{},"at":{}}}"#, T0 + 501, T0 + 500)
    );
}

#[test]
fn end_listed_tombstones_every_listed_session() {
    let mut engine = engine();
    let mut store = Store::default();
    let mut cookies = Vec::new();
    for i in 0..3 {
        let (issued, cookie) = login(&engine, "alice", T0 + i);
        store.apply(&issued.effects);
        cookies.push((issued.session.clone(), cookie));
    }
    let (bob, bob_cookie) = login(&engine, "bob", T0);
    store.apply(&bob.effects);
    let t = T0 + 1_000;
    let (cutoff, _) = engine.revoke_user("alice", None::<&str>, t);
    store.apply(&cutoff);

    let listing = store.list(&engine.user_index_prefix("alice"));
    assert_eq!(listing.len(), 3);
    let mut pairs = borrowed(&listing);
    // Names that are not this user's index keys are skipped.
    let bob_index = bob.session.handle.index_key("bob");
    pairs.push((bob_index.as_str(), None));
    pairs.push(("u:nonsense", None));
    pairs.push(("s:whatever", None));
    let before = t + 1;
    // A login made while the listing ran (at the cutoff or later) is left alone.
    let (late, late_cookie) = login(&engine, "alice", before);
    store.apply(&late.effects);
    let listing_with_late = store.list(&engine.user_index_prefix("alice"));
    assert_eq!(listing_with_late.len(), 4);
    let late_only = engine.end_listed("alice", before, &borrowed(&listing_with_late), t);
    assert_eq!(late_only.puts.len(), 3);
    assert!(late_only
        .puts
        .iter()
        .all(|p| p.key != late.session.handle.storage_key()));
    let effects = engine.end_listed("alice", before, &pairs, t);
    assert_eq!(effects.puts.len(), 3);
    assert_eq!(effects.deletes.len(), 6);
    for (session, _) in &cookies {
        let handle = &session.handle;
        let put = effects
            .puts
            .iter()
            .find(|p| p.key == handle.storage_key())
            .unwrap();
        assert_eq!(
            put.value.to_json(),
            format!(r#"{{"v":2,"ended":"revoked","at":{t}}}"#)
        );
        // The TTL comes from the listed metadata: the session's own absolute deadline.
        assert_eq!(
            put.expiration_ttl,
            Some((session.absolute_expires_at - t).div_ceil(1_000))
        );
        assert!(effects.deletes.contains(&handle.index_key("alice")));
        assert!(effects.deletes.contains(&handle.touch_key("alice")));
    }
    store.apply(&effects);
    assert_eq!(
        store.list(&engine.user_index_prefix("alice")).len(),
        1,
        "only the login made after the cutoff stays listed"
    );
    let pending = expect_pending(engine.clone().validate(Some(&late_cookie), T0 + 62_000));
    let fetched = store.fetched(&pending);
    assert!(engine
        .clone()
        .resume(&pending, &fetched, T0 + 62_000)
        .is_ok());
    assert_eq!(store.list(&engine.user_index_prefix("bob")).len(), 1);

    // Without readable metadata an entry is skipped: the cutoff refuses it anyway.
    let name = cookies[0].0.handle.index_key("alice");
    let effects = engine.end_listed::<str>("alice", before, &[(name.as_str(), None)], t);
    assert!(effects.is_empty());

    // Every one is refused elsewhere, even without the cutoff (tombstones), and bob is not.
    let mut other = engine_ring(&ring_k1());
    for (_, cookie) in &cookies {
        let pending = expect_pending(other.validate(Some(cookie), T0 + 61_000));
        let [record, _, _, _, _] = store.reads(&pending);
        assert_eq!(
            other.resume(
                &pending,
                &Fetched::new([record, None, None, None]),
                T0 + 61_000
            ),
            Err(RejectReason::Revoked)
        );
    }
    request(&mut other, &mut store, &bob_cookie, T0 + 61_000).unwrap();
}

#[test]
fn list_sessions_shows_indexed_sessions_newest_first() {
    let mut engine = engine();
    let mut store = Store::default();
    let (first, first_cookie) = login(&engine, "alice", T0);
    store.apply(&first.effects);
    let chrome = engine
        .issue("alice", Some("Chrome"), None, T0 + 10)
        .unwrap();
    store.apply(&chrome.effects);
    let (bob, _) = login(&engine, "bob", T0 + 20);
    store.apply(&bob.effects);

    let sessions = list(&engine, &store, "alice", T0 + 30);
    assert_eq!(sessions.len(), 2);
    assert_eq!(sessions[0].handle, chrome.session.handle.as_str());
    assert_eq!(sessions[0].user_agent, "Chrome");
    assert_eq!(sessions[0].created_at, T0 + 10);
    assert_eq!(sessions[0].last_seen_at, T0 + 10);
    assert_eq!(sessions[1].handle, first.session.handle.as_str());
    assert_eq!(sessions[1].user_agent, "TestAgent/1.0");
    assert_eq!(sessions[1].absolute_expires_at, T0 + 43_200_000);

    // A refresh that crosses a touch interval shows up as the last-seen time.
    let later = T0 + 200_000;
    request(&mut engine, &mut store, &first_cookie, later).unwrap();
    let sessions = list(&engine, &store, "alice", later);
    assert_eq!(sessions[1].last_seen_at, later);
    assert_eq!(sessions[0].last_seen_at, T0 + 10);

    // A last-seen key alone (a stale refresh after a logout rewrote it) shows nothing.
    let pending = engine.authenticate(Some(&first_cookie), later).unwrap();
    let (ended, _) = engine.destroy(&pending, later);
    store.apply(&ended);
    store.values.insert(
        first.session.handle.touch_key("alice"),
        r#"{"v":2,"last_seen_at":1}"#.to_owned(),
    );
    store.metadata.insert(
        first.session.handle.touch_key("alice"),
        r#"{"v":2,"last_seen_at":1}"#.to_owned(),
    );
    let sessions = list(&engine, &store, "alice", later);
    assert_eq!(sessions.len(), 1);
    assert_eq!(sessions[0].handle, chrome.session.handle.as_str());

    // Expired entries (KV deletes them lazily) are not shown.
    assert!(list(&engine, &store, "alice", T0 + 10 + 43_200_000).is_empty());
    // Garbage names and metadata are skipped.
    let garbage: [(&str, Option<&str>); 3] = [
        ("u:junk", Some("{}")),
        (&chrome.session.handle.index_key("alice"), Some("not json")),
        (&chrome.session.handle.index_key("alice"), None),
    ];
    assert!(engine
        .list_sessions("alice", &garbage, &[], &[], T0)
        .is_empty());
}

/// A devices list as a host builds it: the three listings of `user`'s prefixes (index, last
/// seen, ended logins: only the names of the last).
fn list(
    engine: &edge_session::Engine,
    store: &Store,
    user: &str,
    now: u64,
) -> Vec<edge_session::SessionInfo> {
    let index = store.list(&engine.user_index_prefix(user));
    let touches = store.list(&engine.touch_prefix(user));
    let ended = store.list(&engine.lineage_prefix(user));
    let ended: Vec<&str> = ended.iter().map(|(name, _)| name.as_str()).collect();
    engine.list_sessions(user, &borrowed(&index), &borrowed(&touches), &ended, now)
}

/// The handles a listing shows, in its order.
fn handles(sessions: &[edge_session::SessionInfo]) -> Vec<&str> {
    sessions.iter().map(|s| s.handle.as_str()).collect()
}

/// Rotates the session on `cookie` at `now` from `view` (what this location's store shows),
/// writing the rotation's effects to `store` (where they land), and returns the new session and
/// cookie.
fn rotate_in(
    engine: &mut edge_session::Engine,
    view: &Store,
    store: &mut Store,
    cookie: &str,
    now: u64,
) -> (edge_session::Issued, String) {
    let pending = engine.authenticate(Some(cookie), now).unwrap();
    let rotation = engine
        .rotate(&pending, &view.fetched(&pending), DataChange::Keep, now)
        .unwrap();
    store.apply(&rotation.issued.effects);
    engine.remember_ended(&rotation.previous, Ended::Rotated, now);
    store.apply(&rotation.retire);
    let cookie = pair(&rotation.issued.set_cookie);
    (rotation.issued, cookie)
}

/// A logout through an older generation's cookie ends the whole login: the current
/// generation's index entry is still stored (the logout only knew the old handle), but the
/// listing leaves it out because its login's `l:` tombstone is listed. Another login of the same
/// user is still shown.
#[test]
fn list_sessions_leaves_out_a_login_ended_through_an_older_generation() {
    let mut engine = engine();
    let mut store = Store::default();
    let (phone, old_cookie) = login(&engine, "alice", T0);
    store.apply(&phone.effects);
    let (laptop, laptop_cookie) = login(&engine, "alice", T0 + 1);
    store.apply(&laptop.effects);
    let (bob, _) = login(&engine, "bob", T0 + 2);
    store.apply(&bob.effects);

    // The phone's session is rotated twice (generation 2); the old cookie stays in a jar (a
    // second tab, a backup) that still holds generation 0.
    let view = Store {
        values: store.values.clone(),
        metadata: store.metadata.clone(),
        ttls: store.ttls.clone(),
    };
    let (gen1, gen1_cookie) = rotate_in(&mut engine, &view, &mut store, &old_cookie, T0 + 10);
    let view = Store {
        values: store.values.clone(),
        metadata: store.metadata.clone(),
        ttls: store.ttls.clone(),
    };
    let (gen2, gen2_cookie) = rotate_in(&mut engine, &view, &mut store, &gen1_cookie, T0 + 20);
    assert_eq!(gen1.session.generation, 1);
    assert_eq!(gen2.session.generation, 2);
    assert_eq!(
        handles(&list(&engine, &store, "alice", T0 + 30)),
        [laptop.session.handle.as_str(), gen2.session.handle.as_str()]
    );

    // Logout with the generation-0 cookie, in an isolate that has never seen the rotations
    // (identify: the envelope is authentic; a logout needs no record).
    let mut elsewhere = engine_ring(&ring_k1());
    let t = T0 + 40;
    let pending = elsewhere.identify(Some(&old_cookie), t).unwrap();
    assert_eq!(pending.handle(), &phone.session.handle);
    let (effects, _) = elsewhere.destroy(&pending, t);
    store.apply(&effects);
    // It could delete only generation 0's keys: generation 2's index entry is still stored...
    assert!(store.get(&gen2.session.handle.index_key("alice")).is_some());
    // ...next to the login's tombstone, under alice's ended-logins prefix.
    let ended = store.list(&engine.lineage_prefix("alice"));
    assert_eq!(ended.len(), 1);
    assert_eq!(ended[0].0, record_of(&phone).lineage.storage_key("alice"));
    assert_eq!(record_of(&gen2).lineage, record_of(&phone).lineage);
    assert!(store.list(&engine.lineage_prefix("bob")).is_empty());

    // The listing leaves the ended login out (every generation of it); the laptop stays.
    let sessions = list(&engine, &store, "alice", t);
    assert_eq!(handles(&sessions), [laptop.session.handle.as_str()]);
    assert_eq!(sessions[0].created_at, T0 + 1);
    // bob's listing is untouched.
    assert_eq!(
        handles(&list(&engine, &store, "bob", t)),
        [bob.session.handle.as_str()]
    );
    // And the listing agrees with what a refresh decides: generation 2 is refused wherever its
    // envelope is next judged by the store; the laptop lives on.
    let mut other = engine_ring(&ring_k1());
    let later = T0 + 20 + 60_000;
    assert_eq!(
        request(&mut other, &mut store, &gen2_cookie, later),
        Err(RejectReason::Revoked)
    );
    request(&mut other, &mut store, &laptop_cookie, later).unwrap();

    // The tombstones' names are matched exactly under alice's prefix: the same lineage text
    // under bob's prefix, bare, or with junk around it hides nothing.
    let lineage = record_of(&phone).lineage.text();
    let index = store.list(&engine.user_index_prefix("alice"));
    let bob_prefix = engine.lineage_prefix("bob");
    let alice_prefix = engine.lineage_prefix("alice");
    let foreign = [
        format!("{bob_prefix}{lineage}"),
        lineage.clone(),
        format!("l:{lineage}"),
        format!("{alice_prefix}{lineage}x"),
        format!("{alice_prefix}x{lineage}"),
        alice_prefix.clone(),
    ];
    let foreign: Vec<&str> = foreign.iter().map(String::as_str).collect();
    let shown = engine.list_sessions::<str>("alice", &borrowed(&index), &[], &foreign, t);
    assert_eq!(
        handles(&shown),
        [laptop.session.handle.as_str(), gen2.session.handle.as_str()]
    );
}

/// A rotation made from a stale record after a logout (KV had not yet shown the logout in that
/// location) writes a descendant with a fresh handle and index entry that the logout never
/// named. The login's `l:` tombstone keeps it out of the listing, as it keeps it out of every
/// refresh; another login of the same user is still listed.
#[test]
fn list_sessions_leaves_out_a_descendant_made_from_a_stale_record_after_logout() {
    let mut store = Store::default();
    let mut here = engine();
    let mut far = engine_ring(&ring_k1());
    let (login_a, cookie_a) = login(&here, "alice", T0);
    store.apply(&login_a.effects);
    let (login_b, _) = login(&here, "alice", T0 + 5);
    store.apply(&login_b.effects);
    // What the far location still shows after the logout below: the live record.
    let stale = Store {
        values: store.values.clone(),
        metadata: store.metadata.clone(),
        ttls: store.ttls.clone(),
    };

    // Logout here.
    let t = T0 + 1_000;
    let pending = here.authenticate(Some(&cookie_a), t).unwrap();
    let (effects, _) = here.destroy(&pending, t);
    store.apply(&effects);
    assert_eq!(
        handles(&list(&here, &store, "alice", t)),
        [login_b.session.handle.as_str()]
    );

    // The far location rotates the logged-out cookie from its stale view; its writes land after
    // the logout's.
    let (descendant, descendant_cookie) = rotate_in(&mut far, &stale, &mut store, &cookie_a, t + 1);
    assert_eq!(descendant.session.generation, 1);
    assert_ne!(descendant.session.handle, login_a.session.handle);
    assert_eq!(record_of(&descendant).lineage, record_of(&login_a).lineage);
    // Its index entry is stored (nothing names it to delete)...
    let index = store.list(&here.user_index_prefix("alice"));
    assert_eq!(index.len(), 2);
    assert!(store
        .get(&descendant.session.handle.index_key("alice"))
        .is_some());
    // ...and carries the login's lineage, which the listing finds among the ended logins.
    let entry =
        IndexEntry::decode(store.metadata[&descendant.session.handle.index_key("alice")].as_str())
            .unwrap();
    assert_eq!(entry.lineage, record_of(&login_a).lineage);
    for now in [t + 1, t + 60_000, T0 + 43_199_999] {
        assert_eq!(
            handles(&list(&here, &store, "alice", now)),
            [login_b.session.handle.as_str()],
            "at {now}"
        );
    }
    // Without the ended-logins listing the descendant would show (what the fourth listing is
    // for).
    let touches = store.list(&here.touch_prefix("alice"));
    let unfiltered =
        here.list_sessions("alice", &borrowed(&index), &borrowed(&touches), &[], t + 1);
    assert_eq!(
        handles(&unfiltered),
        [
            login_b.session.handle.as_str(),
            descendant.session.handle.as_str()
        ]
    );
    // The descendant is refused at its next refresh anywhere (the l: tombstone).
    let mut third = engine_ring(&ring_k1());
    assert_eq!(
        request(&mut third, &mut store, &descendant_cookie, t + 1 + 60_000),
        Err(RejectReason::Revoked)
    );
}

#[test]
fn revoke_issued_before_refuses_on_the_fast_path() {
    let mut engine = engine();
    let (_, alice) = login(&engine, "alice", T0);
    let (_, bob) = login(&engine, "bob", T0 + 500);
    let cutoff = T0 + 1_000;
    let (effects, corrupt) = engine
        .revoke_issued_before(cutoff, None::<&str>, cutoff)
        .unwrap();
    assert!(!corrupt);
    assert_eq!(effects.puts.len(), 1);
    assert_eq!(effects.puts[0].key, GLOBAL_CUTOFF_KEY);
    assert_eq!(effects.puts[0].expiration_ttl, None);
    assert_eq!(engine.revocations().issued_before(), cutoff);
    for cookie in [&alice, &bob] {
        assert_eq!(
            expect_reject(engine.validate(Some(cookie), cutoff)),
            RejectReason::Revoked
        );
    }
    // The cutoff never moves back, in memory or in what is written.
    let (effects, _) = engine
        .revoke_issued_before(T0, None::<&str>, cutoff)
        .unwrap();
    assert_eq!(engine.revocations().issued_before(), cutoff);
    assert_eq!(
        effects.puts[0].value.to_json(),
        format!(r#"{{"v":2,"before":{cutoff},"at":{cutoff}}}"#)
    );
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
        engine.revoke_handle(&handle, Some(record.as_str()), Some("mallory"), t),
        None
    );
    assert_eq!(engine.revoke_handle::<str>(&handle, None, None, t), None);
    assert_eq!(engine.revoke_handle(&handle, Some("{"), None, t), None);
    let v1 = record.replace("\"v\":2", "\"v\":1");
    assert_eq!(
        engine.revoke_handle(&handle, Some(v1.as_str()), None, t),
        None
    );
    expect_valid(engine.validate(Some(&cookie), t));
    // An expired or already ended session is not revoked again.
    assert_eq!(
        engine.revoke_handle(&handle, Some(record.as_str()), None, T0 + 43_200_000),
        None
    );
    for tomb in [
        r#"{"v":2,"ended":"rotated","at":1}"#,
        r#"{"v":2,"ended":"revoked","at":1}"#,
    ] {
        assert_eq!(engine.revoke_handle(&handle, Some(tomb), None, t), None);
    }
    assert_eq!(engine.revocations().counts(), (0, 0));

    // The owner revokes it.
    let (user, effects, overflowed) = engine
        .revoke_handle(&handle, Some(record.as_str()), Some("alice"), t)
        .unwrap();
    assert_eq!(user, "alice");
    assert!(!overflowed);
    assert_eq!(
        effects.deletes,
        vec![handle.index_key("alice"), handle.touch_key("alice")]
    );
    // The record and the login (every rotation of it) are tombstoned.
    assert_eq!(
        effects.puts.iter().map(|p| &p.key).collect::<Vec<_>>(),
        [
            &handle.storage_key(),
            &record_of(&issued).lineage.storage_key("alice")
        ]
    );
    for put in &effects.puts {
        assert_eq!(
            put.value.to_json(),
            format!(r#"{{"v":2,"ended":"revoked","at":{t}}}"#)
        );
    }
    assert_eq!(
        expect_reject(engine.validate(Some(&cookie), t)),
        RejectReason::Revoked
    );
    assert_eq!(engine.revocations().counts(), (1, 0));
    // An administrator (no owner) can revoke too.
    let (issued, cookie) = login(&engine, "bob", T0);
    let record = record_json(&issued);
    let (user, _, _) = engine
        .revoke_handle(&issued.session.handle, Some(record.as_str()), None, t)
        .unwrap();
    assert_eq!(user, "bob");
    assert_eq!(
        expect_reject(engine.validate(Some(&cookie), t)),
        RejectReason::Revoked
    );
}

#[test]
fn handles_from_urls_are_checked() {
    let handle = SessionId::from_bytes([9; 32]).handle();
    assert_eq!(SessionHandle::parse(handle.as_str()), Ok(handle.clone()));
    for bad in ["", "s:x", "../etc/passwd", &format!("{handle}A")] {
        assert_eq!(SessionHandle::parse(bad), Err(ConfigError::InvalidHandle));
    }
}

#[test]
fn strict_policy_always_reads_the_store() {
    let mut engine = engine_policy(Policy {
        strict: true,
        ..Policy::default()
    });
    let (issued, cookie) = login(&engine, "alice", T0);
    let json = record_json(&issued);
    for now in [T0, T0 + 1, T0 + 59_999] {
        let pending = expect_pending(engine.validate(Some(&cookie), now));
        let r = engine.resume(&pending, &only_record(&json), now).unwrap();
        // Fresh envelope: not re-sent, nothing written.
        assert_eq!(r.set_cookie, None);
        assert!(r.effects.is_empty());
        assert_eq!(r.session, issued.session);
        // An ended record is seen at once (in another isolate of the same policy: the one that
        // sees it remembers it).
        assert_eq!(
            engine.clone().resume(
                &pending,
                &only_record(&format!(r#"{{"v":2,"ended":"revoked","at":{now}}}"#)),
                now
            ),
            Err(RejectReason::Revoked)
        );
    }
    let pending = expect_pending(engine.validate(Some(&cookie), T0 + 2));
    assert_eq!(
        engine.resume(
            &pending,
            &only_record(r#"{"v":2,"ended":"revoked","at":1}"#),
            T0 + 2
        ),
        Err(RejectReason::Revoked)
    );
    assert_eq!(
        expect_reject(engine.validate(Some(&cookie), T0 + 3)),
        RejectReason::Revoked
    );
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
            engine.issue(&bad, None, None, T0).err(),
            Some(ConfigError::InvalidUserId),
            "{bad:?}"
        );
    }
    for good in ["x".repeat(128), "é".repeat(64), "a b;c=d,\"e\"".to_owned()] {
        let (_, cookie) = login(&engine, &good, T0);
        let session = expect_valid(engine.validate(Some(&cookie), T0));
        assert_eq!(session.user_id, good);
    }
}

#[test]
fn user_agent_is_summarised() {
    let engine = engine();
    let ua = format!("Mozilla/5.0\r\n{}", "x".repeat(500));
    let issued = engine.issue("alice", Some(&ua), None, T0).unwrap();
    let summary = record_of(&issued).user_agent.unwrap();
    assert_eq!(summary.chars().count(), 128);
    assert!(!summary.contains(['\r', '\n']));
    let issued = engine.issue("alice", None, None, T0).unwrap();
    assert_eq!(record_of(&issued).user_agent, None);
    // The index entry shows an empty summary.
    assert_eq!(
        issued.effects.puts[1].value,
        Value::Index(IndexEntry {
            v: STORE_VERSION,
            lineage: record_of(&issued).lineage,
            created_at: T0,
            absolute_deadline: T0 + 43_200_000,
            user_agent: String::new(),
        })
    );
}

#[test]
fn decisions_name_no_session_id() {
    // The store, the listing and the debug output see only the handle.
    let mut engine = engine();
    let (issued, cookie) = login(&engine, "alice", T0);
    let pending = expect_pending(engine.validate(Some(&cookie), T0 + 200_000));
    let json = record_json(&issued);
    let refreshed = engine
        .resume(&pending, &only_record(&json), T0 + 200_000)
        .unwrap();
    assert!(!refreshed.effects.is_empty());
    let text = format!(
        "{issued:?}{pending:?}{refreshed:?}{:?}",
        engine.revocations()
    );
    assert!(text.contains("SessionId(<redacted>)"));
    let raw = raw(&value(&issued.set_cookie));
    let id = SessionId::from_bytes(raw[4..36].try_into().unwrap());
    assert_eq!(id.handle(), issued.session.handle);
    let secret = id.expose_base64url();
    assert!(!text.contains(&secret));
    for put in issued
        .effects
        .puts
        .iter()
        .chain(refreshed.effects.puts.iter())
    {
        assert!(!put.key.contains(&secret));
        assert!(!put.value.to_json().contains(&secret));
    }
    assert!(matches!(
        engine.validate(Some(&cookie), T0),
        Decision::Valid(_)
    ));
}
