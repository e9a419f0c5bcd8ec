//! Envelope decode + verify. Each input is tried twice:
//!
//! 1. as cookie text, under the fixed ring: whatever opens must be exactly what `seal` makes of
//!    its claims (one accepted spelling, nothing forged);
//! 2. as a key holder would send it: the body (the decoded bytes before the last 32) signed
//!    correctly with `k1`, so the parsing after the tag check sees arbitrary bodies too. What
//!    opens must again re-seal to the same text, and the engine must judge it without panicking
//!    and never past the deadlines it carries.
#![no_main]

use edge_session::envelope::{self, MAX_ENVELOPE_LEN};
use edge_session::{Decision, RejectReason};
use edge_session_fuzz::{engine, reseal, resign, ring, COOKIE, SECRET};
use libfuzzer_sys::fuzz_target;

fn check(value: &str) {
    let ring = ring();
    match envelope::open(&ring, COOKIE, value) {
        Ok(verified) => {
            assert!(!value.is_empty() && value.len() <= MAX_ENVELOPE_LEN);
            assert_eq!(
                reseal(&verified.key_id, &verified.claims),
                value,
                "an accepted envelope is exactly what seal makes of its claims"
            );
            let claims = &verified.claims;
            // Judge it with the engine at a few times around its own.
            let engine = engine();
            let header = format!("{COOKIE}={value}");
            for now in [
                claims.issued_at,
                claims.expires_at.saturating_sub(1),
                claims.idle_deadline,
            ] {
                match engine.validate(Some(&header), now) {
                    Decision::Valid(s) => {
                        assert_eq!(verified.key_id, "k1", "only the current key vouches alone");
                        assert!(now < s.envelope_expires_at);
                        assert!(now < s.idle_expires_at && now < s.absolute_expires_at);
                        assert_eq!(s.user_id, claims.user_id);
                        assert_eq!(s.absolute_expires_at, claims.absolute_deadline);
                        assert_eq!(s.data, claims.data);
                    }
                    Decision::NeedRecord(p) => {
                        assert_eq!(p.user_id(), claims.user_id);
                        assert!(now < claims.absolute_deadline && now < claims.idle_deadline);
                    }
                    Decision::Reject(reason) => assert!(
                        matches!(
                            reason,
                            RejectReason::ExpiredAbsolute
                                | RejectReason::ExpiredIdle
                                | RejectReason::IssuedInFuture
                        ),
                        "an authentic envelope refused for {reason:?}"
                    ),
                }
            }
        }
        Err(reason) => assert!(
            matches!(
                reason,
                RejectReason::Malformed
                    | RejectReason::BadVersion
                    | RejectReason::UnknownKey
                    | RejectReason::BadSignature
            ),
            "open refused with {reason:?}"
        ),
    }
}

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    check(&text);
    if let Some(signed) = resign(&text, &SECRET) {
        check(&signed);
    }
});
