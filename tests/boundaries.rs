//! Every deadline at exactly -1, 0 and +1 ms. Deadlines are exclusive: at the deadline the
//! session (or envelope) has ended.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

mod common;

use common::*;
use edge_session::{Engine, Policy, RejectReason, KV_PROPAGATION_MS};

/// Envelope 1 s, idle 3 s, absolute 10 s (touch 300 ms, skew 5 s).
fn short() -> Policy {
    Policy::new(1_000, 3_000, 10_000).unwrap()
}

/// Keeps a session alive with a resume at each of `times`, returning the last cookie header.
fn keep_alive(engine: &Engine, store: &mut Store, mut cookie: String, times: &[u64]) -> String {
    for &t in times {
        let pending = expect_pending(engine.validate(Some(&cookie), t));
        let refreshed = engine
            .resume(&pending, store.get(&pending.storage_key()), t)
            .unwrap_or_else(|e| panic!("resume at T0+{}: {e:?}", t - T0));
        store.apply(&refreshed.effects);
        cookie = pair(&refreshed.set_cookie.expect("expired envelope is renewed"));
    }
    cookie
}

#[test]
fn envelope_expiry_default_policy() {
    let engine = engine();
    let (issued, cookie) = login(&engine, "alice", T0);
    assert_eq!(issued.session.envelope_expires_at, T0 + 60_000);
    expect_valid(engine.validate(Some(&cookie), T0 + 59_999));
    expect_pending(engine.validate(Some(&cookie), T0 + 60_000));
    expect_pending(engine.validate(Some(&cookie), T0 + 60_001));
}

#[test]
fn envelope_expiry_short_policy() {
    let engine = engine_policy(short());
    let (issued, cookie) = login(&engine, "alice", T0);
    let expires = issued.session.envelope_expires_at;
    assert_eq!(expires, T0 + 1_000);
    expect_valid(engine.validate(Some(&cookie), expires - 1));
    expect_pending(engine.validate(Some(&cookie), expires));
    expect_pending(engine.validate(Some(&cookie), expires + 1));
}

#[test]
fn resume_renews_the_envelope_exactly_from_its_expiry() {
    let engine = engine_policy(short());
    let (issued, cookie) = login(&engine, "alice", T0);
    let record = record_json(&issued);
    let expires = issued.session.envelope_expires_at;
    let before = engine.authenticate(Some(&cookie), expires - 1).unwrap();
    let r = engine.resume(&before, Some(&record), expires - 1).unwrap();
    assert_eq!(r.set_cookie, None, "a fresh envelope is not re-sent");
    for t in [expires, expires + 1] {
        let pending = engine.authenticate(Some(&cookie), t).unwrap();
        let r = engine.resume(&pending, Some(&record), t).unwrap();
        assert!(r.set_cookie.is_some(), "at T0+{}", t - T0);
        assert_eq!(r.session.envelope_expires_at, t + 1_000);
    }
}

#[test]
fn idle_deadline_in_validate() {
    let engine = engine_policy(short());
    let (issued, cookie) = login(&engine, "alice", T0);
    let idle = issued.session.idle_expires_at;
    assert_eq!(idle, T0 + 3_000);
    let before = engine.validate(Some(&cookie), idle - 1);
    assert_ne!(
        before,
        edge_session::Decision::Reject(RejectReason::ExpiredIdle)
    );
    expect_pending(before);
    assert_eq!(
        expect_reject(engine.validate(Some(&cookie), idle)),
        RejectReason::ExpiredIdle
    );
    assert_eq!(
        expect_reject(engine.validate(Some(&cookie), idle + 1)),
        RejectReason::ExpiredIdle
    );
}

#[test]
fn idle_deadline_in_resume() {
    let engine = engine_policy(short());
    let (issued, cookie) = login(&engine, "alice", T0);
    let record = record_json(&issued);
    let idle = T0 + 3_000;
    let pending = engine.authenticate(Some(&cookie), idle - 1).unwrap();
    assert!(engine.resume(&pending, Some(&record), idle - 1).is_ok());
    for t in [idle, idle + 1] {
        let pending = engine.authenticate(Some(&cookie), t).unwrap();
        assert_eq!(
            engine.resume(&pending, Some(&record), t),
            Err(RejectReason::ExpiredIdle),
            "at T0+{}",
            t - T0
        );
    }
}

