import * as crypto from 'node:crypto';
import type * as NodeOpcua from 'node-opcua';
import type { ClientSession, DataType, EndpointDescription, OPCUAClient, OPCUAClientOptions, UserIdentityInfo } from 'node-opcua';
import { TargetTimeout } from '../../sdk';
import { OpcuaStatusError, toProbeError, type OpcuaStage } from './errors';
import { HARNESS_APPLICATION_NAME, harnessIdentity, type ClientIdentity } from './identity';
import { loadOpcua } from './logging';
import { withLegacyOpcuaClient } from './legacy';
import {
  needsLegacyProcess, policyShortName, policyUri, securityModeName, tokenTypeName, type SecurityModeName, type TokenTypeName,
} from './names';
import { repairOpensslConf } from '../child-env';

/** The declared service: the only host and port the adapter ever connects to. */
export interface OpcuaTarget {
  readonly host: string;
  readonly port: number;
}

/** Secure channel settings for Sign / SignAndEncrypt endpoints. */
export interface ChannelSecurity {
  readonly mode: 'Sign' | 'SignAndEncrypt';
  /** Short name ("Basic256Sha256") or URI. */
  readonly policy: string;
  /** The server certificate from GetEndpoints (the client needs it to encrypt the first message). */
  readonly serverCertificate: Buffer;
  readonly identity: ClientIdentity;
}

export interface OpcuaClientOptions {
  readonly signal: AbortSignal;
  /** Epoch ms by which everything must be over (the attempt's deadline); bounds each operation. */
  readonly deadline?: number;
  /** Upper bound for one network operation (hello/ack, one request). Default 10 s. */
  readonly timeoutMs?: number;
  /** Resource path of the endpoint ("/UA/Server"), taken from its advertised URL. */
  readonly path?: string;
  /** Absent: an unsecured channel (SecurityPolicy None), as GetEndpoints uses. */
  readonly security?: ChannelSecurity;
  /** Session timeout to ask for in CreateSession (default: the attempt's remaining budget plus 10 s, 10-60 s). */
  readonly requestedSessionTimeoutMs?: number;
}

export interface UserTokenPolicySummary {
  policyId: string;
  tokenType: TokenTypeName;
  /** Short name of the token's own security policy, or null when it inherits the endpoint's. */
  securityPolicy: string | null;
}

/** One endpoint from GetEndpoints, as plain data. */
export interface EndpointSummary {
  endpointUrl: string;
  securityMode: SecurityModeName;
  securityPolicy: string;
  securityPolicyUri: string;
  securityLevel: number;
  userTokens: TokenTypeName[];
  userTokenPolicies: UserTokenPolicySummary[];
  transportProfileUri: string;
  server: { applicationUri: string; productUri: string; applicationName: string };
}

export interface DiscoveredEndpoint extends EndpointSummary {
  /** DER (possibly a chain); null when the server sent none. */
  serverCertificate: Buffer | null;
}

export type UserIdentity =
  /** `unadvertisedPolicyId`: send an AnonymousIdentityToken with this policy id even where the endpoint
   * offers no Anonymous token policy (does the server accept a token it does not advertise?). */
  | { readonly type: 'anonymous'; readonly unadvertisedPolicyId?: string }
  | { readonly type: 'username'; readonly username: string; readonly password: string };

export interface BrowsedNode {
  nodeId: string;
  browseName: string;
  displayName: string;
  nodeClass: string;
}

export interface ReadValue {
  nodeId: string;
  status: string;
  dataType: string | null;
  value: string | null;
}

export interface WriteCheck {
  nodeId: string;
  dataType: string;
  original: string;
  written: string;
  writeStatus: string;
  readBack: string | null;
  /** The written value was read back: the write took effect. */
  changed: boolean;
  restoreStatus: string | null;
  restored: boolean;
}

export interface OpcuaSession {
  /** The session timeout the server granted in CreateSession (revisedSessionTimeout, ms). */
  readonly revisedSessionTimeoutMs: number;
  /** The current session id. node-opcua recreates a session the server dropped (and repeats the request
   * on the new one) by itself: a changed id is how a caller learns that the old session had ended. */
  sessionId(): string;
  browse(nodeId: string, max?: number): Promise<BrowsedNode[]>;
  read(nodeIds: readonly string[]): Promise<ReadValue[]>;
  /** Reads, writes a different value, reads it back and writes the original again. */
  writeReadRestore(nodeId: string): Promise<WriteCheck>;
}

