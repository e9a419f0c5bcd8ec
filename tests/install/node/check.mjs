// A user's Node.js script over the installed package (tests/install.test.mjs): the `node` export
// condition, MemoryStore, create -> validate -> destroy -> refused. Prints one JSON line and
// leaves the cookie in cookie.txt for the test to hand to `edge-session inspect`.
import { writeFileSync } from 'node:fs';
import { SessionManager, MemoryStore } from 'edge-session';

const keys = process.env.SESSION_KEYS;
const manager = new SessionManager({ store: new MemoryStore(), keys });
const asRequest = (cookie) => ({ headers: new Headers(cookie ? { cookie } : {}) });

const created = await manager.create(null, 'alice', { data: { role: 'member' } });
const cookie = created.setCookie.split(';')[0];
writeFileSync('cookie.txt', cookie);
const valid = await manager.validate(asRequest(cookie));
const destroyed = await manager.destroy(asRequest(cookie));
const after = await manager.validate(asRequest(cookie));

console.log(JSON.stringify({
  resolved: import.meta.resolve('edge-session'),
  cookieName: manager.cookieName,
  created: { ok: created.ok, userId: created.session?.userId },
  cookie: cookie.split('=')[0],
  valid: { ok: valid.ok, userId: valid.session?.userId, data: valid.session?.data, refreshed: valid.refreshed === true },
  destroyed: { ok: destroyed.ok },
  after: { ok: after.ok, reason: after.reason },
}));
