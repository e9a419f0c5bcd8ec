//! Property tests: base64url round trips and canonicity, envelope and data round trips, that no
//! mutation or arbitrary header is ever accepted or sent to the store, that no stored value
//! other than the session's own record resumes it, and that refreshes write only last-seen keys.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

mod common;

use common::*;
use edge_session::{base64url, Decision, Engine, Fetched, RejectReason, SessionData, TAG_LEN};
use proptest::prelude::*;
use proptest::sample::Index;

/// 2100-01-01 in unix ms: a generous "sane" clock range.
const YEAR_2100: u64 = 4_102_444_800_000;

fn config() -> ProptestConfig {
    ProptestConfig {
        // Do not write regression files into the source tree.
        failure_persistence: None,
        ..ProptestConfig::with_cases(256)
    }
}

/// Valid user ids: 1-128 bytes of UTF-8 without control characters.
fn user_id() -> impl Strategy<Value = String> {
    prop_oneof![
        "[ -~]{1,128}",
        proptest::collection::vec(
            any::<char>().prop_filter("no controls", |c| !c.is_control()),
            1..=32
        )
        .prop_map(|chars| chars.into_iter().collect::<String>()),
    ]
}

/// Neither `Valid` nor `NeedRecord`.
fn refused(engine: &Engine, cookie_header: &str, now: u64) -> Result<(), TestCaseError> {
    match engine.validate(Some(cookie_header), now) {
        Decision::Reject(_) => {}
        other => {
            return Err(TestCaseError::fail(format!(
                "{cookie_header:?} gave {other:?}"
            )))
        }
    }
    prop_assert!(engine.authenticate(Some(cookie_header), now).is_err());
    Ok(())
}

/// Session data: JSON objects of up to 1024 bytes, as `serde_json` writes them.
fn session_data() -> impl Strategy<Value = Option<String>> {
    proptest::option::of(
        proptest::collection::btree_map("[a-z]{1,8}", any::<String>(), 0..6)
            .prop_map(|m| serde_json::to_string(&m).unwrap())
            .prop_filter("at most 1024 bytes", |json| json.len() <= 1024),
    )
}

