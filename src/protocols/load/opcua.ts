import type * as NodeOpcua from 'node-opcua';
import type { ClientSession, OPCUAClient, UserIdentityInfo } from 'node-opcua';
import { AuthRejected, TargetUnreachable } from '../../sdk';
import { bounded, chooseLogin } from '../monitor/opcua';
import { breakConnection, discoverEndpoints, endpointPath, targetUrl, type DiscoveredEndpoint, type OpcuaTarget } from '../opcua/client';
import { clientForEndpoint } from '../opcua/endpoints';
import type { ClientIdentity } from '../opcua/identity';
import { loadOpcua } from '../opcua/logging';
import type { LoadGenerator, RequestOutcome } from './steps';

/** The default node a Read flood reads when the profile watches none: Server_ServerStatus_CurrentTime. */
export const SERVER_CURRENT_TIME = 'i=2258';

/**
 * Service results by which a server sheds load (Part 4 §7.34 / Part 6): counted as refusals, not errors.
 * BadUserAccessDenied is one only in a session flood, whose login was accepted before the flood began (a
 * per-user session limit).
 */
const SHEDDING = new Set(['BadTooManyOperations', 'BadTooManySessions', 'BadServerTooBusy', 'BadResourceUnavailable', 'BadTcpServerTooBusy', 'BadTooManyPublishRequests']);

export interface OpcuaFloodLogin {
  readonly target: OpcuaTarget;
  readonly identity: ClientIdentity;
  /** Used only where no Anonymous token is offered (as the monitor's login). */
  readonly credential?: { readonly username: string; readonly password: string };
  /** Bound of one request, and of each connect and session activation. */
  readonly requestTimeoutMs: number;
  readonly signal: AbortSignal;
}

/** The endpoint and token the flood logs in with: the monitor's choice (chooseLogin), on the declared host and port. */
interface Login {
  lib: typeof NodeOpcua;
  endpoint: DiscoveredEndpoint;
  url: string;
  token: UserIdentityInfo;
  describe: string;
}

async function chooseFloodLogin(o: OpcuaFloodLogin): Promise<Login> {
  const endpoints = await discoverEndpoints(o.target, { signal: o.signal, timeoutMs: o.requestTimeoutMs });
  const login = chooseLogin(endpoints, o.credential !== undefined);
  if (typeof login === 'string') throw new AuthRejected(`opcua flood: ${login}`);
  const lib = await loadOpcua();
  const token: UserIdentityInfo = login.token === 'anonymous'
    ? { type: lib.UserTokenType.Anonymous }
    : { type: lib.UserTokenType.UserName, userName: o.credential!.username, password: o.credential!.password };
  return {
    lib, endpoint: login.endpoint, url: targetUrl(o.target, endpointPath(login.endpoint.endpointUrl)), token,
    describe: `${login.endpoint.securityMode}/${login.endpoint.securityPolicy}, ${login.token === 'anonymous' ? 'Anonymous' : 'UserName'}`,
  };
}

/** The status name in a node-opcua failure ("... BadTooManySessions (0x80560000)"), else a short text. */
export function failureKind(err: unknown): string {
  const text = err instanceof Error ? err.message : String(err);
  const status = /\bBad[A-Za-z]+/.exec(text)?.[0];
  if (status) return status;
  if (/timed? ?out|no answer within/i.test(text)) return 'timeout';
  if (/closed|disconnect|premature|ECONNRESET|EPIPE|socket/i.test(text)) return 'connection lost';
  return text.slice(0, 80);
}

/** Flood sessions ask for a short timeout: a session left behind by an aborted flood expires soon. */
const FLOOD_SESSION_TIMEOUT_MS = 10_000;

/** One channel (client) the flood owns; `closeAll` (also on abort) breaks every one at once. */
class Channels {
  private readonly clients = new Set<OPCUAClient>();
  private readonly onAbort = () => this.closeAll();
  closed = false;

  constructor(private readonly login: Login, private readonly o: OpcuaFloodLogin) {
    o.signal.addEventListener('abort', this.onAbort, { once: true });
  }

