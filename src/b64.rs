//! Strict, canonical base64url without padding (RFC 4648 §5).
//!
//! Written here rather than taken from a crate because the envelope needs exactly one accepted
//! spelling per byte string: no padding, no whitespace, no non-zero trailing bits. A decoder that
//! tolerated any of those would let one envelope be sent under many cookie values.

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

/// Emits the base64url characters of `input`, without padding, one at a time.
fn encode_each(input: &[u8], mut emit: impl FnMut(u8)) {
    let mut chunks = input.chunks_exact(3);
    for chunk in &mut chunks {
        if let [a, b, c] = *chunk {
            let n = (u32::from(a) << 16) | (u32::from(b) << 8) | u32::from(c);
            for i in [n >> 18, n >> 12, n >> 6, n] {
                emit(sextet(i));
            }
        }
    }
    match *chunks.remainder() {
        [a] => {
            let n = u32::from(a) << 16;
            for i in [n >> 18, n >> 12] {
                emit(sextet(i));
            }
        }
        [a, b] => {
            let n = (u32::from(a) << 16) | (u32::from(b) << 8);
            for i in [n >> 18, n >> 12, n >> 6] {
                emit(sextet(i));
            }
        }
        _ => {}
    }
}

/// Encodes bytes as base64url without padding.
pub fn encode(input: &[u8]) -> String {
    let mut out = String::with_capacity(input.len().div_ceil(3) * 4);
    encode_each(input, |c| out.push(char::from(c)));
    out
}

/// Encodes like [`encode`] into `out`, returning how many bytes were written (characters past
/// `out`'s end are dropped). No allocation.
pub fn encode_into(input: &[u8], out: &mut [u8]) -> usize {
    let mut at = 0;
    encode_each(input, |c| {
        if let Some(slot) = out.get_mut(at) {
            *slot = c;
            at += 1;
        }
    });
    at
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
