//! Strict, canonical base64url without padding (RFC 4648 §5).
//!
//! Written here rather than taken from a crate because the envelope needs exactly one accepted
//! spelling per byte string: no padding, no whitespace, no non-zero trailing bits. A decoder that
//! tolerated any of those would let one envelope be sent under many cookie values.

use alloc::{string::String, vec, vec::Vec};

const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

/// Marks a byte that is not in the alphabet.
const INVALID: u8 = 0xFF;

// Const context: `get` is not available, and `i < 64` keeps both indexes in bounds.
#[allow(clippy::indexing_slicing)]
const fn decode_table() -> [u8; 256] {
    let mut table = [INVALID; 256];
    let mut i = 0;
    while i < 64 {
        table[ALPHABET[i] as usize] = i as u8;
        i += 1;
    }
    table
}

static DECODE: [u8; 256] = decode_table();

fn sextet(index: u32) -> u8 {
    ALPHABET
        .get((index & 0x3F) as usize)
        .copied()
        .unwrap_or(b'A')
}

/// How many characters `len` bytes encode to (no padding).
pub const fn encoded_len(len: usize) -> usize {
    (len / 3) * 4
        + match len % 3 {
            0 => 0,
            r => r + 1,
        }
}

/// Encodes bytes as base64url without padding.
pub fn encode(input: &[u8]) -> String {
    let mut out = vec![0; encoded_len(input.len())];
    let len = encode_into(input, &mut out);
    out.truncate(len);
    // Every byte written is from the (ASCII) alphabet.
    String::from_utf8(out).unwrap_or_default()
}

/// Encodes like [`encode`] into `out`, returning how many bytes were written (characters past
/// `out`'s end are dropped). No allocation.
///
/// Plain loops over `split_first_chunk` and four-byte stores rather than a closure per
/// character: every refresh encodes an envelope and several hashes here, and this shape stays
/// fast when compiled for size.
pub fn encode_into(input: &[u8], out: &mut [u8]) -> usize {
    let mut rest = input;
    let mut at = 0;
    while let Some((&[a, b, c], tail)) = rest.split_first_chunk::<3>() {
        let n = (u32::from(a) << 16) | (u32::from(b) << 8) | u32::from(c);
        let quad = [sextet(n >> 18), sextet(n >> 12), sextet(n >> 6), sextet(n)];
        match out.get_mut(at..).and_then(<[u8]>::first_chunk_mut::<4>) {
            Some(slot) => *slot = quad,
            None => return at + put_partial(out, at, &quad),
        }
        at += 4;
        rest = tail;
    }
    let (quad, len) = match *rest {
        [a] => {
            let n = u32::from(a) << 16;
            ([sextet(n >> 18), sextet(n >> 12), 0, 0], 2)
        }
        [a, b] => {
            let n = (u32::from(a) << 16) | (u32::from(b) << 8);
            ([sextet(n >> 18), sextet(n >> 12), sextet(n >> 6), 0], 3)
        }
        _ => return at,
    };
    at + put_partial(out, at, quad.get(..len).unwrap_or_default())
}

/// Writes as much of `chars` into `out` from `at` as fits; returns how many it wrote.
fn put_partial(out: &mut [u8], at: usize, chars: &[u8]) -> usize {
    let free = out.get_mut(at..).unwrap_or_default();
    let n = free.len().min(chars.len());
    for (slot, c) in free.iter_mut().zip(chars) {
        *slot = *c;
    }
    n
}

/// Decodes canonical unpadded base64url; `None` for anything else (padding, other alphabets,
/// whitespace, an impossible length, or non-zero bits after the last byte).
pub fn decode(input: &str) -> Option<Vec<u8>> {
    let mut out = vec![0; decoded_len_bound(input.len())];
    let len = decode_into(input.as_bytes(), &mut out)?;
    out.truncate(len);
    Some(out)
}

/// Most bytes `len` characters of base64url can decode to.
pub const fn decoded_len_bound(len: usize) -> usize {
    len / 4 * 3 + 2
}

/// Decodes like [`decode`] into `out`, returning how many bytes were written; `None` for input
/// [`decode`] refuses or an `out` too short (see [`decoded_len_bound`]). No allocation.
pub fn decode_into(bytes: &[u8], out: &mut [u8]) -> Option<usize> {
    // The table maps characters outside the alphabet to 0xFF: OR-ing a chunk's four values
    // together shows any of them in one test (a valid sextet never has the top bits set).
    let value = |byte: u8| DECODE.get(usize::from(byte)).copied().unwrap_or(INVALID);
    // Plain loops over `split_first_chunk` rather than iterator adapters: the fast path decodes
    // every envelope here, and this shape stays fast at every optimisation level.
    let mut rest = bytes;
    let mut at = 0;
    while let Some((&[a, b, c, d], tail)) = rest.split_first_chunk::<4>() {
        let (a, b, c, d) = (value(a), value(b), value(c), value(d));
        if (a | b | c | d) & 0xC0 != 0 {
            return None;
        }
        let n = (u32::from(a) << 18) | (u32::from(b) << 12) | (u32::from(c) << 6) | u32::from(d);
        let [x, y, z] = out.get_mut(at..at + 3)? else {
            return None;
        };
        (*x, *y, *z) = ((n >> 16) as u8, (n >> 8) as u8, n as u8);
        at += 3;
        rest = tail;
    }
    match *rest {
        [] => {}
        [a, b] => {
            let (a, b) = (value(a), value(b));
            // 12 bits carry 8: the low 4 must be zero to be canonical.
            if (a | b) & 0xC0 != 0 || b & 0b1111 != 0 {
                return None;
            }
            *out.get_mut(at)? = (a << 2) | (b >> 4);
            at += 1;
        }
        [a, b, c] => {
            let (a, b, c) = (value(a), value(b), value(c));
            // 18 bits carry 16: the low 2 must be zero.
            if (a | b | c) & 0xC0 != 0 || c & 0b11 != 0 {
                return None;
            }
            let [x, y] = out.get_mut(at..at + 2)? else {
                return None;
            };
            (*x, *y) = ((a << 2) | (b >> 4), (b << 4) | (c >> 2));
            at += 2;
        }
        // One character carries 6 bits: no byte.
        _ => return None,
    }
    Some(at)
}

#[cfg(test)]
mod tests {
    use super::*;

    // RFC 4648 vectors: tests/vectors.rs.

    #[test]
    fn encodes_every_length_and_any_short_buffer_gets_a_prefix() {
        let data: Vec<u8> = (0..=255u8).rev().collect();
        for len in 0..data.len() {
            let text = encode(&data[..len]);
            assert_eq!(text.len(), encoded_len(len));
            assert_eq!(decode(&text).as_deref(), Some(&data[..len]));
            for room in [
                0,
                1,
                2,
                3,
                4,
                5,
                text.len().saturating_sub(1),
                text.len() + 3,
            ] {
                let mut out = vec![0; room];
                let written = encode_into(&data[..len], &mut out);
                assert_eq!(written, room.min(text.len()));
                assert_eq!(&out[..written], &text.as_bytes()[..written]);
            }
        }
    }

    #[test]
    fn rejects_non_canonical_spellings() {
        for bad in [
            "Zg==",
            "Zh",
            "Zm9",
            "Z",
            "Zm9v\n",
            " Zm9v",
            "Zm+v",
            "Zm/v",
            "Zm9vY",
            "Zm\u{e9}v",
        ] {
            assert_eq!(decode(bad), None, "{bad:?} must be refused");
        }
    }
}
