//! Known-answer tests: RFC 4231 HMAC-SHA256 through the crate's own signing path, the documented
//! key derivation, envelope layout and store values (protocol v2), and session ID generation.
//! Project Wycheproof's HMAC-SHA256 vectors run in tests/wycheproof.rs.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

mod common;

use std::collections::HashSet;

use common::*;
use edge_session::envelope::{self, Claims};
use edge_session::{
    base64url, lineage_prefix, touch_prefix, user_cutoff_key, user_index_prefix, Cutoff, Ended,
    IndexEntry, Lineage, Record, RecordState, SessionId, Signer, Tombstone, Touch, Value,
    GLOBAL_CUTOFF_KEY, HANDLE_LEN, LINEAGE_LEN, STORE_VERSION, TAG_LEN,
};

struct Rfc4231 {
    case: u32,
    key: Vec<u8>,
    data: Vec<u8>,
    /// The expected HMAC-SHA-256 output, or its first 128 bits for test case 5.
    mac: &'static str,
}

fn rfc4231_cases() -> Vec<Rfc4231> {
    vec![
        Rfc4231 {
            case: 1,
            key: vec![0x0b; 20],
            data: b"Hi There".to_vec(),
            mac: "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7",
        },
        Rfc4231 {
            case: 2,
            key: b"Jefe".to_vec(),
            data: b"what do ya want for nothing?".to_vec(),
            mac: "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843",
        },
        Rfc4231 {
            case: 3,
            key: vec![0xaa; 20],
            data: vec![0xdd; 50],
            mac: "773ea91e36800e46854db8ebd09181a72959098b3ef8c122d9635514ced565fe",
        },
        Rfc4231 {
            case: 4,
            key: hex("0102030405060708090a0b0c0d0e0f10111213141516171819"),
            data: vec![0xcd; 50],
            mac: "82558a389a443c0ea4cc819899f2083a85f0faa3e578f8077a2e3ff46729665b",
        },
        Rfc4231 {
            case: 5,
            key: vec![0x0c; 20],
            data: b"Test With Truncation".to_vec(),
            // Truncated to 128 bits in the RFC.
            mac: "a3b6167473100ee06e0c796c2955552b",
        },
        Rfc4231 {
            case: 6,
            key: vec![0xaa; 131],
            data: b"Test Using Larger Than Block-Size Key - Hash Key First".to_vec(),
            mac: "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54",
        },
        Rfc4231 {
            case: 7,
            key: vec![0xaa; 131],
            data: b"This is a test using a larger than block-size key and a larger than block-size data. The key needs to be hashed before being used by the HMAC algorithm.".to_vec(),
            mac: "9b09ffa71b942fcb27635fbcd5b0e944bfdc63644f0713938a7f51535c3a35e2",
        },
    ]
}

#[test]
fn rfc4231_hmac_sha256_vectors_sign() {
    for case in rfc4231_cases() {
        let expected = hex(case.mac);
        let tag = Signer::new(&case.key).sign(&[&case.data]);
        assert_eq!(tag.len(), TAG_LEN);
        // Case 5 gives only the first 128 bits; the others the full 256.
        assert_eq!(
            &tag[..expected.len()],
            expected.as_slice(),
            "RFC 4231 test case {}",
            case.case
        );
    }
}

#[test]
fn rfc4231_hmac_sha256_vectors_verify() {
    for case in rfc4231_cases() {
        let signer = Signer::new(&case.key);
        let expected = hex(case.mac);
        let tag = signer.sign(&[&case.data]);
        assert!(signer.verify(&[&case.data], &tag), "case {}", case.case);
        if expected.len() == TAG_LEN {
            assert!(
                signer.verify(&[&case.data], &expected),
                "case {}",
                case.case
            );
        } else {
            // verify() checks full tags only: a truncated tag, even a correct one, is refused.
            assert!(
                !signer.verify(&[&case.data], &expected),
                "case {}",
                case.case
            );
        }
        // Every single-bit change of the tag is refused.
        for byte in 0..TAG_LEN {
            for bit in 0..8 {
                let mut bad = tag;
                bad[byte] ^= 1 << bit;
                assert!(
                    !signer.verify(&[&case.data], &bad),
                    "case {} byte {byte} bit {bit}",
                    case.case
                );
            }
        }
        // A different message is refused.
        let mut other = case.data.clone();
        other.push(0);
        assert!(!signer.verify(&[&other], &tag), "case {}", case.case);
    }
}

