//! Every deadline and cutoff at exactly -1, 0 and +1 ms. Deadlines are exclusive: at the
//! deadline the session (or envelope) has ended. Cutoffs refuse sessions created strictly
//! before them.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

mod common;

use common::*;
use edge_session::{Decision, Engine, Fetched, Policy, RejectReason};

/// Envelope 1 s, idle 3 s, absolute 10 s (touch 300 ms, skew 5 s).
fn short() -> Policy {
    Policy::new(1_000, 3_000, 10_000).unwrap()
}

/// Keeps a session alive with a resume at each of `times`, returning the last cookie header.
fn keep_alive(engine: &mut Engine, store: &mut Store, mut cookie: String, times: &[u64]) -> String {
    for &t in times {
        let pending = expect_pending(engine.validate(Some(&cookie), t));
        let refreshed = engine
            .resume(&pending, &store.fetched(&pending), t)
            .unwrap_or_else(|e| panic!("resume at T0+{}: {e:?}", t - T0));
        store.apply(&refreshed.effects);
        cookie = pair(&refreshed.set_cookie.expect("expired envelope is renewed"));
    }
    cookie
}

/// A stored cutoff's JSON.
fn cutoff(before: u64) -> String {
    format!(r#"{{"v":2,"before":{before},"at":{T0}}}"#)
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
    let mut engine = engine_policy(short());
    let (issued, cookie) = login(&engine, "alice", T0);
    let record = record_json(&issued);
    let expires = issued.session.envelope_expires_at;
    let before = engine.authenticate(Some(&cookie), expires - 1).unwrap();
    let r = engine
        .resume(&before, &only_record(&record), expires - 1)
        .unwrap();
    assert_eq!(r.set_cookie, None, "a fresh envelope is not re-sent");
    for t in [expires, expires + 1] {
        let pending = engine.authenticate(Some(&cookie), t).unwrap();
        let r = engine.resume(&pending, &only_record(&record), t).unwrap();
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
    assert_ne!(before, Decision::Reject(RejectReason::ExpiredIdle));
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
    let mut engine = engine_policy(short());
    let (issued, cookie) = login(&engine, "alice", T0);
    let record = record_json(&issued);
    let idle = T0 + 3_000;
    let pending = engine.authenticate(Some(&cookie), idle - 1).unwrap();
    assert!(engine
        .resume(&pending, &only_record(&record), idle - 1)
        .is_ok());
    for t in [idle, idle + 1] {
        let pending = engine.authenticate(Some(&cookie), t).unwrap();
        assert_eq!(
            engine.resume(&pending, &only_record(&record), t),
            Err(RejectReason::ExpiredIdle),
            "at T0+{}",
            t - T0
        );
    }
}

#[test]
fn idle_counts_from_the_latest_envelope_when_no_last_seen_write_was_made() {
    // Default policy: touch interval 3 min, so a resume at 61 s (same interval as the login)
    // writes nothing; the renewed envelope's signing time is the proof of activity.
    let mut engine = engine();
    let (issued, first) = login(&engine, "alice", T0);
    let record = record_json(&issued);
    let t1 = T0 + 61_000;
    let pending = expect_pending(engine.validate(Some(&first), t1));
    let r = engine.resume(&pending, &only_record(&record), t1).unwrap();
    assert!(r.effects.is_empty());
    let second = pair(&r.set_cookie.unwrap());
    assert_eq!(r.session.idle_expires_at, t1 + 1_800_000);

    let idle = t1 + 1_800_000;
    let pending = expect_pending(engine.validate(Some(&second), idle - 1));
    assert!(engine
        .resume(&pending, &only_record(&record), idle - 1)
        .is_ok());
    assert_eq!(
        expect_reject(engine.validate(Some(&second), idle)),
        RejectReason::ExpiredIdle
    );
    let pending = engine.authenticate(Some(&second), idle).unwrap();
    assert_eq!(
        engine.resume(&pending, &only_record(&record), idle),
        Err(RejectReason::ExpiredIdle)
    );

    // The first envelope proves nothing after T0, so it is idle from T0 + 30 min.
    let old_idle = T0 + 1_800_000;
    let pending = engine.authenticate(Some(&first), old_idle - 1).unwrap();
    assert!(engine
        .resume(&pending, &only_record(&record), old_idle - 1)
        .is_ok());
    let pending = engine.authenticate(Some(&first), old_idle).unwrap();
    assert_eq!(
        engine.resume(&pending, &only_record(&record), old_idle),
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
    let mut engine = engine_policy(short());
    let mut store = Store::default();
    let (issued, cookie) = login(&engine, "alice", T0);
    store.apply(&issued.effects);
    let absolute = T0 + 10_000;
    let cookie = keep_alive(
        &mut engine,
        &mut store,
        cookie,
        &[T0 + 2_000, T0 + 4_000, T0 + 6_000, T0 + 8_000, T0 + 9_500],
    );
    // The last envelope is capped at the absolute deadline in every respect.
    let session = expect_valid(engine.validate(Some(&cookie), absolute - 1));
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
    let pending = engine.authenticate(Some(&cookie), absolute - 1).unwrap();
    let r = engine
        .resume(&pending, &store.fetched(&pending), absolute - 1)
        .unwrap();
    assert_eq!(r.session.absolute_expires_at, absolute);
    for t in [absolute, absolute + 1] {
        let pending = engine.authenticate(Some(&cookie), t).unwrap();
        assert_eq!(
            engine.resume(&pending, &store.fetched(&pending), t),
            Err(RejectReason::ExpiredAbsolute),
            "at T0+{}",
            t - T0
        );
    }
}

#[test]
fn absolute_deadline_in_resume_when_it_coincides_with_idle() {
    let mut engine = engine_policy(Policy::new(1_000, 3_000, 3_000).unwrap());
    let (issued, cookie) = login(&engine, "alice", T0);
    let record = record_json(&issued);
    let absolute = T0 + 3_000;
    let pending = engine.authenticate(Some(&cookie), absolute - 1).unwrap();
    let r = engine
        .resume(&pending, &only_record(&record), absolute - 1)
        .unwrap();
    // Renewed at absolute - 1: everything is capped at the absolute deadline, Max-Age rounds up.
    assert_eq!(r.session.envelope_expires_at, absolute);
    assert!(r.set_cookie.unwrap().contains("Max-Age=1;"));
    for t in [absolute, absolute + 1] {
        let pending = engine.authenticate(Some(&cookie), t).unwrap();
        assert_eq!(
            engine.resume(&pending, &only_record(&record), t),
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
    // A refresh writes the last-seen key when it signs a new envelope in a later touch
    // interval (multiples of the interval since the epoch) than the one it replaces.
    let mut engine = engine();
    let touch = engine.policy().touch_interval_ms;
    assert_eq!(touch, 180_000);
    let (issued, cookie) = login(&engine, "alice", T0);
    let record = record_json(&issued);
    let next = (T0 / touch + 1) * touch;
    assert_eq!(next, T0 + 100_000);
    let pending = engine.authenticate(Some(&cookie), next - 1).unwrap();
    let r = engine
        .resume(&pending, &only_record(&record), next - 1)
        .unwrap();
    assert!(r.set_cookie.is_some());
    assert!(r.effects.is_empty());
    for t in [next, next + 1] {
        let pending = engine.authenticate(Some(&cookie), t).unwrap();
        let r = engine.resume(&pending, &only_record(&record), t).unwrap();
        assert_eq!(r.effects.puts.len(), 1);
        assert_eq!(
            r.effects.puts[0].key,
            issued.session.handle.touch_key("alice")
        );
        assert!(r.effects.deletes.is_empty());
    }
    // A fresh envelope (read under strict) is never re-signed, so never written either.
    let mut strict = engine_policy(Policy {
        strict: true,
        ..Policy::default()
    });
    let (issued, cookie) = login(&strict, "alice", next - 1);
    let record = record_json(&issued);
    let pending = expect_pending(strict.validate(Some(&cookie), next));
    let r = strict
        .resume(&pending, &only_record(&record), next)
        .unwrap();
    assert_eq!(r.set_cookie, None);
    assert!(r.effects.is_empty());
}

#[test]
fn revoked_handles_are_remembered_until_every_envelope_has_expired() {
    let mut engine = engine();
    let mut store = Store::default();
    let (issued, cookie) = login(&engine, "alice", T0);
    store.apply(&issued.effects);
    let t = T0 + 10_000;
    let pending = engine.authenticate(Some(&cookie), t).unwrap();
    let (effects, _) = engine.destroy(&pending, t);
    store.apply(&effects);
    let policy = *engine.policy();
    // Any envelope signed before the logout, even from a stale read of the record, has expired
    // by then, even from a fast clock.
    let forget =
        t + policy.envelope_ttl_ms + policy.clock_skew_ms + edge_session::KV_PROPAGATION_MS;
    for at in [t, t + 1, T0 + 59_999, T0 + 60_000, forget - 1] {
        assert_eq!(
            expect_reject(engine.validate(Some(&cookie), at)),
            RejectReason::Revoked,
            "at destroy + {}",
            at - t
        );
    }
    // Afterwards the memory is gone, but the envelope expired long ago: the tombstone decides.
    let pending = expect_pending(engine.validate(Some(&cookie), forget));
    assert_eq!(
        engine.resume(&pending, &store.fetched(&pending), forget),
        Err(RejectReason::Revoked)
    );
}

#[test]
fn revoke_user_cutoff_includes_its_own_millisecond() {
    // revoke_user(user, now) refuses sessions created up to and including `now` (the safe side
    // for a login racing the revocation); one created a millisecond later works.
    let mut engine = engine();
    let mut store = Store::default();
    let now = T0 + 1_000;
    let (_, before) = login(&engine, "alice", now - 1);
    let (_, at) = login(&engine, "alice", now);
    let (_, after) = login(&engine, "alice", now + 1);
    let (_, bob) = login(&engine, "bob", now - 1);
    let (effects, _) = engine.revoke_user("alice", None::<&str>, now);
    store.apply(&effects);
    assert_eq!(
        store.get(&engine.user_cutoff_key("alice")),
        Some(format!(r#"{{"v":2,"before":{},"at":{now}}}"#, now + 1).as_str())
    );
    // In this isolate's memory.
    for cookie in [&before, &at] {
        assert_eq!(
            expect_reject(engine.validate(Some(cookie), now + 1)),
            RejectReason::Revoked
        );
    }
    expect_valid(engine.validate(Some(&after), now + 1));
    expect_valid(engine.validate(Some(&bob), now + 1));

    // Through the stored cutoff, in an isolate that never heard of it.
    let c = store.get(&engine.user_cutoff_key("alice")).unwrap();
    let mut other = engine_ring(&ring_k1());
    let judge = |other: &mut Engine, cookie: &str, cutoff: Option<&str>| {
        let pending = other.authenticate(Some(cookie), now + 1).unwrap();
        let record = format!(
            r#"{{"v":2,"user_id":"{}","created_at":{},"absolute_deadline":{},"idle_timeout_ms":1800000,"generation":0,"lineage":"{}"}}"#,
            pending.user_id(),
            pending.session().created_at,
            pending.session().absolute_expires_at,
            pending.lineage().text()
        );
        other
            .resume(
                &pending,
                &Fetched::new([Some(record.as_str()), None, cutoff, None]),
                now + 1,
            )
            .map(|r| r.session.user_id)
    };
    assert_eq!(
        judge(&mut other, &before, Some(c)),
        Err(RejectReason::Revoked)
    );
    assert_eq!(judge(&mut other, &at, Some(c)), Err(RejectReason::Revoked));
    assert_eq!(judge(&mut other, &after, Some(c)), Ok("alice".to_owned()));
    assert_eq!(judge(&mut other, &bob, None), Ok("bob".to_owned()));
}

#[test]
fn stored_user_cutoff_is_exclusive_to_the_millisecond() {
    let mut engine = engine();
    let created = T0 + 1_000;
    let (issued, cookie) = login(&engine, "alice", created);
    let record = record_json(&issued);
    let now = created + 61_000;
    let pending = expect_pending(engine.validate(Some(&cookie), now));
    for (before, expected) in [
        (created - 1, Ok(())),
        (created, Ok(())),
        (created + 1, Err(RejectReason::Revoked)),
    ] {
        let c = cutoff(before);
        let got = engine
            .resume(
                &pending,
                &Fetched::new([Some(record.as_str()), None, Some(c.as_str()), None]),
                now,
            )
            .map(|_| ());
        assert_eq!(
            got,
            expected,
            "user cutoff at created {:+}",
            before as i64 - created as i64
        );
    }
}

#[test]
fn stored_global_cutoff_is_exclusive_to_the_millisecond() {
    let created = T0 + 1_000;
    let now = created + 61_000;
    for (before, expected) in [
        (created - 1, Ok(())),
        (created, Ok(())),
        (created + 1, Err(RejectReason::Revoked)),
    ] {
        // A fresh isolate each time: a stored global cutoff is remembered once read.
        let mut engine = engine();
        let (issued, cookie) = login(&engine, "alice", created);
        let record = record_json(&issued);
        let pending = expect_pending(engine.validate(Some(&cookie), now));
        let c = cutoff(before);
        let got = engine
            .resume(
                &pending,
                &Fetched::new([Some(record.as_str()), None, None, Some(c.as_str())]),
                now,
            )
            .map(|_| ());
        assert_eq!(
            got,
            expected,
            "global cutoff at created {:+}",
            before as i64 - created as i64
        );
        assert_eq!(engine.revocations().issued_before(), before);
    }
}

#[test]
fn stored_cutoffs_up_to_the_clock_skew_ahead_are_honoured_and_later_ones_are_corrupt() {
    let mut engine = engine();
    let skew = engine.policy().clock_skew_ms;
    let (issued, cookie) = login(&engine, "alice", T0);
    let record = record_json(&issued);
    let now = T0 + 61_000;
    let pending = expect_pending(engine.validate(Some(&cookie), now));
    for (before, expected) in [
        (now + skew, RejectReason::Revoked),
        (now + skew + 1, RejectReason::CorruptCutoff),
    ] {
        let c = cutoff(before);
        for fetched in [
            Fetched::new([Some(record.as_str()), None, Some(c.as_str()), None]),
            Fetched::new([Some(record.as_str()), None, None, Some(c.as_str())]),
        ] {
            let mut isolate = engine_ring(&ring_k1());
            assert_eq!(
                isolate.resume(&pending, &fetched, now).map(|_| ()),
                Err(expected),
                "cutoff at now + {}",
                before - now
            );
        }
    }
    assert!(engine.resume(&pending, &only_record(&record), now).is_ok());
}

#[test]
fn revoke_issued_before_accepts_up_to_the_clock_skew_ahead() {
    let mut engine = engine();
    let skew = engine.policy().clock_skew_ms;
    let now = T0;
    assert!(engine
        .revoke_issued_before(now + skew, None::<&str>, now)
        .is_ok());
    let err = engine
        .revoke_issued_before(now + skew + 1, None::<&str>, now)
        .unwrap_err();
    assert_eq!(err.code(), "invalid_time");
    assert_eq!(engine.check_issued_before(now + skew, now), Ok(()));
    assert!(engine.check_issued_before(now + skew + 1, now).is_err());
    // The refused call changed nothing.
    assert_eq!(engine.revocations().issued_before(), now + skew);
}

#[test]
fn revoke_issued_before_cutoff_is_exclusive() {
    let mut engine = engine();
    let cutoff = T0 + 1_000;
    let (_, before) = login(&engine, "alice", cutoff - 1);
    let (_, at) = login(&engine, "bob", cutoff);
    engine
        .revoke_issued_before(cutoff, None::<&str>, cutoff)
        .unwrap();
    assert_eq!(
        expect_reject(engine.validate(Some(&before), cutoff)),
        RejectReason::Revoked
    );
    expect_valid(engine.validate(Some(&at), cutoff));
}

/// The "record not visible here yet" window: an envelope whose record is absent is accepted
/// (unsigned) until `issued_at + P + S + write grace` exclusive, then `session_not_found`. With
/// the defaults: 60 s + 5 s + 10 s = 75 s.
#[test]
fn not_visible_yet_window_with_the_default_write_grace() {
    let engine = engine();
    let policy = *engine.policy();
    assert_eq!(
        (policy.clock_skew_ms, policy.write_grace_ms),
        (5_000, 10_000)
    );
    let t = T0 + 1_000_000;
    let (issued, cookie) = login(&engine, "alice", t);
    let end = t + edge_session::KV_PROPAGATION_MS + policy.clock_skew_ms + policy.write_grace_ms;
    assert_eq!(end, t + 75_000);
    for at in [t + 60_000, t + 65_000, end - 1] {
        let pending = expect_pending(engine.validate(Some(&cookie), at));
        let r = engine.clone().resume(&pending, &nothing(), at).unwrap();
        assert_eq!(r.session, issued.session, "at +{}", at - t);
        assert_eq!(r.set_cookie, None);
        assert!(r.effects.is_empty());
        assert_eq!(
            engine
                .clone()
                .rotate(&pending, &nothing(), edge_session::DataChange::Keep, at)
                .map(|_| ()),
            Err(RejectReason::StoreUnavailable)
        );
    }
    for at in [end, end + 1] {
        let pending = expect_pending(engine.validate(Some(&cookie), at));
        assert_eq!(
            engine.clone().resume(&pending, &nothing(), at),
            Err(RejectReason::SessionNotFound),
            "at +{}",
            at - t
        );
        assert_eq!(
            engine
                .clone()
                .rotate(&pending, &nothing(), edge_session::DataChange::Keep, at)
                .map(|_| ()),
            Err(RejectReason::SessionNotFound)
        );
    }
}

/// The same window with a custom write grace, to the millisecond.
#[test]
fn not_visible_yet_window_with_a_custom_write_grace() {
    let t = T0 + 1_000_000;
    for grace in [0, 1, 2_000, 33_333, 120_000] {
        let engine = engine_policy(Policy {
            write_grace_ms: grace,
            ..Policy::default()
        });
        let (_, cookie) = login(&engine, "alice", t);
        let end = t + 65_000 + grace;
        let pending = expect_pending(engine.validate(Some(&cookie), end - 1));
        assert!(
            engine.clone().resume(&pending, &nothing(), end - 1).is_ok(),
            "grace {grace}"
        );
        let pending = expect_pending(engine.validate(Some(&cookie), end));
        assert_eq!(
            engine.clone().resume(&pending, &nothing(), end),
            Err(RejectReason::SessionNotFound),
            "grace {grace}"
        );
    }
}

/// `Policy::check` refuses a write grace over 120 s (twice the largest `storeTimeoutMs`).
#[test]
fn write_grace_is_at_most_120_seconds() {
    for (grace, ok) in [
        (0, true),
        (10_000, true),
        (120_000, true),
        (120_001, false),
        (3_600_000, false),
        (u64::MAX, false),
    ] {
        let policy = Policy {
            write_grace_ms: grace,
            ..Policy::default()
        };
        match policy.check() {
            Ok(()) => assert!(ok, "{grace} accepted"),
            Err(err) => {
                assert!(!ok, "{grace} refused: {err}");
                assert_eq!(err.code(), "invalid_timeouts");
                assert!(err.to_string().contains("write grace"), "{err}");
                assert!(err.to_string().contains("120 seconds"), "{err}");
                let built = Engine::new(
                    ring(&ring_k1()),
                    policy,
                    edge_session::CookieConfig::default(),
                );
                assert_eq!(built.err(), Some(err));
            }
        }
    }
    // Policy::new keeps the default grace.
    assert_eq!(
        Policy::new(1_000, 3_000, 10_000).unwrap().write_grace_ms,
        10_000
    );
}
