// Type-level test of the revocation hub's API in pkg/index.d.ts: the Durable Object class a
// Worker re-exports, the `hub` and `hubPollInterval` options (a workers-types
// DurableObjectNamespace is a binding as is), `revokeOthers`, `status().hub`, and the
// `hub_unavailable` reason. Every `@ts-expect-error` line has to be a compile error.
import {
  RevocationHub,
  SessionManager,
  SessionStoreError,
  type HubStatus,
  type RevocationHubBinding,
  type RevokeOthersResult,
  type SessionManagerOptions,
  type UnavailableReason,
} from 'edge-session';

// The worker's entry module exports the class so wrangler can bind it.
export { RevocationHub } from 'edge-session';

interface Env {
  SESSIONS: KVNamespace;
  SESSION_KEYS: string;
  REVOCATIONS: DurableObjectNamespace;
  HUB_POLL_INTERVAL_S: string;
}

type Data = { role: 'member' | 'admin' };
let sessions: SessionManager<Data> | undefined;

export function managerFor(env: Env): SessionManager<Data> {
  return (sessions ??= new SessionManager<Data>({
    store: env.SESSIONS,
    keys: env.SESSION_KEYS,
    hub: env.REVOCATIONS,
    hubPollInterval: env.HUB_POLL_INTERVAL_S,
  }));
}

export function options(env: Env): SessionManagerOptions[] {
  const binding: RevocationHubBinding = env.REVOCATIONS;
  return [
    { store: env.SESSIONS, keys: 'k1:x', hub: binding },
    { store: env.SESSIONS, keys: 'k1:x', hub: env.REVOCATIONS, hubPollInterval: 0.5 },
    // @ts-expect-error a KV namespace is not a Durable Object namespace
    { store: env.SESSIONS, keys: 'k1:x', hub: env.SESSIONS },
    // @ts-expect-error the interval is seconds, not a flag
    { store: env.SESSIONS, keys: 'k1:x', hub: env.REVOCATIONS, hubPollInterval: true },
    // @ts-expect-error misspelt option (also refused at runtime)
    { store: env.SESSIONS, keys: 'k1:x', hub: env.REVOCATIONS, hubPollIntervalS: 5 },
  ];
}

/** "Log out my other sessions". */
export async function revokeOthers(request: Request, env: Env): Promise<Response> {
  const result: RevokeOthersResult<Data> = await managerFor(env).revokeOthers(request);
  const headers = new Headers();
  if (result.setCookie !== null) headers.append('Set-Cookie', result.setCookie);
  if (result.ok) {
    const revoked: number = result.revoked;
    const role: 'member' | 'admin' | undefined = result.session.data?.role;
    return Response.json({ revoked, role }, { headers });
  }
  if (result.session !== undefined) {
    // The caller's session is fine; the revocation is incomplete.
    const reason: UnavailableReason = result.reason;
    const handle: string = result.session.handle;
    // @ts-expect-error no count when it failed
    const none: number = result.revoked;
    void none;
    return Response.json({ reason, handle }, { status: 503, headers });
  }
  // No valid session on the request: a refusal like validate's.
  const status = result.reason === 'store_unavailable' ? 503 : 401;
  // @ts-expect-error a refusal carries no session
  result.session.handle;
  return Response.json({ reason: result.reason }, { status, headers });
}

export function status(env: Env): string {
  const hub: HubStatus | null = managerFor(env).status().hub;
  if (hub === null) return 'no hub';
  const behind: number = hub.head - hub.seq;
  const age: number | null = hub.lastPullAgeMs;
  const strict: boolean = hub.outOfReach;
  // @ts-expect-error may be null before the first pull
  const at: number = hub.lastPullAt;
  void at;
  return `${hub.pollInterval}s behind=${behind} age=${age ?? 'never'} strict=${strict}`;
}

export async function revokeUser(env: Env, userId: string): Promise<Response> {
  try {
    return Response.json({ revoked: await managerFor(env).revokeUser(userId) });
  } catch (error) {
    if (error instanceof SessionStoreError) {
      // hub_unavailable: stored in KV, so it holds within the KV bound, not the hub's.
      const reason: UnavailableReason = error.reason;
      return Response.json({ reason }, { status: 503 });
    }
    throw error;
  }
}

/** The class as workerd constructs it. */
export function construct(state: DurableObjectState, env: Env): RevocationHub {
  const hub = new RevocationHub(state, env);
  const answer: Promise<Response> = hub.fetch(new Request('https://revocation-hub/stats'));
  void answer;
  return hub;
}