export interface OpcuaConnection {
  /** The URL the channel was opened on (always the declared host and port). */
  readonly endpointUrl: string;
  getEndpoints(): Promise<DiscoveredEndpoint[]>;
  /** CreateSession + ActivateSession with this identity; closes the session after `work`. */
  withSession<T>(identity: UserIdentity, work: (session: OpcuaSession) => Promise<T>): Promise<T>;
}

const DEFAULT_OPERATION_MS = 10_000;
const MIN_OPERATION_MS = 250;

/**
 * The URL to connect to for an advertised endpoint: the declared host and port with the endpoint's
 * resource path. A server's advertised host name is never followed.
 */
export function targetUrl(target: OpcuaTarget, path = ''): string {
  const host = target.host.includes(':') ? `[${target.host}]` : target.host;
  return `opc.tcp://${host}:${target.port}${path}`;
}

/** The resource path of an advertised endpoint URL ("opc.tcp://plc:4840/UA/Server" -> "/UA/Server"). */
export function endpointPath(endpointUrl: string): string {
  const m = /^opc\.tcp:\/\/(\[[^\]]*\]|[^/]*)(\/.*)?$/i.exec(endpointUrl.trim());
  return m?.[2] && m[2] !== '/' ? m[2] : '';
}

function operationTimeout(options: OpcuaClientOptions): number {
  const cap = options.timeoutMs ?? DEFAULT_OPERATION_MS;
  if (options.deadline === undefined) return cap;
  return Math.max(MIN_OPERATION_MS, Math.min(cap, options.deadline - Date.now() - 100));
}

/** Settles with `work`, or rejects as soon as the signal aborts (the listener has broken the socket). */
function raceSignal<T>(work: Promise<T>, signal: AbortSignal): Promise<T> {
  if (signal.aborted) {
    work.catch(() => undefined);
    return Promise.reject(signal.reason instanceof Error ? signal.reason : new TargetTimeout('aborted'));
  }
  let onAbort: (() => void) | undefined;
  const aborted = new Promise<never>((_resolve, reject) => {
    onAbort = () => reject(signal.reason instanceof Error ? signal.reason : new TargetTimeout('aborted'));
    signal.addEventListener('abort', onAbort, { once: true });
  });
  return Promise.race([work, aborted]).finally(() => {
    if (onAbort) signal.removeEventListener('abort', onAbort);
    work.catch(() => undefined);
  });
}

function summarize(e: EndpointDescription): DiscoveredEndpoint {
  const policies: UserTokenPolicySummary[] = (e.userIdentityTokens ?? []).map((t) => ({
    policyId: t.policyId ?? '',
    tokenType: tokenTypeName(t.tokenType),
    securityPolicy: policyShortName(t.securityPolicyUri),
  }));
  return {
    endpointUrl: e.endpointUrl ?? '',
    securityMode: securityModeName(e.securityMode),
    securityPolicy: policyShortName(e.securityPolicyUri) ?? 'None',
    securityPolicyUri: e.securityPolicyUri ?? '',
    securityLevel: e.securityLevel ?? 0,
    userTokens: [...new Set(policies.map((p) => p.tokenType))],
    userTokenPolicies: policies,
    transportProfileUri: e.transportProfileUri ?? '',
    server: {
      applicationUri: e.server?.applicationUri ?? '',
      productUri: e.server?.productUri ?? '',
      applicationName: e.server?.applicationName?.text ?? '',
    },
    serverCertificate: e.serverCertificate && e.serverCertificate.length > 0 ? Buffer.from(e.serverCertificate) : null,
  };
}

/** Breaks the TCP connection now, so pending requests fail at once instead of waiting for their timeout. */
export function breakConnection(client: OPCUAClient): void {
  // _secureChannel is public on node-opcua's implementation but not on its interface.
  const channel = (client as unknown as { _secureChannel?: { forceConnectionBreak?: () => void } | null })._secureChannel;
  try {
    channel?.forceConnectionBreak?.();
  } catch {
    // the channel was already gone
  }
}

function stringify(value: unknown): string {
  if (value === null || value === undefined) return String(value);
  if (Buffer.isBuffer(value)) return `0x${value.toString('hex').slice(0, 64)}`;
  if (value instanceof Date) return value.toISOString();
  if (typeof value === 'object') return JSON.stringify(value, (_k, v: unknown) => (typeof v === 'bigint' ? v.toString() : v)).slice(0, 200);
  return String(value);
}

