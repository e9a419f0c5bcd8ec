// The workerd side of `make bench`: GET /run?case=NAME&n=N runs a case N times in one request and
// answers how many calls accepted. workerd does not advance Date.now() during synchronous code,
// so the bench times each request from outside (Node, around dispatchFetch) and subtracts an
// n=0 request. Every import is a relative path: Miniflare loads these files as they are.
import { MemoryStore, SessionManager } from '../../pkg/workerd.js';
import { parseSigned, serializeSigned } from '../../node_modules/hono/dist/utils/cookie.js';
import * as jose from '../../node_modules/jose/dist/webapi/index.js';
import floorModule from '../../target/bench/hmac_floor.wasm';
import { b64urlDecode, buildCases, loop } from '../lib/cases.mjs';

let built = null;

export default {
  async fetch(request, env) {
    const url = new URL(request.url);
    try {
      built ??= await buildCases(
        { SessionManager, parseSigned, serializeSigned, jose, floorModule },
        { secret: b64urlDecode(env.BENCH_SECRET), stores: { Kv: ['local KV', env.KV], Mem: ['MemoryStore', new MemoryStore()] } },
      );
      if (url.pathname === '/info') return Response.json(built.info);
      const n = Number(url.searchParams.get('n') ?? 0);
      const c = built.cases[url.searchParams.get('case')];
      if (!c || !Number.isSafeInteger(n) || n < 0) return Response.json({ error: 'bad case or n' }, { status: 400 });
      return Response.json({ ok: await loop(c, n), n });
    } catch (error) {
      return Response.json({ error: String(error?.stack ?? error) }, { status: 500 });
    }
  },
};
