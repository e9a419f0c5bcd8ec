//! The size of session cookies, pinned and printed for the documentation.
//!
//! `cargo test --test envelope_size -- --nocapture` shows the figures.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

mod common;

use common::*;
use edge_session::envelope::{MAX_ENVELOPE_LEN, MAX_USER_ID_LEN};
use edge_session::{SessionData, MAX_DATA_LEN};

/// What follows the value in a default `Set-Cookie` for a 12-hour session.
const ATTRIBUTES: &str = "; Max-Age=43200; Path=/; Secure; HttpOnly; SameSite=Lax";

/// Browsers keep cookies of up to 4096 bytes (name, value and attributes).
const BROWSER_LIMIT: usize = 4096;

#[test]
fn typical_envelope_size() {
    let engine = engine();
    let issued = engine
        .issue("alice@example.com", Some("Mozilla/5.0"), None, T0)
        .unwrap();
    let set_cookie = &issued.set_cookie;
    let cookie_value = value(set_cookie);
    println!(
        "envelope for \"alice@example.com\" (key id \"k1\", no data): cookie value {} chars, Set-Cookie {} bytes",
        cookie_value.len(),
        set_cookie.len()
    );
    println!(
        "Set-Cookie: {}",
        set_cookie.replace(&cookie_value, "<value>")
    );
    // 2 + 2 (key id) + 93 (fixed fields: session id 32, lineage 16, generation 4, five times
    // 40, user length 1) + 17 (user) + 2 (data length) + 32 (tag) = 148 bytes -> 198
    // characters (49 groups of 3 bytes give 196, the last byte 2 more).
    assert_eq!(cookie_value.len(), 198);
    assert_eq!(raw(&cookie_value).len(), 148);
    assert_eq!(
        set_cookie.len(),
        "__Host-session=".len() + 198 + ATTRIBUTES.len()
    );
    assert_eq!(set_cookie.len(), 268);
}

#[test]
fn typical_envelope_with_a_little_data() {
    let engine = engine();
    let json = r#"{"role":"admin","tenant":"acme","locale":"en-GB"}"#;
    let issued = engine
        .issue(
            "alice@example.com",
            None,
            Some(SessionData::new(json).unwrap()),
            T0,
        )
        .unwrap();
    let cookie_value = value(&issued.set_cookie);
    println!(
        "envelope for \"alice@example.com\" with {} bytes of data: cookie value {} chars, Set-Cookie {} bytes",
        json.len(),
        cookie_value.len(),
        issued.set_cookie.len()
    );
    // 148 + 49 bytes of data = 197 bytes -> 263 characters (65 groups give 260, the last 2
    // bytes 3 more).
    assert_eq!(json.len(), 49);
    assert_eq!(raw(&cookie_value).len(), 197);
    assert_eq!(cookie_value.len(), 263);
    assert_eq!(issued.set_cookie.len(), 333);
}

#[test]
fn largest_envelope_size() {
    // The longest key id, user id and data the crate allows.
    let engine = engine_ring(&format!("k123456789abcdef:{SECRET_OLD}"));
    let user = "x".repeat(MAX_USER_ID_LEN);
    let filler = "y".repeat(MAX_DATA_LEN - r#"{"a":""}"#.len());
    let json = format!(r#"{{"a":"{filler}"}}"#);
    assert_eq!(json.len(), 1024);
    let issued = engine
        .issue(
            &user,
            Some("Mozilla/5.0"),
            Some(SessionData::new(&json).unwrap()),
            T0,
        )
        .unwrap();
    let cookie_value = value(&issued.set_cookie);
    println!(
        "largest envelope (16-char key id, 128-byte user id, 1024 bytes of data): cookie value {} chars, Set-Cookie {} bytes (browser limit {BROWSER_LIMIT})",
        cookie_value.len(),
        issued.set_cookie.len()
    );
    // 2 + 16 + 93 + 128 + 2 + 1024 + 32 = 1297 bytes -> 1730 characters (432 groups give 1728,
    // the last byte 2 more).
    assert_eq!(raw(&cookie_value).len(), 1297);
    assert_eq!(cookie_value.len(), 1730);
    // The engine's cap is the padded length, 433 * 4 = 1732: the 2 characters above the
    // longest real envelope only ever decode to a wrong length (refused as malformed).
    assert_eq!(MAX_ENVELOPE_LEN, 1732);
    assert!(cookie_value.len() <= MAX_ENVELOPE_LEN);
    assert_eq!(
        issued.set_cookie.len(),
        "__Host-session=".len() + 1730 + ATTRIBUTES.len()
    );
    assert_eq!(issued.set_cookie.len(), 1800);
    assert!(issued.set_cookie.len() < BROWSER_LIMIT);
    // One or two characters more still fit under the cap, decode, and are refused by length.
    for extra in ["A", "AA"] {
        let longer = format!("{cookie_value}{extra}");
        assert!(longer.len() <= MAX_ENVELOPE_LEN);
        assert_eq!(
            assert_refused(
                &engine,
                &header(&engine, &longer),
                T0,
                "longer than the largest"
            ),
            edge_session::RejectReason::Malformed
        );
    }
    // The browser sends back name=value only, well inside what the engine reads.
    assert!(pair(&issued.set_cookie).len() < BROWSER_LIMIT);
    let session = expect_valid(engine.validate(Some(&pair(&issued.set_cookie)), T0));
    assert_eq!(session.data.as_deref(), Some(json.as_str()));
    assert_eq!(session.user_id, user);

    // With a custom cookie carrying a Domain attribute the total stays under the limit too.
    let cookie = edge_session::CookieConfig::new(
        "__Secure-session-with-a-long-name",
        true,
        edge_session::SameSite::Strict,
        "/some/long/application/path",
        Some("accounts.subdomain.example.com"),
    )
    .unwrap();
    let engine = engine_full(
        &format!("k123456789abcdef:{SECRET_OLD}"),
        edge_session::Policy::default(),
        cookie,
    );
    let issued = engine
        .issue(&user, None, Some(SessionData::new(&json).unwrap()), T0)
        .unwrap();
    println!(
        "largest envelope with a long name, path and domain: Set-Cookie {} bytes",
        issued.set_cookie.len()
    );
    assert!(issued.set_cookie.len() < BROWSER_LIMIT);
}

#[test]
fn data_beyond_the_limit_is_refused_before_it_can_grow_a_cookie() {
    let json = format!(r#"{{"a":"{}"}}"#, "y".repeat(MAX_DATA_LEN - 7));
    assert_eq!(json.len(), 1025);
    assert_eq!(SessionData::new(&json).unwrap_err().code(), "invalid_data");
    let too_long = format!("{}A", "A".repeat(MAX_ENVELOPE_LEN));
    let engine = engine();
    assert_eq!(
        assert_refused(&engine, &header(&engine, &too_long), T0, "over the maximum"),
        edge_session::RejectReason::Malformed
    );
}
