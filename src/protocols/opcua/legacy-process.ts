/**
 * The Basic128Rsa15 helper process (see legacy.ts): started by the harness with
 * --security-revert=CVE-2023-46809, it opens one OPC UA connection to the declared host, with the scope
 * guard on, and serves the parent's calls over IPC until told to close or until the parent goes away.
 */
import { enterScope } from '../scope';
import { withOpcuaClient, type OpcuaConnection, type OpcuaSession } from './client';
import { endpointsToWire, serializeError, type LegacyCall, type LegacyOpenRequest, type LegacyReply } from './legacy';

type Incoming = LegacyCall & { id: number };

const controller = new AbortController();
const sessions = new Map<number, { session: OpcuaSession; end(): void; closed: Promise<unknown> }>();
let nextHandle = 1;
let connection: OpcuaConnection | undefined;
let closeConnection: (() => void) | undefined;

function reply(message: LegacyReply): void {
  if (process.connected) process.send?.(message);
}

function fail(id: number, err: unknown): void {
  const error = serializeError(err);
  if (error.kind === 'scope') error.scopeHost = /connection to (\S+?):\d+ refused|(\S+) resolves to/.exec(error.message)?.slice(1).find(Boolean);
  reply({ id, ok: false, error });
}

function sessionOf(handle: number): OpcuaSession {
  const held = sessions.get(handle);
  if (!held) throw new Error(`no session ${handle}`);
  return held.session;
}

/** Opens the connection and keeps it (and this process) until `close`. */
function open(id: number, request: LegacyOpenRequest): void {
  enterScope(request.allowedHosts);
  const { security, ...rest } = request.options;
  const identity = { ...security.identity, certificate: Buffer.from(security.identity.certificate, 'base64') };
  withOpcuaClient(request.target, {
    ...rest, signal: controller.signal,
    security: { mode: security.mode, policy: security.policy, serverCertificate: Buffer.from(security.serverCertificate, 'base64'), identity },
  }, (c) => new Promise<void>((resolve) => {
    connection = c;
    closeConnection = resolve;
    reply({ id, ok: true, value: { endpointUrl: c.endpointUrl } });
  })).catch((err: unknown) => {
    if (connection === undefined) fail(id, err);
  }).finally(() => process.exit(0));
}

async function handle(message: Incoming): Promise<unknown> {
  switch (message.method) {
    case 'getEndpoints':
      return endpointsToWire(await connection!.getEndpoints());
    case 'createSession': {
      const handle = nextHandle++;
      return await new Promise((resolve, reject) => {
        let end!: () => void;
        const ended = new Promise<void>((r) => { end = r; });
        const closed: Promise<unknown> = connection!.withSession(message.args.identity, async (session) => {
          sessions.set(handle, { session, end, closed });
          resolve({ handle, revisedSessionTimeoutMs: session.revisedSessionTimeoutMs, sessionId: session.sessionId() });
          await ended;
        }).catch(reject).finally(() => sessions.delete(handle));
      });
    }
    case 'endSession': {
      // Answered once CloseSession is done, so that a following `close` does not cut it short.
      const held = sessions.get(message.args.handle);
      held?.end();
      await held?.closed.catch(() => undefined);
      return null;
    }
    case 'browse': return sessionOf(message.args.handle).browse(message.args.nodeId, message.args.max);
    case 'read': return sessionOf(message.args.handle).read(message.args.nodeIds);
    case 'writeReadRestore': return sessionOf(message.args.handle).writeReadRestore(message.args.nodeId);
    default: throw new Error(`unknown call ${message.method}`);
  }
}

process.on('message', (message: Incoming) => {
  if (message.method === 'open') return open(message.id, message.args);
  if (message.method === 'close') {
    for (const held of sessions.values()) held.end();
    reply({ id: message.id, ok: true, value: null });
    if (closeConnection) closeConnection();
    else process.exit(0);
    return;
  }
  const sessionHandle = 'handle' in message.args ? message.args.handle : undefined;
  handle(message).then(
    (value) => reply({ id: message.id, ok: true, value, ...(sessionHandle !== undefined && sessions.has(sessionHandle) ? { sessionId: sessionOf(sessionHandle).sessionId() } : {}) }),
    (err: unknown) => fail(message.id, err),
  );
});
// The parent went away (killed, or its attempt aborted): break the connection and end.
process.on('disconnect', () => {
  controller.abort(new Error('the harness went away'));
  setTimeout(() => process.exit(0), 500).unref();
});
