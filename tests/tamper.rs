//! The tamper matrix: damaged, forged, moved and foreign-key envelopes are refused, and none of
//! them ever asks for a store read (`Decision::NeedRecord`).

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
    base64url, CookieConfig, Decision, Lineage, Policy, RejectReason, SameSite, SessionId, TAG_LEN,
};

#[test]
fn every_mutation_of_a_fresh_envelope_is_refused() {
    let engine = engine();
    let (issued, _) = login(&engine, "alice", T0);
    let tried = assert_secure_behaviour(&engine, &value(&issued.set_cookie), T0 + 1);
    assert!(tried > 2_000, "only {tried} mutations tried");
}

#[test]
fn every_mutation_of_an_envelope_with_data_is_refused() {
    let engine = engine();
    let (issued, _) = login_with(&engine, "alice", Some(data(r#"{"role":"user","n":1}"#)), T0);
    let tried = assert_secure_behaviour(&engine, &value(&issued.set_cookie), T0 + 1);
    assert!(tried > 3_000, "only {tried} mutations tried");
}

#[test]
fn every_mutation_is_refused_for_long_and_unicode_users() {
    let engine = engine();
    for user in [
        "a",
        "🦀 ünïcødé user",
        &"x".repeat(128),
        "alice@example.com",
    ] {
        let (issued, _) = login(&engine, user, T0);
        assert_secure_behaviour(&engine, &value(&issued.set_cookie), T0 + 1);
    }
}

#[test]
fn every_mutation_is_refused_with_a_key_ring_and_custom_cookie() {
    let cookie = CookieConfig::new("sid", false, SameSite::Strict, "/app", None).unwrap();
    let spec = format!("current-key-id16:{SECRET_NEW},k1:{SECRET_OLD}");
    let engine = engine_full(&spec, Policy::default(), cookie);
    let (issued, _) = login(&engine, "bob", T0);
    assert!(issued.set_cookie.starts_with("sid="));
    assert_secure_behaviour(&engine, &value(&issued.set_cookie), T0 + 1);
}

#[test]
fn mutations_are_refused_even_when_the_envelope_would_need_a_record() {
    // The original is authentic but expired, so it asks for the record; its mutations must not.
    let engine = engine();
    let (issued, cookie) = login(&engine, "alice", T0);
    let later = T0 + 120_000;
    expect_pending(engine.validate(Some(&cookie), later));
    let good = value(&issued.set_cookie);
    for position in 0..good.len() {
        let mut mutated = good.clone().into_bytes();
        mutated[position] = if mutated[position] == b'A' {
            b'B'
        } else {
            b'A'
        };
        let mutated = String::from_utf8(mutated).unwrap();
        assert_refused(
            &engine,
            &header(&engine, &mutated),
            later,
            "expired, mutated",
        );
    }
    let bytes = raw(&good);
    for byte in 0..bytes.len() {
        let mut flipped = bytes.clone();
        flipped[byte] ^= 0x80;
        let text = base64url::encode(&flipped);
        assert_refused(&engine, &header(&engine, &text), later, "expired, flipped");
    }
}

#[test]
fn a_value_moved_to_another_cookie_name_is_refused() {
    let a = engine();
    let other = CookieConfig::new("__Host-other", true, SameSite::Lax, "/", None).unwrap();
    let b = engine_full(&ring_k1(), Policy::default(), other);
    let (issued, _) = login(&a, "alice", T0);
    let moved = format!("__Host-other={}", value(&issued.set_cookie));
    assert_eq!(
        assert_refused(&b, &moved, T0 + 1, "moved cookie"),
        RejectReason::BadSignature
    );
    // Also the other way round, and under a name that differs only in case.
    let (issued_b, _) = login(&b, "alice", T0);
    let moved_back = header(&a, &value(&issued_b.set_cookie));
    assert_eq!(
        assert_refused(&a, &moved_back, T0 + 1, "moved back"),
        RejectReason::BadSignature
    );
    let lower = CookieConfig::new("__host-session", true, SameSite::Lax, "/", None).unwrap();
    let c = engine_full(&ring_k1(), Policy::default(), lower);
    let recased = format!("__host-session={}", value(&issued.set_cookie));
    assert_eq!(
        assert_refused(&c, &recased, T0 + 1, "recased"),
        RejectReason::BadSignature
    );
}

#[test]
fn wrong_secret_with_the_same_key_id_is_a_bad_signature() {
    let a = engine();
    let b = engine_ring(&format!("k1:{SECRET_OTHER}"));
    let (_, cookie) = login(&a, "alice", T0);
    assert_eq!(
        assert_refused(&b, &cookie, T0 + 1, "wrong secret"),
        RejectReason::BadSignature
    );
    // Still refused after the envelope's expiry: no record read for a forgery.
    assert_eq!(
        assert_refused(&b, &cookie, T0 + 600_000, "wrong secret, expired"),
        RejectReason::BadSignature
    );
}

#[test]
fn unknown_key_id_is_refused() {
    let a = engine();
    let b = engine_ring(&format!("k9:{SECRET_OLD}"));
    let (_, cookie) = login(&a, "alice", T0);
    assert_eq!(
        assert_refused(&b, &cookie, T0 + 1, "unknown key"),
        RejectReason::UnknownKey
    );
}

#[test]
fn an_old_key_still_verifies_but_only_the_record_gets_it_re_signed() {
    let a = engine_ring(&format!("k1:{SECRET_OLD}"));
    let mut b = engine_ring(&format!("k2:{SECRET_NEW},k1:{SECRET_OLD}"));
    let (issued, cookie) = login(&a, "alice", T0);

    // Authentic, fresh, but signed by a previous key: the store decides (protocol v2).
    let pending = expect_pending(b.validate(Some(&cookie), T0 + 1_000));
    assert_eq!(pending.session(), issued.session);
    assert_eq!(
        b.authenticate(Some(&cookie), T0 + 1_000),
        Ok(pending.clone())
    );
    let json = record_json(&issued);
    let refreshed = b.resume(&pending, &only_record(&json), T0 + 1_000).unwrap();
    let resigned = refreshed
        .set_cookie
        .expect("an old-key envelope is re-signed");
    assert_eq!(&raw(&value(&resigned))[..4], b"\x02\x02k2");

    // The re-signed envelope is the same session, valid with no further store read.
    let again = expect_valid(b.validate(Some(&pair(&resigned)), T0 + 2_000));
    assert_eq!(again.handle, issued.session.handle);
    assert_eq!(
        again.absolute_expires_at,
        issued.session.absolute_expires_at
    );

    // Engine A does not know k2.
    assert_eq!(
        assert_refused(&a, &pair(&resigned), T0 + 2_000, "k2 on a k1 ring"),
        RejectReason::UnknownKey
    );
}

#[test]
fn a_removed_key_is_refused() {
    let a = engine_ring(&format!("k1:{SECRET_OLD}"));
    let c = engine_ring(&format!("k2:{SECRET_NEW}"));
    let (_, cookie) = login(&a, "alice", T0);
    assert_eq!(
        assert_refused(&c, &cookie, T0 + 1, "removed key"),
        RejectReason::UnknownKey
    );
    assert_eq!(
        assert_refused(&c, &cookie, T0 + 120_000, "removed key, expired"),
        RejectReason::UnknownKey
    );
}

#[test]
fn relabelling_the_key_id_to_another_ring_key_is_a_bad_signature() {
    // Signed by k1; the key id bytes rewritten to k2, which the ring also holds.
    let a = engine_ring(&format!("k1:{SECRET_OLD}"));
    let b = engine_ring(&format!("k2:{SECRET_NEW},k1:{SECRET_OLD}"));
    let (issued, _) = login(&a, "alice", T0);
    let mut bytes = raw(&value(&issued.set_cookie));
    assert_eq!(&bytes[2..4], b"k1");
    bytes[3] = b'2';
    let text = base64url::encode(&bytes);
    assert_eq!(
        assert_refused(&b, &header(&b, &text), T0 + 1, "relabelled key id"),
        RejectReason::BadSignature
    );
}

#[test]
fn wrong_version_byte_is_refused() {
    let engine = engine();
    let (issued, _) = login(&engine, "alice", T0);
    let bytes = raw(&value(&issued.set_cookie));
    assert_eq!(bytes[0], envelope::VERSION);
    for version in [0u8, 1, 3, 0x7f, 0x80, 0xff] {
        let mut changed = bytes.clone();
        changed[0] = version;
        let text = base64url::encode(&changed);
        assert_eq!(
            assert_refused(&engine, &header(&engine, &text), T0 + 1, "version"),
            RejectReason::BadVersion,
            "version {version}"
        );
    }
}

#[test]
fn structural_forgeries_are_refused() {
    let engine = engine();
    let (issued, _) = login(&engine, "alice", T0);
    let bytes = raw(&value(&issued.set_cookie));
    let (body, tag) = bytes.split_at(bytes.len() - TAG_LEN);
    let now = T0 + 1;
    let refuse = |raw: &[u8], what: &str| {
        assert_refused(
            &engine,
            &header(&engine, &base64url::encode(raw)),
            now,
            what,
        )
    };

    // Tag zeroed, tag of another message, no tag, tag only.
    let mut zero = body.to_vec();
    zero.extend_from_slice(&[0u8; TAG_LEN]);
    assert_eq!(refuse(&zero, "zero tag"), RejectReason::BadSignature);
    assert_ne!(refuse(body, "no tag"), RejectReason::BadSignature);
    refuse(tag, "tag only");
    refuse(&bytes[..1], "version only");
    refuse(&[], "nothing");

    // Declared key id length 0 and longer than allowed.
    let mut kid0 = bytes.clone();
    kid0[1] = 0;
    assert_eq!(refuse(&kid0, "kid_len 0"), RejectReason::Malformed);
    let mut kid_long = bytes.clone();
    kid_long[1] = 17;
    assert_eq!(refuse(&kid_long, "kid_len 17"), RejectReason::Malformed);
    let mut kid_huge = bytes.clone();
    kid_huge[1] = 0xff;
    assert_eq!(refuse(&kid_huge, "kid_len 255"), RejectReason::Malformed);

    // Offsets: version, key id length, "k1", session id [32] at 4, lineage [16] at 36,
    // generation at 52, five times at 56, user length at 96.
    let lineage_at = 2 + 2 + 32;
    let user_len_at = lineage_at + 16 + 4 + 40;
    assert_eq!(user_len_at, 96);
    assert_eq!(
        &bytes[lineage_at..lineage_at + 16],
        record_of(&issued).lineage.as_bytes()
    );

    // Declared user length that disagrees with the actual length.
    assert_eq!(bytes[user_len_at], 5);
    for declared in [0u8, 4, 6, 128, 255] {
        let mut changed = bytes.clone();
        changed[user_len_at] = declared;
        assert_eq!(
            refuse(&changed, "user_len"),
            RejectReason::Malformed,
            "declared user length {declared}"
        );
    }

    // A byte inserted into or removed from the signed body.
    for at in [4usize, 36, 51, 52, 56, 95, 97, body.len()] {
        let mut inserted = bytes.clone();
        inserted.insert(at, 0);
        refuse(&inserted, "inserted byte");
        let mut removed = bytes.clone();
        removed.remove(at);
        refuse(&removed, "removed byte");
    }

    // Declared data length that disagrees with the actual length (none here).
    let data_len_at = user_len_at + 1 + 5;
    assert_eq!(&bytes[data_len_at..data_len_at + 2], &[0, 0]);
    for declared in [[0u8, 1], [0, 2], [4, 0], [4, 1], [0xff, 0xff]] {
        let mut changed = bytes.clone();
        changed[data_len_at..data_len_at + 2].copy_from_slice(&declared);
        assert_eq!(
            refuse(&changed, "data_len"),
            RejectReason::Malformed,
            "declared data length {declared:?}"
        );
    }
    // Data spliced in with a consistent length but the old tag.
    let mut with_data = body.to_vec();
    with_data[data_len_at..data_len_at + 2].copy_from_slice(&14u16.to_be_bytes());
    with_data.extend_from_slice(br#"{"admin":true}"#);
    with_data.extend_from_slice(tag);
    assert_eq!(
        refuse(&with_data, "data spliced"),
        RejectReason::BadSignature
    );

    // A different user spliced in with a consistent length but the old tag.
    let mut spliced = body[..user_len_at].to_vec();
    spliced.push(5);
    spliced.extend_from_slice(b"admin");
    spliced.extend_from_slice(&[0, 0]);
    spliced.extend_from_slice(tag);
    assert_eq!(refuse(&spliced, "user spliced"), RejectReason::BadSignature);

    // Another login's lineage with the old tag (to dodge a lineage tombstone).
    let mut relineaged = bytes.clone();
    relineaged[lineage_at..lineage_at + 16].copy_from_slice(&[0x5a; 16]);
    assert_eq!(
        refuse(&relineaged, "lineage replaced"),
        RejectReason::BadSignature
    );

    // Extended deadlines (expires, idle, absolute) with the old tag.
    let mut extended = bytes.clone();
    for b in &mut extended[72..96] {
        *b = 0xff;
    }
    assert_eq!(
        refuse(&extended, "deadlines extended"),
        RejectReason::BadSignature
    );
}

#[test]
fn truncated_and_extended_tags_are_refused_without_a_record_read() {
    let engine = engine();
    let (issued, _) = login(&engine, "alice", T0);
    let bytes = raw(&value(&issued.set_cookie));
    for now in [T0 + 1, T0 + 120_000] {
        for cut in 1..=TAG_LEN {
            let text = base64url::encode(&bytes[..bytes.len() - cut]);
            let reason = assert_refused(&engine, &header(&engine, &text), now, "tag cut");
            assert!(
                matches!(reason, RejectReason::Malformed | RejectReason::BadSignature),
                "cut {cut}: {reason:?}"
            );
        }
        for extra in 1..=8 {
            let mut longer = bytes.clone();
            longer.extend(vec![0xa5u8; extra]);
            let text = base64url::encode(&longer);
            let reason = assert_refused(&engine, &header(&engine, &text), now, "tag extended");
            assert!(
                matches!(reason, RejectReason::Malformed | RejectReason::BadSignature),
                "extra {extra}: {reason:?}"
            );
        }
    }
}

#[test]
fn forged_envelopes_of_every_kind_never_need_a_record() {
    // An attacker without the key signs with their own: right layout, right key id, any claims.
    let engine = engine();
    let attacker = ring(&format!("k1:{SECRET_OTHER}"));
    let name = engine.cookie().name().to_owned();
    let mut reasons = std::collections::HashSet::new();
    for (i, now) in [T0, T0 + 60_000, T0 + 3_600_000, u64::MAX / 2]
        .into_iter()
        .enumerate()
    {
        let claims = Claims {
            session_id: SessionId::from_bytes([i as u8; 32]),
            lineage: Lineage::from_bytes([i as u8; 16]),
            user_id: "admin".to_owned(),
            generation: 0,
            created_at: now,
            issued_at: now,
            expires_at: now.saturating_add(60_000),
            idle_deadline: now.saturating_add(1_800_000),
            absolute_deadline: now.saturating_add(43_200_000),
            data: (i % 2 == 1).then(|| r#"{"role":"admin"}"#.to_owned()),
        };
        let forged = envelope::seal(&attacker, &name, &claims);
        for at in [now, now.saturating_add(30_000), now.saturating_add(120_000)] {
            reasons.insert(assert_refused(
                &engine,
                &header(&engine, &forged),
                at,
                "forged",
            ));
        }
        // Forged with an unknown key id.
        let unknown = envelope::seal(&ring(&format!("zz:{SECRET_OTHER}")), &name, &claims);
        reasons.insert(assert_refused(
            &engine,
            &header(&engine, &unknown),
            now,
            "unknown kid",
        ));
    }
    assert_eq!(
        reasons,
        [RejectReason::BadSignature, RejectReason::UnknownKey]
            .into_iter()
            .collect()
    );
}

#[test]
fn authentic_envelopes_reach_the_record_only_when_expired_old_keyed_or_strict() {
    // The counterpart of the above: NeedRecord is reserved for envelopes we signed.
    let engine = engine();
    let (_, cookie) = login(&engine, "alice", T0);
    assert!(matches!(
        engine.validate(Some(&cookie), T0 + 59_999),
        Decision::Valid(_)
    ));
    expect_pending(engine.validate(Some(&cookie), T0 + 60_000));
    let strict = engine_policy(Policy {
        strict: true,
        ..Policy::default()
    });
    let (_, cookie) = login(&strict, "alice", T0);
    expect_pending(strict.validate(Some(&cookie), T0));
    let rotated = engine_ring(&format!("k2:{SECRET_NEW},{}", ring_k1()));
    let (_, cookie) = login(&engine, "alice", T0);
    expect_pending(rotated.validate(Some(&cookie), T0));
}
