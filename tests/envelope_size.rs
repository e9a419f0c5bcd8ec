//! The size of a typical session cookie, printed for the documentation.
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
use edge_session::envelope::MAX_ENVELOPE_LEN;

#[test]
fn typical_envelope_size() {
    let engine = engine();
    let issued = engine
        .issue("alice@example.com", Some("Mozilla/5.0"), T0)
        .unwrap();
    let set_cookie = &issued.set_cookie;
    let cookie_value = value(set_cookie);
    println!(
        "envelope for \"alice@example.com\" (key id \"k1\"): cookie value {} chars, Set-Cookie {} bytes",
        cookie_value.len(),
        set_cookie.len()
    );
    println!(
        "Set-Cookie: {}",
        set_cookie.replace(&cookie_value, "<value>")
    );
    assert!(set_cookie.len() < 4096, "{}", set_cookie.len());
    assert!(cookie_value.len() < 400, "{}", cookie_value.len());
    // 2 + 2 (key id) + 77 (fixed fields) + 17 (user) + 32 (tag) = 130 bytes -> 174 characters.
    assert_eq!(cookie_value.len(), 174);
}

#[test]
fn largest_envelope_size() {
    // The longest key id and user id the crate allows.
    let engine = engine_ring(&format!("k123456789abcdef:{SECRET_OLD}"));
    let user = "x".repeat(128);
    let issued = engine.issue(&user, None, T0).unwrap();
    let cookie_value = value(&issued.set_cookie);
    println!(
        "largest envelope (16-char key id, 128-byte user id): cookie value {} chars, Set-Cookie {} bytes",
        cookie_value.len(),
        issued.set_cookie.len()
    );
    assert_eq!(cookie_value.len(), MAX_ENVELOPE_LEN);
    assert!(issued.set_cookie.len() < 4096);
    expect_valid(engine.validate(Some(&pair(&issued.set_cookie)), T0));
}
