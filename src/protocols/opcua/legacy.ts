import { spawn, type ChildProcess } from 'node:child_process';
import * as path from 'node:path';
import {
  AuthRejected, InvalidInput, MissingInput, OutOfScope, ProtocolViolation, TargetTimeout, TargetUnreachable, type ProbeError,
} from '../../sdk';
import { PKCS1V15_REVERT_FLAG, nodeChildArgs, repairOpensslConf } from '../child-env';
import { recordScopeViolation, scopeOf } from '../scope';
import type {
  DiscoveredEndpoint, OpcuaClientOptions, OpcuaConnection, OpcuaSession, OpcuaTarget, UserIdentity,
} from './client';
import { OpcuaChannelClosed, OpcuaStatusError, type OpcuaStage } from './errors';

/**
 * OPC UA work over Basic128Rsa15 in a helper process. That policy encrypts the OpenSecureChannel with RSA
 * PKCS#1 v1.5, which Node 20.11+ refuses to decrypt (CVE-2023-46809, the Marvin attack) unless the
 * process is started with --security-revert. The harness never runs with that protection removed: only
 * the connection that uses the legacy policy lives in a child started with the flag, and the caller's code
 * (the probe) stays here and drives it over IPC. The child guards the scope like the run does (it may talk
 * to the declared host only) and dies with the attempt's signal.
 */

/** Plain-data form of the client options (Buffers as base64). */
export interface LegacyOpenRequest {
  target: OpcuaTarget;
  allowedHosts: string[];
  options: {
    deadline?: number;
    timeoutMs?: number;
    path?: string;
    requestedSessionTimeoutMs?: number;
    security: {
      mode: 'Sign' | 'SignAndEncrypt';
      policy: string;
      serverCertificate: string;
      identity: { certificate: string; certificatePem: string; privateKeyPem: string; applicationUri: string; source: string };
    };
  };
}

export type LegacyCall =
  | { method: 'open'; args: LegacyOpenRequest }
  | { method: 'getEndpoints'; args: Record<string, never> }
  | { method: 'createSession'; args: { identity: UserIdentity } }
  | { method: 'endSession'; args: { handle: number } }
  | { method: 'browse'; args: { handle: number; nodeId: string; max?: number } }
  | { method: 'read'; args: { handle: number; nodeIds: string[] } }
  | { method: 'writeReadRestore'; args: { handle: number; nodeId: string } }
  | { method: 'close'; args: Record<string, never> };

export interface SerializedError {
  name: string;
  kind?: string;
  message: string;
  stage?: OpcuaStage;
  status?: string;
  /** A connection the child's scope guard refused. */
  scopeHost?: string;
}

export type LegacyReply =
  | { id: number; ok: true; value: unknown; sessionId?: string }
  | { id: number; ok: false; error: SerializedError };

/** Whether errors and values can cross the process boundary: endpoints carry Buffers. */
export function endpointsToWire(endpoints: readonly DiscoveredEndpoint[]): unknown[] {
  return endpoints.map((e) => ({ ...e, serverCertificate: e.serverCertificate ? e.serverCertificate.toString('base64') : null }));
}

function endpointsFromWire(value: unknown): DiscoveredEndpoint[] {
  return (value as (Omit<DiscoveredEndpoint, 'serverCertificate'> & { serverCertificate: string | null })[]).map((e) => ({
    ...e, serverCertificate: e.serverCertificate === null ? null : Buffer.from(e.serverCertificate, 'base64'),
  }));
}

export function serializeError(err: unknown): SerializedError {
  if (err instanceof OpcuaStatusError) return { name: err.name, kind: err.kind, message: err.message, stage: err.stage, status: err.status };
  const e = err instanceof Error ? err : new Error(String(err));
  return { name: e.name, kind: (e as Partial<ProbeError>).kind, message: e.message };
}

function deserializeError(e: SerializedError): Error {
  if (e.stage !== undefined && e.status !== undefined) return new OpcuaStatusError(e.stage, e.status, e.message);
  if (e.name === OpcuaChannelClosed.name) return new OpcuaChannelClosed(e.message);
  switch (e.kind) {
    case 'unreachable': return new TargetUnreachable(e.message);
    case 'timeout': return new TargetTimeout(e.message);
    case 'protocol': return new ProtocolViolation(e.message);
    case 'auth': return new AuthRejected(e.message);
    case 'scope': return new OutOfScope(e.message);
    case 'input': return e.name === 'MissingInput' ? new MissingInput(e.message) : new InvalidInput(e.message);
    default: return new Error(`Basic128Rsa15 helper process: ${e.message}`);
  }
}

const CHILD_ENTRY = path.join(__dirname, `legacy-process${path.extname(__filename)}`);

/** One helper process: requests by id, replies in any order; everything pending fails when it exits. */
class LegacyHelper {
  private nextId = 1;
  private readonly pending = new Map<number, { resolve(r: LegacyReply): void; reject(e: Error): void }>();
  private stderr = '';
  private exited: Error | undefined;

  private constructor(private readonly child: ChildProcess) {
    child.stderr?.on('data', (d: Buffer) => { this.stderr = (this.stderr + d.toString()).slice(-2000); });
    child.on('message', (m: LegacyReply) => {
      const p = this.pending.get(m.id);
      if (!p) return;
      this.pending.delete(m.id);
      p.resolve(m);
    });
    child.on('exit', (code, signal) => {
      this.exited = new Error(`the Basic128Rsa15 helper process ended (${signal ?? `exit ${String(code)}`})${this.stderr ? `: ${this.stderr.trim()}` : ''}`);
      for (const p of this.pending.values()) p.reject(this.exited);
      this.pending.clear();
    });
  }