/// One engine and one valid cookie value issued at `T0`, for the mutation properties.
fn fixture() -> (Engine, String) {
    let engine = engine();
    let issued = engine.issue("alice@example.com", None, None, T0).unwrap();
    let v = value(&issued.set_cookie);
    (engine, v)
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn base64url_round_trips(bytes in proptest::collection::vec(any::<u8>(), 0..600)) {
        let text = base64url::encode(&bytes);
        prop_assert_eq!(text.len(), (bytes.len() * 4).div_ceil(3));
        prop_assert!(text.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_'));
        prop_assert_eq!(base64url::decode(&text), Some(bytes));
    }

    #[test]
    fn base64url_decoding_is_canonical(text in "[A-Za-z0-9_+/= -]{0,64}") {
        // One accepted spelling per byte string: whatever decodes re-encodes to itself.
        if let Some(bytes) = base64url::decode(&text) {
            prop_assert_eq!(base64url::encode(&bytes), text);
        }
    }

    #[test]
    fn base64url_decode_never_panics(text in any::<String>()) {
        if let Some(bytes) = base64url::decode(&text) {
            prop_assert_eq!(base64url::encode(&bytes), text);
        }
    }

    #[test]
    fn envelopes_round_trip(
        user in user_id(),
        now in 0u64..YEAR_2100,
        delay in 0u64..60_000,
        agent in proptest::option::of(any::<String>()),
        data in session_data(),
    ) {
        let mut engine = engine();
        let session_data = data.as_deref().map(|d| SessionData::new(d).unwrap());
        let issued = engine.issue(&user, agent.as_deref(), session_data, now).unwrap();
        let cookie = pair(&issued.set_cookie);
        match engine.validate(Some(&cookie), now + delay) {
            Decision::Valid(session) => {
                prop_assert_eq!(&session.user_id, &user);
                prop_assert_eq!(&session, &issued.session);
                prop_assert_eq!(session.created_at, now);
                prop_assert_eq!(session.envelope_expires_at, now + 60_000);
                prop_assert_eq!(&session.data, &data);
            }
            other => return Err(TestCaseError::fail(format!("{other:?}"))),
        }
        // And after the envelope's lifetime the record takes over for the same session.
        let later = now + 60_000 + delay;
        match engine.validate(Some(&cookie), later) {
            Decision::NeedRecord(pending) => {
                prop_assert_eq!(pending.user_id(), user.as_str());
                let json = record_json(&issued);
                let refreshed = engine.resume(&pending, &only_record(&json), later).unwrap();
                prop_assert_eq!(&refreshed.session.user_id, &user);
                prop_assert_eq!(&refreshed.session.data, &data);
                prop_assert_eq!(&refreshed.session.handle, &issued.session.handle);
                // A refresh writes at most the last-seen key.
                for put in &refreshed.effects.puts {
                    prop_assert!(put.key.starts_with("t:"), "{}", put.key);
                }
                prop_assert!(refreshed.effects.deletes.is_empty());
                let renewed = pair(&refreshed.set_cookie.unwrap());
                let session = match engine.validate(Some(&renewed), later) {
                    Decision::Valid(session) => session,
                    other => return Err(TestCaseError::fail(format!("{other:?}"))),
                };
                prop_assert_eq!(session.data, data);
            }
            other => return Err(TestCaseError::fail(format!("{other:?}"))),
        }
    }

    #[test]
    fn no_stored_value_but_the_record_resumes_a_session(
        stored in prop_oneof![
            any::<String>(),
            "\\{\"v\":[0-9],\"[a-z_]{1,12}\":[0-9a-z\"]{0,8}\\}",
        ],
        cutoff in proptest::option::of(any::<String>()),
    ) {
        let mut engine = engine();
        let (_, cookie) = login(&engine, "alice", T0);
        let now = T0 + 61_000;
        let pending = engine.authenticate(Some(&cookie), now).unwrap();
        let got = engine.resume(
            &pending,
            &Fetched::new([Some(stored.as_str()), None, cutoff.as_deref(), None]),
            now,
        );
        prop_assert!(got.is_err(), "{stored:?} resumed the session");
    }

    #[test]
    fn any_value_at_the_lineage_key_ends_the_session(
        stored in prop_oneof![
            any::<String>(),
            "\\{\"v\":[0-9],\"[a-z_]{1,12}\":[0-9a-z\"]{0,8}\\}",
            Just(r#"{"v":2,"ended":"revoked","at":1}"#.to_owned()),
            Just(r#"{"v":2,"ended":"rotated","at":1}"#.to_owned()),
        ],
    ) {
        // Only tombstones are ever written at l:<lineage>; whatever is there, the login is over
        // (or the store is corrupt), even with the live record beside it.
        let mut engine = engine();
        let (issued, cookie) = login(&engine, "alice", T0);
        let json = record_json(&issued);
        let now = T0 + 61_000;
        let pending = engine.authenticate(Some(&cookie), now).unwrap();
        let got = engine.resume(
            &pending,
            &Fetched::new([Some(json.as_str()), Some(stored.as_str()), None, None]),
            now,
        );
        prop_assert!(got.is_err(), "{stored:?} at l: resumed the session");
    }

    #[test]
    fn unreadable_cutoffs_fail_closed_and_keep_the_cookie(
        text in any::<String>(),
        global in any::<bool>(),
    ) {
        let mut engine = engine();
        let (issued, cookie) = login(&engine, "alice", T0);
        let json = record_json(&issued);
        let now = T0 + 61_000;
        let pending = engine.authenticate(Some(&cookie), now).unwrap();
        let values = if global {
            [Some(json.as_str()), None, None, Some(text.as_str())]
        } else {
            [Some(json.as_str()), None, Some(text.as_str()), None]
        };
        // Arbitrary text is never a v2 cutoff.
        let got = engine.resume(&pending, &Fetched::new(values), now);
        prop_assert_eq!(got.as_ref().err(), Some(&RejectReason::CorruptCutoff));
        prop_assert!(!RejectReason::CorruptCutoff.clears_cookie());
    }

    #[test]
    fn any_substitution_is_refused(at in any::<Index>(), with in any::<char>()) {
        let (engine, v) = fixture();
        let mut chars: Vec<char> = v.chars().collect();
        let i = at.index(chars.len());
        prop_assume!(chars[i] != with);
        chars[i] = with;
        let mutated: String = chars.into_iter().collect();
        refused(&engine, &header(&engine, &mutated), T0 + 1)?;
        refused(&engine, &header(&engine, &mutated), T0 + 120_000)?;
    }

    #[test]
    fn any_alphabet_substitution_is_refused(at in any::<Index>(), with in "[A-Za-z0-9_-]") {
        let (engine, v) = fixture();
        let i = at.index(v.len());
        prop_assume!(v[i..i + 1] != with);
        let mutated = format!("{}{}{}", &v[..i], with, &v[i + 1..]);
        refused(&engine, &header(&engine, &mutated), T0 + 1)?;
        refused(&engine, &header(&engine, &mutated), T0 + 120_000)?;
    }

    #[test]
    fn any_change_of_the_decoded_bytes_is_refused(at in any::<Index>(), xor in 1u8..=255) {
        let (engine, v) = fixture();
        let mut bytes = raw(&v);
        let i = at.index(bytes.len());
        bytes[i] ^= xor;
        refused(&engine, &header(&engine, &base64url::encode(&bytes)), T0 + 1)?;
        refused(&engine, &header(&engine, &base64url::encode(&bytes)), T0 + 120_000)?;
    }

    #[test]
    fn any_insertion_inside_the_value_is_refused(at in any::<Index>(), text in ".{1,8}") {
        let (engine, v) = fixture();
        // Strictly inside the value: leading and trailing blanks are legitimately trimmed.
        let i = 1 + at.index(v.len() - 1);
        let mutated = format!("{}{}{}", &v[..i], text, &v[i..]);
        refused(&engine, &header(&engine, &mutated), T0 + 1)?;
    }

    #[test]
    fn any_deletion_is_refused(at in any::<Index>(), len in 1usize..16) {
        let (engine, v) = fixture();
        let i = at.index(v.len());
        let end = (i + len).min(v.len());
        let mutated = format!("{}{}", &v[..i], &v[end..]);
        refused(&engine, &header(&engine, &mutated), T0 + 1)?;
    }

    #[test]
    fn arbitrary_headers_are_never_accepted(h in any::<String>()) {
        let engine = engine();
        refused(&engine, &h, T0)?;
    }

    #[test]
    fn arbitrary_cookie_syntax_is_never_accepted(h in "([ \t;=,\"]|__Host-session|[A-Za-z0-9_-]{1,8}){0,40}") {
        let engine = engine();
        refused(&engine, &h, T0)?;
    }

    #[test]
    fn arbitrary_base64url_values_are_never_accepted(v in "[A-Za-z0-9_-]{0,400}") {
        let engine = engine();
        refused(&engine, &header(&engine, &v), T0)?;
    }

    #[test]
    fn well_formed_forgeries_are_bad_signatures(
        // Session id, lineage, generation and the five times.
        body in proptest::collection::vec(any::<u8>(), 32 + 16 + 4 + 8 * 5),
        user in "[a-z]{1,20}",
        data in prop_oneof![Just(String::new()), "\\{[a-z\":,0-9]{0,60}\\}"],
        tag in proptest::collection::vec(any::<u8>(), TAG_LEN),
    ) {
        // Right version, right key id, right lengths; random claims and tag.
        let engine = engine();
        let mut bytes = vec![2u8, 2, b'k', b'1'];
        bytes.extend_from_slice(&body);
        bytes.push(user.len() as u8);
        bytes.extend_from_slice(user.as_bytes());
        bytes.extend_from_slice(&(data.len() as u16).to_be_bytes());
        bytes.extend_from_slice(data.as_bytes());
        bytes.extend_from_slice(&tag);
        let h = header(&engine, &base64url::encode(&bytes));
        prop_assert_eq!(
            engine.validate(Some(&h), T0),
            Decision::Reject(RejectReason::BadSignature)
        );
    }
}
