//! The Cookie header parser, against a reference reading of the rules it documents, and the
//! engine's judgement of whole headers: a session is only ever accepted for a value that opens
//! under the ring (and is exactly what `seal` makes of its claims).
#![no_main]

use edge_session::envelope;
use edge_session::{find_cookie, Decision, RejectReason, MAX_COOKIE_HEADER_LEN};
use edge_session_fuzz::{engine, reseal, ring, COOKIE, T0};
use libfuzzer_sys::fuzz_target;

/// The documented rules, written out plainly: pairs split on `;`, each trimmed of spaces and
/// tabs, split at the first `=`; the name (trailing blanks ignored) must match exactly and appear
/// once; the value (leading blanks ignored) must be base64url characters; empty means absent.
fn reference<'h>(header: &'h str, name: &str) -> Result<Option<&'h str>, RejectReason> {
    if header.len() > MAX_COOKIE_HEADER_LEN {
        return Err(RejectReason::HeaderTooLarge);
    }
    let blank = |c: char| c == ' ' || c == '\t';
    let matches: Vec<&str> = header
        .split(';')
        .filter_map(|pair| {
            let pair = pair.trim_matches(blank);
            let eq = pair.find('=')?;
            (pair[..eq].trim_end_matches(blank) == name)
                .then(|| pair[eq + 1..].trim_start_matches(blank))
        })
        .collect();
    match matches.as_slice() {
        [] => Ok(None),
        [_, _, ..] => Err(RejectReason::DuplicateCookie),
        [""] => Ok(None),
        [v] if v
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_') =>
        {
            Ok(Some(v))
        }
        [_] => Err(RejectReason::Malformed),
    }
}

fuzz_target!(|data: &[u8]| {
    let header = String::from_utf8_lossy(data);
    for name in [COOKIE, "sid", "a"] {
        let found = find_cookie(&header, name);
        assert_eq!(found, reference(&header, name), "cookie {name:?}");
        if let Ok(Some(v)) = found {
            // A slice of the header itself.
            let start = v.as_ptr() as usize - header.as_ptr() as usize;
            assert!(start + v.len() <= header.len());
        }
    }
    let engine = engine();
    let value = find_cookie(&header, COOKIE);
    for now in [0, T0, T0 + 59_000, T0 + 3_600_000, u64::MAX] {
        match engine.validate(Some(&header), now) {
            Decision::Valid(_) | Decision::NeedRecord(_) => {
                let Ok(Some(value)) = value else {
                    panic!("a session without a cookie value: {value:?}");
                };
                let opened =
                    envelope::open(&ring(), COOKIE, value).expect("an accepted value opens");
                assert_eq!(reseal(&opened.key_id, &opened.claims), value);
            }
            Decision::Reject(reason) => match value {
                Err(expected) => assert_eq!(reason, expected),
                Ok(None) => assert_eq!(reason, RejectReason::Missing),
                Ok(Some(_)) => {}
            },
        }
    }
});
