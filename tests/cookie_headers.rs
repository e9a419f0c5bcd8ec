//! Hostile `Cookie` headers through `Engine::validate`, and the `Set-Cookie` values the engine
//! produces.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

mod common;

use common::*;
use edge_session::{
    base64url, CookieConfig, Decision, Policy, RejectReason, SameSite, MAX_COOKIE_HEADER_LEN,
    TAG_LEN,
};

const NOW: u64 = T0 + 1_000;

/// A fresh session's cookie value.
fn good() -> (edge_session::Engine, String) {
    let engine = engine();
    let (issued, _) = login(&engine, "alice", T0);
    (engine, value(&issued.set_cookie))
}

#[test]
fn absent_cookies_are_missing() {
    let (engine, _) = good();
    for h in [
        None,
        Some(""),
        Some(" "),
        Some(";"),
        Some("a=b"),
        Some("a=b; c=d"),
        Some("__Host-session"),
        Some("__Host-session="),
        Some("__Host-session= "),
        Some("__host-session=abc"),
        Some("x__Host-session=abc"),
        Some("__Host-sessionx=abc"),
    ] {
        assert_eq!(
            expect_reject(engine.validate(h, NOW)),
            RejectReason::Missing,
            "{h:?}"
        );
        assert_eq!(engine.authenticate(h, NOW), Err(RejectReason::Missing));
    }
}

#[test]
fn oversized_headers() {
    let (engine, v) = good();
    let cookie = header(&engine, &v);
    // 64 KiB, with the valid cookie inside.
    let huge = format!("{cookie}; pad={}", "a".repeat(64 * 1024));
    assert_eq!(
        assert_refused(&engine, &huge, NOW, "64 KiB"),
        RejectReason::HeaderTooLarge
    );
    let huge = "a".repeat(64 * 1024);
    assert_eq!(
        assert_refused(&engine, &huge, NOW, "64 KiB junk"),
        RejectReason::HeaderTooLarge
    );
    // Exactly at the limit is read; one byte more is not.
    let prefix = format!("{cookie}; pad=");
    let at_limit = format!(
        "{prefix}{}",
        "p".repeat(MAX_COOKIE_HEADER_LEN - prefix.len())
    );
    assert_eq!(at_limit.len(), MAX_COOKIE_HEADER_LEN);
    expect_valid(engine.validate(Some(&at_limit), NOW));
    let over = format!("{at_limit}p");
    assert_eq!(
        assert_refused(&engine, &over, NOW, "limit + 1"),
        RejectReason::HeaderTooLarge
    );
}

#[test]
fn a_thousand_other_cookies() {
    let (engine, v) = good();
    let others: Vec<String> = (0..1_000).map(|i| format!("c{i}=v{i}")).collect();
    let (first, second) = (others[..500].join("; "), others[500..].join(";"));
    let others = others.join("; ");
    for h in [
        format!("{others}; {}", header(&engine, &v)),
        format!("{}; {others}", header(&engine, &v)),
        format!("{first};{};{second}", header(&engine, &v)),
    ] {
        assert!(h.len() <= MAX_COOKIE_HEADER_LEN, "{}", h.len());
        let session = expect_valid(engine.validate(Some(&h), NOW));
        assert_eq!(session.user_id, "alice");
    }
}

#[test]
fn whitespace_around_pairs_is_tolerated() {
    let (engine, v) = good();
    for h in [
        format!("  __Host-session={v}  "),
        format!("\t__Host-session={v}\t"),
        format!("a=b;__Host-session={v};c=d"),
        format!("a=b ;  __Host-session = {v} ; c=d"),
    ] {
        expect_valid(engine.validate(Some(&h), NOW));
    }
}

#[test]
fn duplicate_session_cookies() {
    let (engine, v) = good();
    let (issued2, _) = login(&engine, "alice", T0);
    let v2 = value(&issued2.set_cookie);
    for h in [
        // Identical valid values.
        format!("__Host-session={v}; __Host-session={v}"),
        format!("__Host-session={v};__Host-session={v}"),
        // Two different valid sessions.
        format!("__Host-session={v}; __Host-session={v2}"),
        // A valid one and a planted one, either order.
        format!("__Host-session={v}; __Host-session=planted"),
        format!("__Host-session=planted; __Host-session={v}"),
        // A valid one and an empty one.
        format!("__Host-session=; __Host-session={v}"),
        format!("__Host-session={v}; a=b; __Host-session ={v}"),
    ] {
        assert_eq!(
            assert_refused(&engine, &h, NOW, "duplicate"),
            RejectReason::DuplicateCookie,
            "{h}"
        );
    }
}

