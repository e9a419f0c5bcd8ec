//! The crate's base64url against the `base64` crate in strict no-padding mode (URL-safe alphabet,
//! padding refused, non-zero trailing bits refused): the same answer for every input text, the
//! same encoding for every byte string, and decode(encode(b)) == b.
#![no_main]

use base64::alphabet::URL_SAFE;
use base64::engine::general_purpose::{GeneralPurpose, GeneralPurposeConfig};
use base64::engine::DecodePaddingMode;
use base64::Engine as _;
use edge_session::base64url;
use libfuzzer_sys::fuzz_target;

const STRICT: GeneralPurpose = GeneralPurpose::new(
    &URL_SAFE,
    GeneralPurposeConfig::new()
        .with_encode_padding(false)
        .with_decode_padding_mode(DecodePaddingMode::RequireNone)
        .with_decode_allow_trailing_bits(false),
);

fuzz_target!(|data: &[u8]| {
    // As text (what cookies and secrets are).
    if let Ok(text) = core::str::from_utf8(data) {
        let ours = base64url::decode(text);
        let theirs = STRICT.decode(text).ok();
        assert_eq!(ours, theirs, "decode {text:?}");
        if let Some(bytes) = ours {
            assert_eq!(
                base64url::encode(&bytes),
                text,
                "one spelling per byte string"
            );
        }
    }
    // As bytes to encode.
    let encoded = base64url::encode(data);
    assert_eq!(encoded, STRICT.encode(data));
    assert_eq!(base64url::decode(&encoded).as_deref(), Some(data));
});