  async open(): Promise<OPCUAClient> {
    if (this.closed || this.o.signal.aborted) throw new TargetUnreachable('opcua flood: stopped');
    const client = clientForEndpoint(this.login.lib, this.login.endpoint, this.o.identity, this.o.requestTimeoutMs, FLOOD_SESSION_TIMEOUT_MS);
    this.clients.add(client);
    try {
      await bounded(client.connect(this.login.url), this.o.requestTimeoutMs);
      return client;
    } catch (err) {
      this.drop(client);
      throw err;
    }
  }

  drop(client: OPCUAClient): void {
    this.clients.delete(client);
    breakConnection(client);
    client.disconnect().catch(() => undefined);
  }

  closeAll(): void {
    this.o.signal.removeEventListener('abort', this.onAbort);
    this.closed = true;
    for (const c of [...this.clients]) this.drop(c);
  }
}

interface Opened {
  client: OPCUAClient;
  session: ClientSession;
}

interface ReadSession {
  opened: Promise<Opened>;
  waiting: number;
}

/** Failures counted by kind (status name, 'timeout', ...) for a flood's errorKinds. */
function failureCounter(): { fail: (kind: string) => void; kinds: () => Record<string, number> } {
  const counts: Record<string, number> = {};
  return { fail: (kind) => { counts[kind] = (counts[kind] ?? 0) + 1; }, kinds: () => ({ ...counts }) };
}

/** Pause before reopening a dropped session: a device that is down must not get a connection per request. */
const REOPEN_DELAY_MS = 200;

export interface OpcuaReadFloodOptions extends OpcuaFloodLogin {
  readonly nodeId: string;
  /** Sessions (each on its own channel) the reads are spread over: a few HMIs. Fewer when the device refuses more. */
  readonly sessions: number;
  /** Reads outstanding per session at most. */
  readonly window: number;
}

export interface OpcuaFlood extends LoadGenerator {
  /** Endpoint, token and sessions, for the evidence. */
  readonly describe: string;
  /** Settles when close() has finished: sessions closed with CloseSession unless the attempt was aborted (then cut). */
  closed(): Promise<void>;
}

/**
 * Read requests of one node's Value over established sessions (opened before the first step; a session the
 * device drops is reopened on the next request). Good → answered; a shedding service result → refused; any
 * other status, a timeout or a broken channel → error, counted by status name.
 */
export async function opcuaReadFlood(o: OpcuaReadFloodOptions): Promise<OpcuaFlood> {
  const login = await chooseFloodLogin(o);
  const channels = new Channels(login, o);
  const { fail, kinds } = failureCounter();
  const openSession = async (): Promise<Opened> => {
    const client = await channels.open();
    try {
      return { client, session: await bounded(client.createSession(login.token), o.requestTimeoutMs) };
    } catch (err) {
      channels.drop(client);
      throw err;
    }
  };
  const reopen = (s: ReadSession, broken: Promise<Opened>) => {
    if (s.opened !== broken || channels.closed) return;
    void broken.then((b) => channels.drop(b.client), () => undefined);
    s.opened = new Promise((r) => setTimeout(r, REOPEN_DELAY_MS)).then(openSession);
    s.opened.catch(() => undefined);
  };
  const sessions: ReadSession[] = [];
  let refusedNote = '';
  try {
    for (let i = 0; i < o.sessions; i++) {
      try {
        sessions.push({ opened: Promise.resolve(await openSession()), waiting: 0 });
      } catch (err) {
        // A device may grant fewer sessions than asked (a per-user limit): flood over those it granted.
        if (sessions.length === 0) throw err;
        refusedNote = `; session ${i + 1} refused: ${failureKind(err)}`;
        break;
      }
    }
  } catch (err) {
    channels.closeAll();
    throw err;
  }
  const { AttributeIds } = login.lib;
  const readOn = async (s: ReadSession): Promise<RequestOutcome> => {
    s.waiting++;
    const current = s.opened;
    try {
      const { session } = await current;
      const dv = await session.read({ nodeId: o.nodeId, attributeId: AttributeIds.Value });
      if (dv.statusCode.isGood()) return 'answered';
      fail(dv.statusCode.name);
      return SHEDDING.has(dv.statusCode.name) ? 'refused' : 'error';
    } catch (err) {
      const kind = channels.closed ? 'stopped' : failureKind(err);
      fail(kind);
      // A timeout or a refusal leaves the session usable; anything else (channel or session gone) replaces it.
      if (kind !== 'timeout' && !SHEDDING.has(kind)) reopen(s, current);
      return SHEDDING.has(kind) ? 'refused' : 'error';
    } finally {
      s.waiting--;
    }
  };
  let next = 0;
  let closing: Promise<void> | undefined;
  // A session left open would hold a slot of the device (a per-user limit) until it times out: close each one.
  const closeSessions = async () => {
    if (!o.signal.aborted) {
      await Promise.all(sessions.map((s) => s.opened.then((x) => bounded(x.session.close(true), o.requestTimeoutMs)).catch(() => undefined)));
    }
    channels.closeAll();
  };
  return {
    describe: `${login.describe}; ${sessions.length} session(s)${refusedNote}`,
    maxInFlight: sessions.length * o.window,
    inFlight: () => sessions.reduce((n, s) => n + s.waiting, 0),
    send: () => {
      if (channels.closed) return Promise.resolve('error');
      const s = sessions[next];
      next = (next + 1) % sessions.length;
      return readOn(s.waiting < o.window ? s : (sessions.find((x) => x.waiting < o.window) ?? s));
    },
    close: () => { closing ??= closeSessions(); },
    closed: () => closing ?? Promise.resolve(),
    errorKinds: kinds,
  };
}

