//! What the fuzz targets and the seed generator share: one fixed key ring (so seed envelopes stay
//! authentic), the engine built on it, and small checks.

use edge_session::envelope::{self, Claims};
use edge_session::{base64url, CookieConfig, Engine, KeyRing, Policy, Signer};

/// The fixed signing secret (32 bytes). Seeds are sealed with it; never a real key.
pub const SECRET: [u8; 32] = *b"edge-session fuzz key, not real!";
/// A second, previous key (rotation paths).
pub const OLD_SECRET: [u8; 32] = *b"edge-session old fuzz key (k0)..";
/// The default cookie name.
pub const COOKIE: &str = "__Host-session";
/// The clock the seeds were made at (unix ms).
pub const T0: u64 = 1_700_000_000_000;

/// `k1` (current) and `k0` (previous).
pub fn ring() -> KeyRing {
    KeyRing::new([("k1", SECRET.to_vec()), ("k0", OLD_SECRET.to_vec())]).unwrap_or_else(|e| {
        unreachable!("the fixed ring is valid: {e}");
    })
}

/// The ring with `k0` current (to re-seal what `k0` signed).
pub fn ring_k0_first() -> KeyRing {
    KeyRing::new([("k0", OLD_SECRET.to_vec()), ("k1", SECRET.to_vec())]).unwrap_or_else(|e| {
        unreachable!("the fixed ring is valid: {e}");
    })
}

/// The engine every target uses: the fixed ring, default policy and cookie.
pub fn engine() -> Engine {
    engine_with(Policy::default())
}

/// The engine with `policy`.
pub fn engine_with(policy: Policy) -> Engine {
    Engine::new(ring(), policy, CookieConfig::default()).unwrap_or_else(|e| {
        unreachable!("the fixed engine is valid: {e}");
    })
}

/// The envelope subkey of `secret` for `cookie_name`, derived as the envelope module documents:
/// HMAC-SHA256(secret, "edge-session/v1/envelope/" || name). Lets a target act as a key holder
/// and sign arbitrary envelope bodies.
pub fn envelope_signer(secret: &[u8], cookie_name: &str) -> Signer {
    Signer::new(secret).derive(&format!("envelope/{cookie_name}"))
}

/// Re-seals what `value` (an envelope `open` accepted under the fixed ring) claims and returns the
/// result: an accepted envelope must be exactly what `seal` produces for its claims.
pub fn reseal(key_id: &str, claims: &Claims) -> String {
    let ring = if key_id == "k0" {
        ring_k0_first()
    } else {
        ring()
    };
    envelope::seal(&ring, COOKIE, claims)
}

/// Replaces an envelope's tag with a correct one for its body under `secret` (the body is what
/// base64url-decodes before the last 32 bytes). `None` when `value` does not decode or is too
/// short to hold a tag.
pub fn resign(value: &str, secret: &[u8]) -> Option<String> {
    let raw = base64url::decode(value)?;
    let body = raw.get(..raw.len().checked_sub(32)?)?;
    let tag = envelope_signer(secret, COOKIE).sign(&[body]);
    let mut signed = body.to_vec();
    signed.extend_from_slice(&tag);
    Some(base64url::encode(&signed))
}