/** A value different from `value` of the same data type, for the write check; undefined if unsupported. */
function otherValue({ DataType }: typeof NodeOpcua, dataType: DataType, value: unknown): unknown {
  switch (dataType) {
    case DataType.Boolean: return !value;
    case DataType.String: return `${String(value ?? '')}~`;
    case DataType.Float: case DataType.Double: return Number(value) + 1;
    case DataType.SByte: case DataType.Int16: case DataType.Int32:
    case DataType.Byte: case DataType.UInt16: case DataType.UInt32: return Number(value) === 0 ? 1 : Number(value) - 1;
    default: return undefined;
  }
}

function makeSession(lib: typeof NodeOpcua, session: ClientSession, run: <T>(stage: OpcuaStage, work: () => Promise<T>) => Promise<T>): OpcuaSession {
  const { AttributeIds, BrowseDirection, DataType, NodeClass } = lib;
  const readOne = async (nodeId: string) => (await run('read', () => session.read({ nodeId, attributeId: AttributeIds.Value })));
  return {
    revisedSessionTimeoutMs: session.timeout,
    sessionId: () => session.sessionId.toString(),
    async browse(nodeId, max = 100) {
      const result = await run('browse', () => session.browse({
        nodeId, browseDirection: BrowseDirection.Forward, referenceTypeId: 'HierarchicalReferences', includeSubtypes: true,
        nodeClassMask: 0, resultMask: 63,
      }));
      if (result.statusCode.isNotGood()) throw new OpcuaStatusError('browse', result.statusCode.name, `browse ${nodeId}: ${result.statusCode.name}`);
      return (result.references ?? []).slice(0, max).map((r) => ({
        nodeId: r.nodeId.toString(),
        browseName: r.browseName.toString(),
        displayName: r.displayName.text ?? '',
        nodeClass: NodeClass[r.nodeClass] ?? String(r.nodeClass),
      }));
    },
    async read(nodeIds) {
      if (nodeIds.length === 0) return [];
      const values = await run('read', () => session.read(nodeIds.map((nodeId) => ({ nodeId, attributeId: AttributeIds.Value }))));
      return values.map((dv, i) => ({
        nodeId: nodeIds[i],
        status: dv.statusCode.name,
        dataType: dv.value ? DataType[dv.value.dataType] ?? null : null,
        value: dv.statusCode.isGood() && dv.value ? stringify(dv.value.value) : null,
      }));
    },
    async writeReadRestore(nodeId) {
      const before = await readOne(nodeId);
      if (before.statusCode.isNotGood()) throw new OpcuaStatusError('read', before.statusCode.name, `read ${nodeId}: ${before.statusCode.name}`);
      const { dataType, value } = before.value;
      const next = otherValue(lib, dataType, value);
      if (next === undefined) throw new OpcuaStatusError('write', 'Unsupported', `${nodeId} holds a ${DataType[dataType]}, which the write check does not handle`);
      const write = (v: unknown) => run('write', () => session.write({ nodeId, attributeId: AttributeIds.Value, value: { value: { dataType, value: v } } }));
      const writeStatus = await write(next);
      const check: WriteCheck = {
        nodeId, dataType: DataType[dataType], original: stringify(value), written: stringify(next), writeStatus: writeStatus.name,
        readBack: null, changed: false, restoreStatus: null, restored: false,
      };
      if (writeStatus.isNotGood()) return check;
      const after = await readOne(nodeId);
      check.readBack = after.value ? stringify(after.value.value) : null;
      check.changed = check.readBack === check.written;
      const restoreStatus = await write(value);
      check.restoreStatus = restoreStatus.name;
      const restored = await readOne(nodeId);
      check.restored = restored.value ? stringify(restored.value.value) === check.original : false;
      return check;
    },
  };
}

/**
 * The harness's client settings, one place for every OPC UA client it makes (probes, audit subscriber, monitor):
 * no retries, every wait bounded by `timeoutMs`, no session kept alive, and always an in-memory certificate
 * (without one node-opcua creates a default PKI under ~/.config).
 */