#[test]
fn bytes_outside_base64url_are_malformed() {
    let (engine, v) = good();
    let mid = v.len() / 2;
    let (a, b) = v.split_at(mid);
    for inserted in [
        "\u{0}", "\u{1}", "\u{7f}", "\t", "\r", "\n", "é", "\u{ff}", "\u{2028}", "🦀", "\"", "\\",
        ",", "+", "/", "=", "%2B", " ",
    ] {
        let h = format!("__Host-session={a}{inserted}{b}");
        assert_eq!(
            assert_refused(&engine, &h, NOW, "inserted byte"),
            RejectReason::Malformed,
            "{inserted:?}"
        );
    }
    // A quoted value (RFC 6265 allows DQUOTEs around cookie values) is refused too.
    assert_eq!(
        assert_refused(&engine, &format!("__Host-session=\"{v}\""), NOW, "quoted"),
        RejectReason::Malformed
    );
    // Trailing control bytes are not trimmed away.
    assert_eq!(
        assert_refused(&engine, &format!("__Host-session={v}\r\n"), NOW, "crlf"),
        RejectReason::Malformed
    );
}

#[test]
fn invalid_base64_is_malformed() {
    let (engine, v) = good();
    // 2 + 2 + 93 + 5 ("alice") + 2 + 32 = 136 bytes: 45 full groups and a 2-character one.
    assert_eq!(raw(&v).len(), 136);
    // Eight bytes of data make 144 bytes, which end in a full group.
    let (issued, _) = login_with(&engine, "alice", Some(data(r#"{"ab":1}"#)), T0);
    let full = value(&issued.set_cookie);
    assert_eq!(raw(&full).len(), 144);
    assert_eq!(full.len() % 4, 0);
    expect_valid(engine.validate(Some(&header(&engine, &full)), NOW));
    let partial = v.clone();
    let mut cases = vec![
        "A".to_owned(),
        "AB".to_owned(),
        "ABCDE".to_owned(),
        format!("{full}A"),
        format!("{partial}A"),
        format!("{partial}AAA"),
    ];
    // A non-canonical final character: the same bytes with non-zero trailing bits.
    assert_eq!(
        raw(&partial).len() % 3,
        1,
        "the envelope ends in a 2-character group"
    );
    let last = partial.chars().last().unwrap();
    let alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    let index = alphabet.find(last).unwrap();
    assert_eq!(index & 0b1111, 0);
    let sloppy = &alphabet[index + 1..index + 2];
    cases.push(format!("{}{sloppy}", &partial[..partial.len() - 1]));
    assert_eq!(base64url::decode(cases.last().unwrap()), None);
    for case in &cases {
        assert_eq!(
            assert_refused(&engine, &header(&engine, case), NOW, "invalid base64"),
            RejectReason::Malformed,
            "{case}"
        );
    }
}

#[test]
fn padded_base64_of_a_valid_envelope_is_malformed() {
    let engine = engine();
    // With seven bytes of data the envelope is 143 bytes, whose encoding would need padding.
    let (issued, _) = login_with(&engine, "alice", Some(data(r#"{"a":1}"#)), T0);
    let v = value(&issued.set_cookie);
    let padding = "=".repeat((4 - v.len() % 4) % 4);
    assert!(!padding.is_empty());
    let padded = format!("{v}{padding}");
    assert_eq!(padded.len() % 4, 0);
    assert_eq!(base64url::decode(&padded), None);
    assert_eq!(
        assert_refused(&engine, &header(&engine, &padded), NOW, "padded"),
        RejectReason::Malformed
    );
    // Standard-alphabet spelling of the same bytes is refused too.
    let standard: String = v
        .chars()
        .map(|c| match c {
            '-' => '+',
            '_' => '/',
            c => c,
        })
        .collect();
    if standard != v {
        assert_eq!(
            assert_refused(&engine, &header(&engine, &standard), NOW, "standard"),
            RejectReason::Malformed
        );
    }
}

#[test]
fn oversized_values_are_malformed_before_decoding() {
    let (engine, v) = good();
    let long = "A".repeat(edge_session::envelope::MAX_ENVELOPE_LEN + 4);
    assert_eq!(
        assert_refused(&engine, &header(&engine, &long), NOW, "long"),
        RejectReason::Malformed
    );
    let long = format!("{v}{}", "A".repeat(4_000));
    assert_eq!(
        assert_refused(&engine, &header(&engine, &long), NOW, "long valid prefix"),
        RejectReason::Malformed
    );
}

#[test]
fn wrong_version_and_unknown_key() {
    let (engine, v) = good();
    let mut bytes = raw(&v);
    assert_eq!(bytes[0], 2);
    for version in [1, 3] {
        bytes[0] = version;
        let h = header(&engine, &base64url::encode(&bytes));
        assert_eq!(
            assert_refused(&engine, &h, NOW, "version"),
            RejectReason::BadVersion,
            "version {version}"
        );
    }

    let foreign = engine_ring(&format!("k7:{SECRET_OLD}"));
    let (issued, cookie) = login(&foreign, "alice", T0);
    assert_eq!(
        assert_refused(&engine, &cookie, NOW, "unknown kid"),
        RejectReason::UnknownKey
    );
    expect_valid(foreign.validate(Some(&pair(&issued.set_cookie)), NOW));
}

#[test]
fn truncated_and_extended_tags() {
    let (engine, v) = good();
    let bytes = raw(&v);
    for now in [NOW, T0 + 600_000] {
        let truncated = base64url::encode(&bytes[..bytes.len() - 1]);
        let reason = assert_refused(&engine, &header(&engine, &truncated), now, "truncated");
        assert!(matches!(
            reason,
            RejectReason::Malformed | RejectReason::BadSignature
        ));
        let half = base64url::encode(&bytes[..bytes.len() - TAG_LEN / 2]);
        assert_refused(&engine, &header(&engine, &half), now, "half tag");
        let mut longer = bytes.clone();
        longer.push(0);
        let extended = base64url::encode(&longer);
        let reason = assert_refused(&engine, &header(&engine, &extended), now, "extended");
        assert!(matches!(
            reason,
            RejectReason::Malformed | RejectReason::BadSignature
        ));
    }
}

#[test]
fn issued_in_the_future_beyond_skew() {
    let engine = engine();
    let future = T0 + 3_600_000;
    let (_, cookie) = login(&engine, "alice", future);
    assert_eq!(
        assert_refused(&engine, &cookie, T0, "future"),
        RejectReason::IssuedInFuture
    );
}

#[test]
fn non_ascii_headers_elsewhere_do_not_disturb() {
    let (engine, v) = good();
    let h = format!("pref=🦀é\u{0}; __Host-session={v}; z=\u{7f}\"q\"");
    expect_valid(engine.validate(Some(&h), NOW));
    let weird = ";;;=;=;; ==; \u{0}\u{7f}\u{ffff}";
    assert_eq!(
        expect_reject(engine.validate(Some(weird), NOW)),
        RejectReason::Missing
    );
}

#[test]
fn set_cookie_values() {
    let engine = engine();
    let (issued, _) = login(&engine, "alice", T0);
    let sc = &issued.set_cookie;
    let v = value(sc);
    assert_eq!(
        sc,
        &format!("__Host-session={v}; Max-Age=43200; Path=/; Secure; HttpOnly; SameSite=Lax")
    );
    assert!(v
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_'));
    assert_eq!(
        engine.clear_cookie(),
        "__Host-session=; Max-Age=0; Path=/; Secure; HttpOnly; SameSite=Lax"
    );
    // Sending back a cleared cookie is no session.
    assert_eq!(
        expect_reject(engine.validate(Some(&pair(&engine.clear_cookie())), T0)),
        RejectReason::Missing
    );

    let cookie =
        CookieConfig::new("sid", true, SameSite::Strict, "/app", Some("example.com")).unwrap();
    let custom = engine_full(&ring_k1(), Policy::default(), cookie);
    let (issued, _) = login(&custom, "alice", T0);
    assert!(issued.set_cookie.starts_with("sid="));
    assert!(issued.set_cookie.ends_with(
        "; Max-Age=43200; Path=/app; Domain=example.com; Secure; HttpOnly; SameSite=Strict"
    ));
    expect_valid(custom.validate(Some(&pair(&issued.set_cookie)), T0));
    // The default engine does not see a cookie called sid.
    assert_eq!(
        expect_reject(engine.validate(Some(&pair(&issued.set_cookie)), T0)),
        RejectReason::Missing
    );
}

#[test]
fn cookie_configuration_is_checked() {
    let lax = SameSite::Lax;
    assert!(CookieConfig::new("__Host-x", true, lax, "/", None).is_ok());
    for (name, secure, same_site, path, domain) in [
        ("__Host-x", false, lax, "/", None),
        ("__Host-x", true, lax, "/a", None),
        ("__Host-x", true, lax, "/", Some("example.com")),
        ("__Secure-x", false, lax, "/", None),
        ("x", false, SameSite::None, "/", None),
        ("x y", true, lax, "/", None),
        ("x=y", true, lax, "/", None),
        ("", true, lax, "/", None),
        ("x", true, lax, "/\r\nX-Injected: 1", None),
        ("x", true, lax, "/", Some("a.com;Secure")),
    ] {
        assert!(
            CookieConfig::new(name, secure, same_site, path, domain).is_err(),
            "{name:?} {path:?} {domain:?}"
        );
    }
    let name65 = "a".repeat(65);
    assert!(CookieConfig::new(&name65, true, lax, "/", None).is_err());
}

#[test]
fn validate_at_extreme_times() {
    let (engine, v) = good();
    let h = header(&engine, &v);
    for now in [0, 1, T0 - 1, u64::MAX - 1, u64::MAX] {
        // Any decision is fine here; it must simply be a decision.
        match engine.validate(Some(&h), now) {
            Decision::Valid(_) | Decision::NeedRecord(_) | Decision::Reject(_) => {}
        }
    }
    assert_eq!(
        expect_reject(engine.validate(Some(&h), u64::MAX)),
        RejectReason::ExpiredAbsolute
    );
}
