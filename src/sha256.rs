//! SHA-256 (FIPS 180-4) streamed over `sha2`'s block function, and HMAC-SHA256 (RFC 2104) with
//! its inner and outer pad states computed once per key.
//!
//! Why not `Sha256::digest` and `hmac::Hmac`: their generic layers (block buffers, the `Mac`
//! trait, cloning a whole hasher per tag) are a few kilobytes of the wasm module and, compiled
//! for size, cost the fast path more than the hashing. The compression function, the one part
//! that is hard to get right and fast, stays `sha2`'s. The framing around it is short: checked
//! against FIPS 180-4's and RFC 4231's vectors here and every Wycheproof HMAC-SHA256 case in
//! `tests/wycheproof.rs`.

use sha2::compress256;
use sha2::digest::generic_array::GenericArray;

/// Length of a SHA-256 digest (and of an HMAC-SHA256 tag).
pub const DIGEST_LEN: usize = 32;

const BLOCK_LEN: usize = 64;

/// Where the message length goes in the last block.
const LENGTH_AT: usize = BLOCK_LEN - 8;

const IV: [u32; 8] = [
    0x6a09_e667,
    0xbb67_ae85,
    0x3c6e_f372,
    0xa54f_f53a,
    0x510e_527f,
    0x9b05_688c,
    0x1f83_d9ab,
    0x5be0_cd19,
];

fn compress(state: &mut [u32; 8], block: &[u8; BLOCK_LEN]) {
    let block: &GenericArray<u8, _> = block.into();
    compress256(state, core::slice::from_ref(block));
}

/// The digest a final state stands for: its words, big-endian.
#[inline(always)]
fn digest_of(state: [u32; 8]) -> [u8; DIGEST_LEN] {
    let [a, b, c, d, e, f, g, h] = state;
    let (a, b, c, d) = (
        a.to_be_bytes(),
        b.to_be_bytes(),
        c.to_be_bytes(),
        d.to_be_bytes(),
    );
    let (e, f, g, h) = (
        e.to_be_bytes(),
        f.to_be_bytes(),
        g.to_be_bytes(),
        h.to_be_bytes(),
    );
    [
        a[0], a[1], a[2], a[3], b[0], b[1], b[2], b[3], c[0], c[1], c[2], c[3], d[0], d[1], d[2],
        d[3], e[0], e[1], e[2], e[3], f[0], f[1], f[2], f[3], g[0], g[1], g[2], g[3], h[0], h[1],
        h[2], h[3],
    ]
}

/// Writes the message length `len` (in bytes) into the last eight bytes of `block`, in bits.
#[inline(always)]
fn put_length(block: &mut [u8; BLOCK_LEN], len: u64) {
    if let Some((_, last)) = block.split_last_chunk_mut::<8>() {
        *last = len.wrapping_mul(8).to_be_bytes();
    }
}

// The hot code below (every envelope check runs it) is written as plain loops over
// `split_first_chunk` and array assignments rather than iterator adapters and
// `copy_from_slice`: that shape stays fast when the module is compiled for size.

/// A SHA-256 computation in progress.
#[derive(Clone)]
pub struct Sha256 {
    state: [u32; 8],
    /// Bytes hashed so far, the buffered ones included.
    len: u64,
    buffer: [u8; BLOCK_LEN],
    buffered: usize,
}

impl Sha256 {
    /// A new hash.
    pub fn new() -> Self {
        Self::resume(IV, 0)
    }

    /// Continues from `state` after `len` bytes (a multiple of the block length).
    #[inline(always)]
    fn resume(state: [u32; 8], len: u64) -> Self {
        Self {
            state,
            len,
            buffer: [0; BLOCK_LEN],
            buffered: 0,
        }
    }

    /// Hashes `data` after what came before.
    #[inline(always)]
    pub fn update(&mut self, mut data: &[u8]) {
        self.len = self.len.wrapping_add(data.len() as u64);
        if self.buffered > 0 {
            let take = (BLOCK_LEN - self.buffered).min(data.len());
            let (head, rest) = data.split_at(take);
            if let Some(free) = self.buffer.get_mut(self.buffered..self.buffered + take) {
                free.copy_from_slice(head);
            }
            self.buffered += take;
            data = rest;
            if self.buffered < BLOCK_LEN {
                return;
            }
            compress(&mut self.state, &self.buffer);
            self.buffered = 0;
        }
        while let Some((block, rest)) = data.split_first_chunk::<BLOCK_LEN>() {
            compress(&mut self.state, block);
            data = rest;
        }
        if let Some(start) = self.buffer.get_mut(..data.len()) {
            start.copy_from_slice(data);
        }
        self.buffered = data.len();
    }

    /// The digest of everything hashed.
    #[inline(always)]
    pub fn finish(mut self) -> [u8; DIGEST_LEN] {
        if let Some(padding) = self.buffer.get_mut(self.buffered..) {
            padding.fill(0);
            if let Some(first) = padding.first_mut() {
                *first = 0x80;
            }
        }
        if self.buffered >= LENGTH_AT {
            compress(&mut self.state, &self.buffer);
            self.buffer = [0; BLOCK_LEN];
        }
        put_length(&mut self.buffer, self.len);
        compress(&mut self.state, &self.buffer);
        digest_of(self.state)
    }
}