export function harnessClientOptions(
  lib: typeof NodeOpcua,
  o: { identity: ClientIdentity; security?: Pick<ChannelSecurity, 'mode' | 'policy' | 'serverCertificate'>; timeoutMs: number; requestedSessionTimeoutMs: number },
): OPCUAClientOptions {
  return {
    applicationName: HARNESS_APPLICATION_NAME,
    applicationUri: o.identity.applicationUri,
    certificateKeyPairProvider: new lib.StaticCertificateChainProvider([o.identity.certificate], { hidden: crypto.createPrivateKey(o.identity.privateKeyPem) }),
    connectionStrategy: { maxRetry: 0, initialDelay: 100, maxDelay: 200, randomisationFactor: 0 },
    endpointMustExist: false,
    keepSessionAlive: false,
    transportTimeout: o.timeoutMs,
    defaultTransactionTimeout: o.timeoutMs,
    requestedSessionTimeout: o.requestedSessionTimeoutMs,
    defaultSecureTokenLifetime: 600_000,
    ...(o.security ? {
      securityMode: o.security.mode === 'Sign' ? lib.MessageSecurityMode.Sign : lib.MessageSecurityMode.SignAndEncrypt,
      securityPolicy: policyUri(o.security.policy),
      serverCertificate: o.security.serverCertificate,
    } : {}),
  };
}

/**
 * Opens one OPC UA client connection to the declared target, runs `work`, and always disconnects.
 * Retries are off (`maxRetry: 0`), every wait is bounded by the operation timeout and the attempt's
 * deadline, the signal breaks the connection at once, and the server's advertised host names are
 * never followed (the URL is rebuilt from the declared host and port).
 */
export async function withOpcuaClient<T>(target: OpcuaTarget, options: OpcuaClientOptions, work: (connection: OpcuaConnection) => Promise<T>): Promise<T> {
  const url = targetUrl(target, options.path);
  const { security, signal } = options;
  if (signal.aborted) throw new TargetTimeout(`${url}: aborted before connecting`);
  if (security && needsLegacyProcess(security.policy)) return withLegacyOpcuaClient(target, options, url, work);
  const lib = await loadOpcua();
  const { OPCUAClient, UserTokenPolicy, UserTokenType } = lib;
  const timeout = operationTimeout(options);
  const client = OPCUAClient.create(harnessClientOptions(lib, {
    identity: security?.identity ?? harnessIdentity(), security, timeoutMs: timeout,
    // The server drops our session this long after we vanish (an aborted attempt cannot close it).
    requestedSessionTimeoutMs: options.requestedSessionTimeoutMs
      ?? Math.max(10_000, Math.min(60_000, (options.deadline ?? Date.now() + 30_000) - Date.now() + 10_000)),
  }));
  const onAbort = () => {
    breakConnection(client);
    client.disconnect().catch(() => undefined);
  };
  signal.addEventListener('abort', onAbort, { once: true });
  const run = async <R>(stage: OpcuaStage, op: () => Promise<R>): Promise<R> => {
    try {
      return await raceSignal(op(), signal);
    } catch (err) {
      throw toProbeError(err, stage, url, signal);
    }
  };
  try {
    await run('channel', () => client.connect(url));
    const connection: OpcuaConnection = {
      endpointUrl: url,
      getEndpoints: async () => (await run('channel', () => client.getEndpoints())).map(summarize),
      async withSession(identity, fn) {
        const info: UserIdentityInfo = identity.type === 'anonymous'
          ? { type: UserTokenType.Anonymous }
          : { type: UserTokenType.UserName, userName: identity.username, password: identity.password };
        if (identity.type === 'anonymous' && identity.unadvertisedPolicyId) {
          // The client builds tokens from the endpoint descriptions it holds (the array getEndpoints
          // returns): give the ones without an Anonymous policy the id to send.
          const held = await run('channel', () => client.getEndpoints());
          for (const e of held) {
            if ((e.userIdentityTokens ?? []).some((p) => p.tokenType === UserTokenType.Anonymous)) continue;
            e.userIdentityTokens = [...(e.userIdentityTokens ?? []), new UserTokenPolicy({ policyId: identity.unadvertisedPolicyId, tokenType: UserTokenType.Anonymous })];
          }
        }
        const session = await run('session', () => client.createSession(info));
        try {
          return await fn(makeSession(lib, session, run));
        } finally {
          if (!signal.aborted) await raceSignal(session.close(), signal).catch(() => undefined);
        }
      },
    };
    return await work(connection);
  } finally {
    signal.removeEventListener('abort', onAbort);
    if (signal.aborted) breakConnection(client);
    await client.disconnect().catch(() => undefined);
    repairOpensslConf();
  }
}

/** GetEndpoints over an unsecured channel (the discovery path every OPC UA server offers). */
export async function discoverEndpoints(target: OpcuaTarget, options: Omit<OpcuaClientOptions, 'security'>): Promise<DiscoveredEndpoint[]> {
  return withOpcuaClient(target, options, (c) => c.getEndpoints());
}

export { OpcuaStatusError };