#[test]
fn idle_counts_from_the_latest_envelope_when_the_record_write_was_throttled() {
    // Default policy: touch interval 3 min, so a resume at 90 s writes nothing back; the renewed
    // envelope's signing time is the proof of activity.
    let engine = engine();
    let (issued, first) = login(&engine, "alice", T0);
    let record = record_json(&issued);
    let t1 = T0 + 90_000;
    let pending = expect_pending(engine.validate(Some(&first), t1));
    let r = engine.resume(&pending, Some(&record), t1).unwrap();
    assert!(r.effects.puts.is_empty());
    let second = pair(&r.set_cookie.unwrap());
    assert_eq!(r.session.idle_expires_at, t1 + 1_800_000);

    let idle = t1 + 1_800_000;
    let pending = expect_pending(engine.validate(Some(&second), idle - 1));
    assert!(engine.resume(&pending, Some(&record), idle - 1).is_ok());
    assert_eq!(
        expect_reject(engine.validate(Some(&second), idle)),
        RejectReason::ExpiredIdle
    );
    let pending = engine.authenticate(Some(&second), idle).unwrap();
    assert_eq!(
        engine.resume(&pending, Some(&record), idle),
        Err(RejectReason::ExpiredIdle)
    );

    // The first envelope proves nothing after T0, so it is idle from T0 + 30 min.
    let old_idle = T0 + 1_800_000;
    let pending = engine.authenticate(Some(&first), old_idle - 1).unwrap();
    assert!(engine.resume(&pending, Some(&record), old_idle - 1).is_ok());
    let pending = engine.authenticate(Some(&first), old_idle).unwrap();
    assert_eq!(
        engine.resume(&pending, Some(&record), old_idle),
        Err(RejectReason::ExpiredIdle)
    );
}

#[test]
fn absolute_deadline_in_validate_when_it_coincides_with_idle() {
    let engine = engine_policy(Policy::new(1_000, 3_000, 3_000).unwrap());
    let (issued, cookie) = login(&engine, "alice", T0);
    let absolute = issued.session.absolute_expires_at;
    assert_eq!(absolute, T0 + 3_000);
    expect_pending(engine.validate(Some(&cookie), absolute - 1));
    for t in [absolute, absolute + 1] {
        assert_eq!(
            expect_reject(engine.validate(Some(&cookie), t)),
            RejectReason::ExpiredAbsolute
        );
    }
}

#[test]
fn absolute_deadline_in_validate_and_resume_after_refreshes() {
    let engine = engine_policy(short());
    let mut store = Store::default();
    let (issued, cookie) = login(&engine, "alice", T0);
    store.apply(&issued.effects);
    let absolute = T0 + 10_000;
    let cookie = keep_alive(
        &engine,
        &mut store,
        cookie,
        &[T0 + 2_000, T0 + 4_000, T0 + 6_000, T0 + 8_000, T0 + 9_500],
    );
    // The last envelope is capped at the absolute deadline in every respect.
    let (session, _) = expect_valid(engine.validate(Some(&cookie), absolute - 1));
    assert_eq!(session.created_at, T0);
    assert_eq!(session.absolute_expires_at, absolute);
    assert_eq!(session.envelope_expires_at, absolute);
    assert_eq!(session.idle_expires_at, absolute);
    for t in [absolute, absolute + 1] {
        assert_eq!(
            expect_reject(engine.validate(Some(&cookie), t)),
            RejectReason::ExpiredAbsolute
        );
    }

    // resume() judges the absolute deadline against the record.
    let key = issued.session.handle.storage_key();
    let pending = engine.authenticate(Some(&cookie), absolute - 1).unwrap();
    let r = engine
        .resume(&pending, store.get(&key), absolute - 1)
        .unwrap();
    assert_eq!(r.session.absolute_expires_at, absolute);
    for t in [absolute, absolute + 1] {
        let pending = engine.authenticate(Some(&cookie), t).unwrap();
        assert_eq!(
            engine.resume(&pending, store.get(&key), t),
            Err(RejectReason::ExpiredAbsolute),
            "at T0+{}",
            t - T0
        );
    }
}

#[test]
fn absolute_deadline_in_resume_when_it_coincides_with_idle() {
    let engine = engine_policy(Policy::new(1_000, 3_000, 3_000).unwrap());
    let (issued, cookie) = login(&engine, "alice", T0);
    let record = record_json(&issued);
    let absolute = T0 + 3_000;
    let pending = engine.authenticate(Some(&cookie), absolute - 1).unwrap();
    let r = engine
        .resume(&pending, Some(&record), absolute - 1)
        .unwrap();
    // Renewed at absolute - 1: everything is capped at the absolute deadline, Max-Age rounds up.
    assert_eq!(r.session.envelope_expires_at, absolute);
    assert!(r.set_cookie.unwrap().contains("Max-Age=1;"));
    for t in [absolute, absolute + 1] {
        let pending = engine.authenticate(Some(&cookie), t).unwrap();
        assert_eq!(
            engine.resume(&pending, Some(&record), t),
            Err(RejectReason::ExpiredAbsolute)
        );
    }
}