export interface OpcuaSessionFloodOptions extends OpcuaFloodLogin {
  /** Channels the CreateSession requests share. */
  readonly channels: number;
  /** Sessions being created or closed at once at most. */
  readonly window: number;
}

/**
 * CreateSession + ActivateSession, each session closed again at once: the server's session limit is
 * exercised, not its memory. An activated session is an answer; BadTooManySessions (and the other shedding
 * results, or BadUserAccessDenied for a login that was accepted just before the flood) a refusal.
 */
export async function opcuaSessionFlood(o: OpcuaSessionFloodOptions): Promise<OpcuaFlood> {
  const login = await chooseFloodLogin(o);
  const channels = new Channels(login, o);
  const { fail, kinds } = failureCounter();
  const clients: Promise<OPCUAClient>[] = [];
  try {
    for (let i = 0; i < o.channels; i++) clients.push(Promise.resolve(await channels.open()));
    // The login works before the flood: a later BadUserAccessDenied is a limit, not a wrong credential.
    const first = await clients[0];
    const probe = await bounded(first.createSession(login.token), o.requestTimeoutMs);
    await bounded(probe.close(true), o.requestTimeoutMs);
  } catch (err) {
    channels.closeAll();
    throw err;
  }
  let inFlight = 0;
  let next = 0;
  const cycle = async (index: number): Promise<RequestOutcome> => {
    inFlight++;
    const current = clients[index];
    try {
      const client = await current;
      const session = await bounded(client.createSession(login.token), o.requestTimeoutMs);
      await bounded(session.close(true), o.requestTimeoutMs).catch((err: unknown) => fail(`close: ${failureKind(err)}`));
      return 'answered';
    } catch (err) {
      const kind = channels.closed ? 'stopped' : failureKind(err);
      fail(kind);
      if (kind === 'connection lost' && !channels.closed && clients[index] === current) {
        void current.then((c) => channels.drop(c), () => undefined);
        clients[index] = new Promise((r) => setTimeout(r, REOPEN_DELAY_MS)).then(() => channels.open());
        clients[index].catch(() => undefined);
      }
      return SHEDDING.has(kind) || kind === 'BadUserAccessDenied' ? 'refused' : 'error';
    } finally {
      inFlight--;
    }
  };
  return {
    describe: `${login.describe}; CreateSession+ActivateSession+CloseSession over ${clients.length} channel(s)`,
    maxInFlight: o.window,
    inFlight: () => inFlight,
    send: () => {
      if (channels.closed) return Promise.resolve('error');
      const i = next;
      next = (next + 1) % clients.length;
      return cycle(i);
    },
    close: () => {
      channels.closeAll();
    },
    closed: () => Promise.resolve(),
    errorKinds: kinds,
  };
}