#[test]
fn rfc4231_vectors_split_into_parts() {
    // sign() MACs the concatenation of its parts: any split gives the same tag.
    for case in rfc4231_cases() {
        let signer = Signer::new(&case.key);
        let whole = signer.sign(&[&case.data]);
        for cut in 0..=case.data.len() {
            let (a, b) = case.data.split_at(cut);
            assert_eq!(signer.sign(&[a, b]), whole, "case {} cut {cut}", case.case);
            assert!(signer.verify(&[a, &[], b], &whole));
        }
        assert_eq!(signer.sign(&[]), Signer::new(&case.key).sign(&[b""]));
    }
}

/// The key derivation and envelope layout documented in `src/keys.rs` and `src/envelope.rs`,
/// pinned to envelopes computed independently (Python `hmac`/`struct`/`base64`) from the
/// documented layout. A change to the wire format must break this test.
#[test]
fn envelope_known_answer() {
    /// base64url of the 38 bytes `kat-secret-0123456789abcdef-0123456789`.
    const SECRET: &str = "a2F0LXNlY3JldC0wMTIzNDU2Nzg5YWJjZGVmLTAxMjM0NTY3ODk";
    const SECRET_BYTES: &[u8] = b"kat-secret-0123456789abcdef-0123456789";
    const SUBKEY: &str = "84f51df93ef2fd06b159b9c1bcbc412af480d4e4ff3d0d5d11db64e3a1c4bec5";
    const ENVELOPE: &str = "AgJrMQABAgMEBQYHCAkKCwwNDg8QERITFBUWFxgZGhscHR4foKGio6SlpqeoqaqrrK2urwAAAAMAAAGLz-VoAAAAAYvP5WvoAAABi8_mVkgAAAGL0ADjKAAAAYvSeJYAEWFsaWNlQGV4YW1wbGUuY29tAABhKbLlojiY8-AU6v5GndMYO2eoDhVF5wGRBXE1fL8plw";
    const ENVELOPE_WITH_DATA: &str = "AgJrMQABAgMEBQYHCAkKCwwNDg8QERITFBUWFxgZGhscHR4foKGio6SlpqeoqaqrrK2urwAAAAMAAAGLz-VoAAAAAYvP5WvoAAABi8_mVkgAAAGL0ADjKAAAAYvSeJYAEWFsaWNlQGV4YW1wbGUuY29tABB7InJvbGUiOiJhZG1pbiJ9aHQ0Ek9_vN61SpW_uhy_HQBufSgPrQ6EPZEiyACnM6I";
    /// The lineage bytes 0xa0..=0xaf as base64url, and its KV key.
    const LINEAGE: &str = "oKGio6SlpqeoqaqrrK2urw";
    const HANDLE: &str = "Yw3NKWbEM2aRElRIu7JbT_QSpJxzLbLIq8G4WBvXEN0";
    const USER_HASH: &str = "_42YGfwOEr8NJIkuRZh-JJoo3Og2qFytYOKOqqjG2XY";

    // The configured secret is the base64url text; the key is the bytes it decodes to.
    assert_eq!(base64url::decode(SECRET).as_deref(), Some(SECRET_BYTES));
    // derive(purpose) = HMAC-SHA256(secret, "edge-session/v1/" || purpose); the envelope subkey
    // binds the cookie name: purpose "envelope/<cookie name>".
    let subkey = Signer::new(SECRET_BYTES).sign(&[b"edge-session/v1/envelope/__Host-session"]);
    assert_eq!(subkey.to_vec(), hex(SUBKEY));
    let derived = Signer::new(SECRET_BYTES).derive("envelope/__Host-session");
    assert_eq!(derived.sign(&[b"x"]), Signer::new(&subkey).sign(&[b"x"]));

    let mut id = [0u8; 32];
    for (i, b) in id.iter_mut().enumerate() {
        *b = i as u8;
    }
    let mut lineage = [0u8; 16];
    for (i, b) in lineage.iter_mut().enumerate() {
        *b = 0xa0 + i as u8;
    }
    let mut claims = Claims {
        session_id: SessionId::from_bytes(id),
        lineage: Lineage::from_bytes(lineage),
        user_id: "alice@example.com".to_owned(),
        generation: 3,
        created_at: T0,
        issued_at: T0 + 1_000,
        expires_at: T0 + 61_000,
        idle_deadline: T0 + 1_801_000,
        absolute_deadline: T0 + 43_200_000,
        data: None,
    };
    let ring = ring(&format!("k1:{SECRET}"));
    let sealed = envelope::seal(&ring, "__Host-session", &claims);
    assert_eq!(sealed, ENVELOPE);
    // 2 + 2 + 32 + 16 + 4 + 40 + 1 + 17 + 2 + 32 = 148 bytes.
    assert_eq!(sealed.len(), 198);
    assert_eq!(raw(&sealed).len(), 148);
    let opened = envelope::open(&ring, "__Host-session", ENVELOPE).expect("opens");
    assert_eq!(opened.key_id, "k1");
    assert_eq!(opened.claims, claims);

    claims.data = Some(r#"{"role":"admin"}"#.to_owned());
    let sealed = envelope::seal(&ring, "__Host-session", &claims);
    assert_eq!(sealed, ENVELOPE_WITH_DATA);
    let opened = envelope::open(&ring, "__Host-session", ENVELOPE_WITH_DATA).expect("opens");
    assert_eq!(opened.claims, claims);

    // Store keys.
    let handle = claims.session_id.handle();
    assert_eq!(handle.as_str(), HANDLE);
    assert_eq!(handle.storage_key(), format!("s:{HANDLE}"));
    assert_eq!(
        handle.index_key("alice@example.com"),
        format!("u:{USER_HASH}:{HANDLE}")
    );
    assert_eq!(
        handle.touch_key("alice@example.com"),
        format!("t:{USER_HASH}:{HANDLE}")
    );
    assert_eq!(
        user_index_prefix("alice@example.com"),
        format!("u:{USER_HASH}:")
    );
    assert_eq!(touch_prefix("alice@example.com"), format!("t:{USER_HASH}:"));
    assert_eq!(
        user_cutoff_key("alice@example.com"),
        format!("c:{USER_HASH}")
    );
    assert_eq!(GLOBAL_CUTOFF_KEY, "r:issued_before");
    assert_eq!(claims.lineage.text(), LINEAGE);
    // The login's tombstone lives under the user: `l:<user hash>:<lineage>`, so listing the
    // user's `l:` prefix names the logins that have ended.
    assert_eq!(
        lineage_prefix("alice@example.com"),
        format!("l:{USER_HASH}:")
    );
    assert_eq!(
        claims.lineage.storage_key("alice@example.com"),
        format!("l:{USER_HASH}:{LINEAGE}")
    );
    assert_eq!(
        claims.lineage.storage_key("alice@example.com").len(),
        2 + 43 + 1 + 22
    );
    assert_eq!(LINEAGE.len(), 22);
    assert_eq!(
        base64url::decode(LINEAGE).map(|b| b.len()),
        Some(LINEAGE_LEN)
    );
    // Another user's key for the same lineage bytes differs (the prefix is the user's hash).
    assert_ne!(
        claims.lineage.storage_key("bob@example.com"),
        claims.lineage.storage_key("alice@example.com")
    );
    assert_eq!(Lineage::parse(LINEAGE), Some(claims.lineage));

    // The tag is over the body, under the subkey derived for this cookie name.
    for text in [ENVELOPE, ENVELOPE_WITH_DATA] {
        let bytes = raw(text);
        let (body, tag) = bytes.split_at(bytes.len() - TAG_LEN);
        assert!(Signer::new(&subkey).verify(&[body], tag));
        // A ring bound to the cookie name (as the engine binds it) opens it the same way.
        let bound = ring.bind("__Host-session");
        assert!(envelope::open(&bound, "__Host-session", text).is_ok());
        // ...and under another cookie name the same bytes do not verify.
        assert_eq!(
            envelope::open(&ring, "__Host-other", text),
            Err(edge_session::RejectReason::BadSignature)
        );
    }
}

/// The stored values' JSON, pinned: hosts and other implementations read these.
#[test]
fn store_values_known_answer() {
    let record = Record {
        v: STORE_VERSION,
        user_id: "alice@example.com".to_owned(),
        created_at: T0,
        absolute_deadline: T0 + 43_200_000,
        idle_timeout_ms: 1_800_000,
        generation: 3,
        lineage: Lineage::from_bytes([0x11; 16]),
        data: Some(r#"{"role":"admin"}"#.to_owned()),
        user_agent: Some("Firefox".to_owned()),
    };
    let json = Value::Record(record.clone()).to_json();
    assert_eq!(
        json,
        r#"{"v":2,"user_id":"alice@example.com","created_at":1700000000000,"absolute_deadline":1700043200000,"idle_timeout_ms":1800000,"generation":3,"lineage":"EREREREREREREREREREREQ","data":"{\"role\":\"admin\"}","user_agent":"Firefox"}"#
    );
    assert_eq!(
        RecordState::decode(json.as_str()),
        Ok(RecordState::Live(record))
    );
    let bare = Record {
        v: STORE_VERSION,
        user_id: "a".to_owned(),
        created_at: 1,
        absolute_deadline: 2,
        idle_timeout_ms: 3,
        generation: 0,
        lineage: Lineage::from_bytes([0; 16]),
        data: None,
        user_agent: None,
    };
    assert_eq!(
        Value::Record(bare).to_json(),
        r#"{"v":2,"user_id":"a","created_at":1,"absolute_deadline":2,"idle_timeout_ms":3,"generation":0,"lineage":"AAAAAAAAAAAAAAAAAAAAAA"}"#
    );
    let values = [
        (
            Value::Tombstone(Tombstone {
                v: 2,
                ended: Ended::Revoked,
                at: 5,
            }),
            r#"{"v":2,"ended":"revoked","at":5}"#,
        ),
        (
            Value::Tombstone(Tombstone {
                v: 2,
                ended: Ended::Rotated,
                at: 6,
            }),
            r#"{"v":2,"ended":"rotated","at":6}"#,
        ),
        (
            Value::Cutoff(Cutoff {
                v: 2,
                before: 7,
                at: 8,
                keep: None,
            }),
            r#"{"v":2,"before":7,"at":8}"#,
        ),
        (
            Value::Touch(Touch {
                v: 2,
                last_seen_at: 9,
            }),
            r#"{"v":2,"last_seen_at":9}"#,
        ),
        (
            Value::Index(IndexEntry {
                v: 2,
                lineage: Lineage::from_bytes([0x22; 16]),
                created_at: 10,
                absolute_deadline: 11,
                user_agent: "UA".to_owned(),
            }),
            // [0x22; 16] in base64url: 0x22 0x22 0x22 -> 001000 100010 001000 100010 = "IiIi",
            // five times, then 0x22 alone -> 001000 10(0000) = "Ig".
            r#"{"v":2,"lineage":"IiIiIiIiIiIiIiIiIiIiIg","created_at":10,"absolute_deadline":11,"user_agent":"UA"}"#,
        ),
    ];
    for (value, json) in values {
        assert_eq!(value.to_json(), json);
    }
    // The index entry reads back (it is also the `u:` key's metadata, read by listings)...
    let entry = IndexEntry {
        v: 2,
        lineage: Lineage::from_bytes([0x22; 16]),
        created_at: 10,
        absolute_deadline: 11,
        user_agent: "UA".to_owned(),
    };
    assert_eq!(
        IndexEntry::decode(
            r#"{"v":2,"lineage":"IiIiIiIiIiIiIiIiIiIiIg","created_at":10,"absolute_deadline":11,"user_agent":"UA"}"#
        ),
        Some(entry)
    );
    // ...but not without its lineage, nor with one that is not 16 bytes of canonical base64url.
    for bad in [
        r#"{"v":2,"created_at":10,"absolute_deadline":11,"user_agent":"UA"}"#,
        r#"{"v":2,"lineage":"IiIiIiIiIiIiIiIiIiIi","created_at":10,"absolute_deadline":11}"#,
        r#"{"v":2,"lineage":"IiIiIiIiIiIiIiIiIiIiIh","created_at":10,"absolute_deadline":11}"#,
        r#"{"v":2,"lineage":7,"created_at":10,"absolute_deadline":11}"#,
    ] {
        assert_eq!(IndexEntry::decode(bad), None, "{bad}");
    }
}

#[test]
fn issued_envelope_layout_matches_the_documentation() {
    let engine = engine();
    let (issued, _) = login(&engine, "alice", T0);
    let bytes = raw(&value(&issued.set_cookie));
    assert_eq!(bytes[0], envelope::VERSION);
    assert_eq!(envelope::VERSION, 2);
    assert_eq!(bytes[1], 2);
    assert_eq!(&bytes[2..4], b"k1");
    let id: [u8; 32] = bytes[4..36].try_into().unwrap();
    let id = SessionId::from_bytes(id);
    assert_eq!(id.handle(), issued.session.handle);
    // The lineage: the record's, drawn at login.
    assert_eq!(&bytes[36..52], record_of(&issued).lineage.as_bytes());
    assert_eq!(&bytes[52..56], &0u32.to_be_bytes());
    let times: Vec<u64> = bytes[56..96]
        .chunks(8)
        .map(|c| u64::from_be_bytes(c.try_into().unwrap()))
        .collect();
    assert_eq!(
        times,
        [T0, T0, T0 + 60_000, T0 + 1_800_000, T0 + 43_200_000]
    );
    assert_eq!(bytes[96], 5);
    assert_eq!(&bytes[97..102], b"alice");
    assert_eq!(&bytes[102..104], &[0, 0], "no data");
    assert_eq!(bytes.len(), 104 + TAG_LEN);

    // With data: its length and its JSON text, signed but readable.
    let (issued_data, _) = login_with(&engine, "alice", Some(data(r#"{"a":1}"#)), T0);
    let bytes = raw(&value(&issued_data.set_cookie));
    assert_eq!(&bytes[102..104], &7u16.to_be_bytes());
    assert_eq!(&bytes[104..111], br#"{"a":1}"#);
    assert_eq!(bytes.len(), 111 + TAG_LEN);
    // Each login draws its own lineage.
    assert_ne!(
        &bytes[36..52],
        raw(&value(&issued.set_cookie))[36..52].as_ref()
    );

    // The store never sees the session ID, only its hash.
    let secret = id.expose_base64url();
    for put in &issued.effects.puts {
        assert!(!put.key.contains(&secret), "{put:?}");
        assert!(!put.value.to_json().contains(&secret), "{put:?}");
    }
    assert!(!format!("{issued:?}").contains(&secret));
}

#[test]
fn hundred_thousand_session_ids_are_distinct_32_byte_values() {
    const N: usize = 100_000;
    let mut seen = HashSet::with_capacity(N);
    for _ in 0..N {
        let id = SessionId::generate().expect("CSPRNG");
        let text = id.expose_base64url();
        assert_eq!(text.len(), 43);
        let decoded = base64url::decode(&text).expect("canonical base64url");
        assert_eq!(decoded.len(), 32);
        assert_eq!(decoded.as_slice(), id.as_bytes());
        assert_eq!(id.handle().as_str().len(), HANDLE_LEN);
        assert!(seen.insert(text), "duplicate session id");
    }
    assert_eq!(seen.len(), N);
}

#[test]
fn base64url_rfc4648_vectors() {
    let cases: [(&[u8], &str); 8] = [
        (b"", ""),
        (b"f", "Zg"),
        (b"fo", "Zm8"),
        (b"foo", "Zm9v"),
        (b"foob", "Zm9vYg"),
        (b"fooba", "Zm9vYmE"),
        (b"foobar", "Zm9vYmFy"),
        (&[0xfb, 0xff, 0xbf], "-_-_"),
    ];
    for (bytes, text) in cases {
        assert_eq!(base64url::encode(bytes), text);
        assert_eq!(base64url::decode(text).as_deref(), Some(bytes));
    }
    for bad in ["Zg==", "Zm8=", "Zh", "Z", "Zm9v ", "+/+/", "Zm9v\0"] {
        assert_eq!(base64url::decode(bad), None, "{bad:?}");
    }
}
