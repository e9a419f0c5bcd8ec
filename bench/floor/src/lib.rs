//! The floor for edge-session's fast path: decode a base64url envelope, split off its 32-byte
//! tag and verify HMAC-SHA256 over the rest with a keyed state cloned per call (what
//! `edge_session::Signer` does), and nothing else: no cookie header parsing, no claims, no
//! allocation.
//!
//! Built for wasm32-unknown-unknown without wasm-bindgen, it exports a C ABI: `buf()` (a 4 KiB
//! scratch buffer the host writes into), `set_key(len)` (the envelope subkey, read from the
//! buffer) and `verify(ptr, len) -> u32` (1 when the tag verifies).

use hmac::{Hmac, Mac};
use sha2::Sha256;

/// Longest envelope this floor decodes (edge-session's own limit is about 1.6 KB of text).
const MAX_RAW: usize = 2048;
const TAG_LEN: usize = 32;

/// A keyed HMAC-SHA256 state, cloned for each verify, and a reused decode buffer.
#[derive(Clone)]
pub struct Floor {
    mac: Hmac<Sha256>,
    raw: [u8; MAX_RAW],
}

impl Floor {
    /// Keys the HMAC state once (`subkey` is edge-session's envelope subkey for the cookie name).
    pub fn new(subkey: &[u8]) -> Self {
        let mac = match <Hmac<Sha256> as Mac>::new_from_slice(subkey) {
            Ok(mac) => mac,
            Err(_) => <Hmac<Sha256> as Mac>::new(&Default::default()),
        };
        Self {
            mac,
            raw: [0; MAX_RAW],
        }
    }

    /// True when `envelope` (base64url text, no padding) ends in a valid tag over the rest.
    pub fn verify(&mut self, envelope: &[u8]) -> bool {
        let Some(len) = decode(envelope, &mut self.raw) else {
            return false;
        };
        let signed_len = len.checked_sub(TAG_LEN);
        let Some((signed, tag)) = signed_len.and_then(|n| self.raw.get(..len)?.split_at_checked(n))
        else {
            return false;
        };
        let mut mac = self.mac.clone();
        mac.update(signed);
        mac.verify_slice(tag).is_ok()
    }
}

/// edge-session's envelope subkey for `cookie_name`: HMAC-SHA256(secret,
/// "edge-session/v1/envelope/" || cookie_name).
pub fn subkey(secret: &[u8], cookie_name: &str) -> [u8; 32] {
    let mut mac = Floor::new(secret).mac;
    mac.update(b"edge-session/v1/envelope/");
    mac.update(cookie_name.as_bytes());
    mac.finalize().into_bytes().into()
}

fn sextet(c: u8) -> Option<u32> {
    Some(u32::from(match c {
        b'A'..=b'Z' => c - b'A',
        b'a'..=b'z' => c - b'a' + 26,
        b'0'..=b'9' => c - b'0' + 52,
        b'-' => 62,
        b'_' => 63,
        _ => return None,
    }))
}

/// Unpadded base64url into `out`; the number of bytes written.
fn decode(text: &[u8], out: &mut [u8]) -> Option<usize> {
    let mut n = 0;
    for chunk in text.chunks(4) {
        let mut acc = 0u32;
        for &c in chunk {
            acc = acc << 6 | sextet(c)?;
        }
        let bytes = match chunk.len() {
            4 => 3,
            3 => 2,
            2 => 1,
            _ => return None,
        };
        acc <<= 6 * (4 - chunk.len() as u32);
        let be = acc.to_be_bytes();
        out.get_mut(n..n + bytes)?
            .copy_from_slice(be.get(1..1 + bytes)?);
        n += bytes;
    }
    Some(n)
}

#[cfg(target_arch = "wasm32")]
mod ffi {
    use super::Floor;

    const BUF_LEN: usize = 4096;
    static mut BUF: [u8; BUF_LEN] = [0; BUF_LEN];
    // Single-threaded wasm: the host calls one export at a time.
    static mut FLOOR: Option<Floor> = None;

    /// The scratch buffer the host writes keys and envelopes into.
    #[no_mangle]
    pub extern "C" fn buf() -> *mut u8 {
        core::ptr::addr_of_mut!(BUF).cast()
    }

    /// Keys the floor with the first `len` bytes of the buffer.
    #[no_mangle]
    pub extern "C" fn set_key(len: usize) {
        // SAFETY: single-threaded wasm; the host wrote `len` bytes at `buf()`.
        unsafe {
            let key = core::slice::from_raw_parts(buf(), len.min(BUF_LEN));
            *core::ptr::addr_of_mut!(FLOOR) = Some(Floor::new(key));
        }
    }

    /// 1 when the base64url envelope at `ptr..ptr+len` verifies, else 0.
    #[no_mangle]
    pub extern "C" fn verify(ptr: *const u8, len: usize) -> u32 {
        // SAFETY: single-threaded wasm; the host wrote `len` bytes at `ptr` in this memory.
        unsafe {
            let Some(floor) = (*core::ptr::addr_of_mut!(FLOOR)).as_mut() else {
                return 0;
            };
            u32::from(floor.verify(core::slice::from_raw_parts(ptr, len)))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_base64url() {
        let mut out = [0u8; 8];
        assert_eq!(decode(b"aGVsbG8", &mut out), Some(5));
        assert_eq!(&out[..5], b"hello");
        assert_eq!(decode(b"a", &mut out), None);
        assert_eq!(decode(b"a+==", &mut out), None);
    }

    #[test]
    fn verifies_only_the_right_tag() {
        let mut floor = Floor::new(b"subkey");
        let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(b"subkey").unwrap();
        mac.update(b"signed bytes");
        let mut raw = b"signed bytes".to_vec();
        raw.extend_from_slice(&mac.finalize().into_bytes());
        let text = b64(&raw);
        assert!(floor.verify(text.as_bytes()));
        assert!(!Floor::new(b"other").verify(text.as_bytes()));
        assert!(!floor.verify(b"c2hvcnQ"));
    }

    fn b64(raw: &[u8]) -> String {
        const A: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
        let mut s = String::new();
        for chunk in raw.chunks(3) {
            let mut b = [0u8; 3];
            b[..chunk.len()].copy_from_slice(chunk);
            let n = u32::from(b[0]) << 16 | u32::from(b[1]) << 8 | u32::from(b[2]);
            for i in 0..=chunk.len() {
                s.push(A[(n >> (18 - 6 * i) & 63) as usize] as char);
            }
        }
        s
    }
}
