// Reads, edits and signs cookie envelopes (format version 2, ARCHITECTURE.md "Envelope format")
// in Node, for tests/hostile.test.mjs: the test holds the demo's key, so it can put a field at an
// extreme and sign it (the MAC passes, the field is what the worker judges) or change a field
// without signing again (the MAC must refuse it).
//
// version u8 | kid_len u8 | kid | session_id [32] | lineage [16] | generation u32 | created_at u64
// | issued_at u64 | expires_at u64 | idle_deadline u64 | absolute_deadline u64 | user_len u8 | user
// | data_len u16 | data | tag [32]            (big-endian; times in unix ms)
import { createHmac } from 'node:crypto';

export const TAG_LEN = 32;
export const U64_MAX = 2n ** 64n - 1n;
export const U32_MAX = 2 ** 32 - 1;
const TIMES = ['createdAt', 'issuedAt', 'expiresAt', 'idleDeadline', 'absoluteDeadline'];

/** The fields of a well-formed envelope (its base64url text); times are BigInts. */
export function parse(text) {
  const raw = Buffer.from(text, 'base64url');
  let at = 0;
  const take = (n) => {
    if (at + n > raw.length) throw new Error('envelope too short');
    const part = raw.subarray(at, (at += n));
    return Buffer.from(part);
  };
  const version = take(1)[0];
  const kid = take(take(1)[0]);
  const sessionId = take(32);
  const lineage = take(16);
  const generation = take(4).readUInt32BE(0);
  const times = Object.fromEntries(TIMES.map((name) => [name, take(8).readBigUInt64BE(0)]));
  const user = take(take(1)[0]);
  const data = take(take(2).readUInt16BE(0));
  const tag = take(TAG_LEN);
  if (at !== raw.length) throw new Error('envelope too long');
  return { version, kid, sessionId, lineage, generation, ...times, user, data, tag };
}

/**
 * The bytes before the tag for `fields` (as parse() returns them; kid, user and data may be strings).
 * `lengths` overrides the length bytes written (kid, user, data) to make them lie about what follows.
 */
export function body(fields, lengths = {}) {
  const bytes = (v) => (typeof v === 'string' ? Buffer.from(v, 'utf8') : Buffer.from(v));
  const kid = bytes(fields.kid);
  const user = bytes(fields.user);
  const data = bytes(fields.data);
  const u8 = (n) => Buffer.from([n]);
  const u16 = (n) => {
    const b = Buffer.alloc(2);
    b.writeUInt16BE(n);
    return b;
  };
  const u32 = (n) => {
    const b = Buffer.alloc(4);
    b.writeUInt32BE(n);
    return b;
  };
  const u64 = (n) => {
    const b = Buffer.alloc(8);
    b.writeBigUInt64BE(BigInt(n));
    return b;
  };
  return Buffer.concat([
    u8(fields.version),
    u8(lengths.kid ?? kid.length),
    kid,
    bytes(fields.sessionId),
    bytes(fields.lineage),
    u32(fields.generation),
    ...TIMES.map((name) => u64(fields[name])),
    u8(lengths.user ?? user.length),
    user,
    u16(lengths.data ?? data.length),
    data,
  ]);
}

/** HMAC-SHA256 envelope subkey of `secret` (bytes) for the cookie `cookieName` (keys.rs). */
export function envelopeSubkey(secret, cookieName) {
  return createHmac('sha256', secret).update(`edge-session/v1/envelope/${cookieName}`).digest();
}

/** `bytes` followed by its tag under `secret` for `cookieName`, as base64url text. */
export function signed(bytes, secret, cookieName) {
  const tag = createHmac('sha256', envelopeSubkey(secret, cookieName)).update(bytes).digest();
  return Buffer.concat([bytes, tag]).toString('base64url');
}

/** `bytes` followed by `tag` (kept from another envelope: no longer its tag), as base64url text. */
export function unsigned(bytes, tag) {
  return Buffer.concat([bytes, tag]).toString('base64url');
}

/** The session cookie value of a `Set-Cookie` header for `name`, or null. */
export function cookieValue(setCookie, name) {
  if (!setCookie) return null;
  const first = setCookie.split(';')[0];
  const eq = first.indexOf('=');
  return first.slice(0, eq) === name ? first.slice(eq + 1) : null;
}