impl Default for Sha256 {
    fn default() -> Self {
        Self::new()
    }
}

/// The SHA-256 digest of `data`.
pub fn digest(data: &[u8]) -> [u8; DIGEST_LEN] {
    let mut hash = Sha256::new();
    hash.update(data);
    hash.finish()
}

/// An HMAC-SHA256 key as the hash states after its inner and outer padded blocks.
#[derive(Clone)]
pub struct HmacKey {
    inner: [u32; 8],
    outer: [u32; 8],
}

impl HmacKey {
    /// The key `key` (any length; one longer than a block is hashed first, as RFC 2104 says).
    pub fn new(key: &[u8]) -> Self {
        let mut block = [0u8; BLOCK_LEN];
        if key.len() > BLOCK_LEN {
            block.iter_mut().zip(digest(key)).for_each(|(b, k)| *b = k);
        } else {
            block.iter_mut().zip(key).for_each(|(b, k)| *b = *k);
        }
        let padded = |pad: u8| {
            let mut state = IV;
            compress(&mut state, &block.map(|b| b ^ pad));
            state
        };
        Self {
            inner: padded(0x36),
            outer: padded(0x5c),
        }
    }

    /// The tag over the concatenation of `parts`.
    #[inline(always)]
    pub fn tag(&self, parts: &[&[u8]]) -> [u8; DIGEST_LEN] {
        let mut inner = Sha256::resume(self.inner, BLOCK_LEN as u64);
        for part in parts {
            inner.update(part);
        }
        // The outer hash is one block: the inner digest, its padding and the length.
        let mut block = [0; BLOCK_LEN];
        if let Some((digest, rest)) = block.split_first_chunk_mut::<DIGEST_LEN>() {
            *digest = inner.finish();
            if let Some(first) = rest.first_mut() {
                *first = 0x80;
            }
        }
        put_length(&mut block, (BLOCK_LEN + DIGEST_LEN) as u64);
        let mut outer = self.outer;
        compress(&mut outer, &block);
        digest_of(outer)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::b64;

    fn hex(bytes: &[u8]) -> String {
        bytes.iter().map(|b| format!("{b:02x}")).collect()
    }

    #[test]
    fn fips_180_4_vectors() {
        let million_a = vec![b'a'; 1_000_000];
        let cases: [(&[u8], &str); 4] = [
            (
                b"",
                "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
            ),
            (
                b"abc",
                "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad",
            ),
            (
                b"abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq",
                "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1",
            ),
            (
                &million_a,
                "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0",
            ),
        ];
        for (input, want) in cases {
            assert_eq!(hex(&digest(input)), want);
        }
    }

    #[test]
    fn every_split_and_length_matches_sha2() {
        use sha2::Digest;
        let data: Vec<u8> = (0..300u32).map(|i| (i * 7 + 3) as u8).collect();
        for len in 0..data.len() {
            let message = &data[..len];
            let want: [u8; 32] = sha2::Sha256::digest(message).into();
            assert_eq!(digest(message), want, "length {len}");
            for split in [0, 1, len / 3, len / 2, len.saturating_sub(1), len] {
                let (a, b) = message.split_at(split.min(len));
                let mut hash = Sha256::new();
                hash.update(a);
                hash.update(b);
                assert_eq!(hash.finish(), want, "length {len} split at {split}");
            }
        }
    }

    #[test]
    fn rfc_4231_vectors() {
        let long_key = [0xaa; 131];
        let cases: [(&[u8], &[u8], &str); 5] = [
            (
                &[0x0b; 20],
                b"Hi There",
                "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7",
            ),
            (
                b"Jefe",
                b"what do ya want for nothing?",
                "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843",
            ),
            (
                &[0xaa; 20],
                &[0xdd; 50],
                "773ea91e36800e46854db8ebd09181a72959098b3ef8c122d9635514ced565fe",
            ),
            (
                &long_key,
                b"Test Using Larger Than Block-Size Key - Hash Key First",
                "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54",
            ),
            (
                &long_key,
                b"This is a test using a larger than block-size key and a larger than block-size data. The key needs to be hashed before being used by the HMAC algorithm.",
                "9b09ffa71b942fcb27635fbcd5b0e944bfdc63644f0713938a7f51535c3a35e2",
            ),
        ];
        for (key, data, want) in cases {
            assert_eq!(hex(&HmacKey::new(key).tag(&[data])), want);
        }
    }

    #[test]
    fn parts_are_concatenated() {
        let key = HmacKey::new(b"key");
        let whole = key.tag(&[b"The quick brown fox jumps over the lazy dog"]);
        assert_eq!(
            b64::encode(&whole),
            "97yD9DBThCSxMpjmqm-xQ-9NWaFJRhdZl0edvC0aPNg"
        );
        assert_eq!(
            key.tag(&[b"The quick ", b"", b"brown fox jumps over the lazy dog"]),
            whole
        );
    }
}