  static start(): LegacyHelper {
    repairOpensslConf();
    const child = spawn(process.execPath, nodeChildArgs(CHILD_ENTRY, [PKCS1V15_REVERT_FLAG]), {
      stdio: ['ignore', 'ignore', 'pipe', 'ipc'],
    });
    return new LegacyHelper(child);
  }

  /** Sends one call; rejects with the deserialised error, or when the process ends, or on `signal`. */
  async call(call: LegacyCall, signal: AbortSignal, onSessionId?: (id: string) => void): Promise<unknown> {
    if (this.exited) throw this.exited;
    signal.throwIfAborted();
    const id = this.nextId++;
    let onAbort: (() => void) | undefined;
    const reply = await new Promise<LegacyReply>((resolve, reject) => {
      this.pending.set(id, { resolve, reject });
      onAbort = () => {
        this.pending.delete(id);
        this.kill();
        reject(signal.reason instanceof Error ? signal.reason : new TargetTimeout('aborted'));
      };
      signal.addEventListener('abort', onAbort, { once: true });
      this.child.send({ id, ...call });
    }).finally(() => { if (onAbort) signal.removeEventListener('abort', onAbort); });
    if (!reply.ok) {
      if (reply.error.scopeHost) recordScopeViolation(reply.error.scopeHost);
      throw deserializeError(reply.error);
    }
    if (reply.sessionId !== undefined) onSessionId?.(reply.sessionId);
    return reply.value;
  }

  kill(): void {
    if (this.child.exitCode === null && this.child.signalCode === null) this.child.kill('SIGKILL');
  }

  /** Asks the child to disconnect and exit; kills it when it does not within a second. */
  async close(signal: AbortSignal): Promise<void> {
    if (this.exited) return;
    const gone = new Promise<void>((resolve) => this.child.once('exit', () => resolve()));
    const timer = setTimeout(() => this.kill(), 1000);
    try {
      await this.call({ method: 'close', args: {} }, signal).catch(() => undefined);
      await gone;
    } finally {
      clearTimeout(timer);
    }
  }
}

/**
 * withOpcuaClient for a channel whose policy needs PKCS#1 v1.5 decryption: the same contract, with the
 * OPC UA client in a helper process (see the module comment). `allowedHosts` are the addresses the helper
 * may connect to: the declared host.
 */
export async function withLegacyOpcuaClient<T>(
  target: OpcuaTarget, options: OpcuaClientOptions, url: string, work: (connection: OpcuaConnection) => Promise<T>,
): Promise<T> {
  const { security, signal } = options;
  if (!security) throw new Error('withLegacyOpcuaClient needs channel security');
  signal.throwIfAborted();
  // Loading node-opcua in the new process takes a second or more: the attempt's deadline bounds it.
  const helper = LegacyHelper.start();
  try {
    const identity = security.identity;
    await helper.call({
      method: 'open',
      args: {
        // The run's scope as the runner resolved it (a host name's plan-time addresses), else the host alone.
        target, allowedHosts: scopeOf(target.host) ?? [target.host],
        options: {
          deadline: options.deadline, timeoutMs: options.timeoutMs, path: options.path, requestedSessionTimeoutMs: options.requestedSessionTimeoutMs,
          security: {
            mode: security.mode, policy: security.policy, serverCertificate: security.serverCertificate.toString('base64'),
            identity: {
              certificate: identity.certificate.toString('base64'), certificatePem: identity.certificatePem, privateKeyPem: identity.privateKeyPem,
              applicationUri: identity.applicationUri, source: identity.source,
            },
          },
        },
      },
    }, signal);
    const connection: OpcuaConnection = {
      endpointUrl: url,
      getEndpoints: async () => endpointsFromWire(await helper.call({ method: 'getEndpoints', args: {} }, signal)),
      async withSession(identity, fn) {
        const opened = await helper.call({ method: 'createSession', args: { identity } }, signal) as { handle: number; revisedSessionTimeoutMs: number; sessionId: string };
        let sessionId = opened.sessionId;
        const track = (id: string) => { sessionId = id; };
        const session: OpcuaSession = {
          revisedSessionTimeoutMs: opened.revisedSessionTimeoutMs,
          sessionId: () => sessionId,
          browse: async (nodeId, max) => await helper.call({ method: 'browse', args: { handle: opened.handle, nodeId, max } }, signal, track) as Awaited<ReturnType<OpcuaSession['browse']>>,
          read: async (nodeIds) => await helper.call({ method: 'read', args: { handle: opened.handle, nodeIds: [...nodeIds] } }, signal, track) as Awaited<ReturnType<OpcuaSession['read']>>,
          writeReadRestore: async (nodeId) => await helper.call({ method: 'writeReadRestore', args: { handle: opened.handle, nodeId } }, signal, track) as Awaited<ReturnType<OpcuaSession['writeReadRestore']>>,
        };
        try {
          return await fn(session);
        } finally {
          if (!signal.aborted) await helper.call({ method: 'endSession', args: { handle: opened.handle } }, signal).catch(() => undefined);
        }
      },
    };
    return await work(connection);
  } finally {
    if (signal.aborted) helper.kill();
    else await helper.close(signal);
  }
}