#[test]
fn clock_skew_allowance() {
    let engine = engine();
    let skew = engine.policy().clock_skew_ms;
    assert_eq!(skew, 5_000);
    let t = T0 + 1_000_000;
    let (_, cookie) = login(&engine, "alice", t);
    // issued_at == now + skew is accepted; one more millisecond is not.
    expect_valid(engine.validate(Some(&cookie), t - skew));
    assert_eq!(
        expect_reject(engine.validate(Some(&cookie), t - skew - 1)),
        RejectReason::IssuedInFuture
    );
    assert_eq!(
        engine.authenticate(Some(&cookie), t - skew - 1),
        Err(RejectReason::IssuedInFuture)
    );
    assert_eq!(
        expect_reject(engine.validate(Some(&cookie), 0)),
        RejectReason::IssuedInFuture
    );
}

#[test]
fn zero_clock_skew() {
    let engine = engine_policy(Policy {
        clock_skew_ms: 0,
        ..Policy::default()
    });
    let (_, cookie) = login(&engine, "alice", T0);
    expect_valid(engine.validate(Some(&cookie), T0));
    assert_eq!(
        expect_reject(engine.validate(Some(&cookie), T0 - 1)),
        RejectReason::IssuedInFuture
    );
}

#[test]
fn touch_interval_boundary() {
    let engine = engine();
    let touch = engine.policy().touch_interval_ms;
    assert_eq!(touch, 180_000);
    let (issued, cookie) = login(&engine, "alice", T0);
    let record = record_json(&issued);
    let pending = engine.authenticate(Some(&cookie), T0 + touch - 1).unwrap();
    let r = engine
        .resume(&pending, Some(&record), T0 + touch - 1)
        .unwrap();
    assert!(r.effects.puts.is_empty() && r.effects.deletes.is_empty());
    let pending = engine.authenticate(Some(&cookie), T0 + touch).unwrap();
    let r = engine.resume(&pending, Some(&record), T0 + touch).unwrap();
    assert_eq!(r.effects.puts.len(), 2);
}

#[test]
fn revoked_handles_are_remembered_until_every_envelope_has_expired() {
    let mut engine = engine();
    let (_, cookie) = login(&engine, "alice", T0);
    let t = T0 + 10_000;
    let pending = engine.authenticate(Some(&cookie), t).unwrap();
    engine.destroy(&pending, t);
    let policy = *engine.policy();
    let forget = t + policy.envelope_ttl_ms + policy.clock_skew_ms + KV_PROPAGATION_MS;
    for at in [t, t + 1, T0 + 59_999, forget - 1] {
        assert_eq!(
            expect_reject(engine.validate(Some(&cookie), at)),
            RejectReason::Revoked,
            "at destroy + {}",
            at - t
        );
    }
    // Afterwards the memory is gone, but the envelope expired long ago: the record decides.
    let pending = expect_pending(engine.validate(Some(&cookie), forget));
    assert_eq!(
        engine.resume(&pending, None, forget),
        Err(RejectReason::SessionNotFound)
    );
}

#[test]
fn revoke_user_cutoff_includes_its_own_millisecond() {
    // revoke_user(user, now) refuses sessions created up to and including `now` (the safe side
    // for a login racing the revocation); one created a millisecond later works.
    let mut engine = engine();
    let cutoff = T0 + 1_000;
    let (_, before) = login(&engine, "alice", cutoff - 1);
    let (_, at) = login(&engine, "alice", cutoff);
    let (_, after) = login(&engine, "alice", cutoff + 1);
    let (_, bob) = login(&engine, "bob", cutoff - 1);
    engine.revoke_user("alice", cutoff);
    for cookie in [&before, &at] {
        assert_eq!(
            expect_reject(engine.validate(Some(cookie), cutoff + 1)),
            RejectReason::Revoked
        );
    }
    expect_valid(engine.validate(Some(&after), cutoff + 1));
    expect_valid(engine.validate(Some(&bob), cutoff + 1));
}

#[test]
fn revoke_issued_before_cutoff_is_exclusive() {
    let mut engine = engine();
    let cutoff = T0 + 1_000;
    let (_, before) = login(&engine, "alice", cutoff - 1);
    let (_, at) = login(&engine, "bob", cutoff);
    engine.revoke_issued_before(cutoff);
    assert_eq!(
        expect_reject(engine.validate(Some(&before), cutoff)),
        RejectReason::Revoked
    );
    expect_valid(engine.validate(Some(&at), cutoff));
}
