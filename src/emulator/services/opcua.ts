import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import type * as NodeOpcua from 'node-opcua';
import type { OPCUAServer, ServerSession, Variant } from 'node-opcua';
import { makeApplicationCertificate, type CertificateHash } from '../../protocols/opcua/certificate';
import { loadOpcua } from '../../protocols/opcua/logging';
import { PKCS1V15_POLICIES } from '../../protocols/opcua/names';
import { packagePath } from '../../paths';
import type { LockoutConfig, LoginResult } from '../accounts';
import type { DeviceIdentity, RunningService, ServiceModule, ServicePosture } from '../types';
import { PostureError } from '../errors';
import { startOpcuaInHelper } from './opcua-helper';
import { startStrictFront, type StrictFront } from './opcua-front';

/** The `opcua` section of a posture. Every knob defaults to the secure choice. */
export interface OpcuaPosture extends ServicePosture {
  /** Short names: None, Basic128Rsa15, Basic256, Basic256Sha256, Aes128_Sha256_RsaOaep, Aes256_Sha256_RsaPss. */
  securityPolicies?: string[];
  securityModes?: Array<'None' | 'Sign' | 'SignAndEncrypt'>;
  /** Offer and accept the Anonymous user token. Default false. */
  allowAnonymous?: boolean;
  /** Add a UserName token policy without token encryption to the None endpoint (password in clear). */
  cleartextPasswordOnNone?: boolean;
  /** Trust any client application certificate on first use (node-opcua automaticallyAcceptUnknownCertificate). */
  acceptUnknownCertificates?: boolean;
  /** PEM/DER files of client certificates the device trusts (its commissioned trust list). */
  trustedClientCertificates?: string[];
  /** Server application certificate: RSA key size, signature hash, validity. */
  certificate?: { keyBits?: number; hash?: CertificateHash; validityDays?: number };
  /** Host name the endpoints advertise (default: the bind address). A probe must never follow it. */
  advertisedHostname?: string;
  maxSessions?: number;
  maxConnectionsPerEndpoint?: number;
  /** The section's own failed-login lockout; absent: the device-wide one. */
  lockout?: LockoutConfig | null;
  /** A broken authentication implementation: any password is accepted for a known user. */
  acceptAnyPassword?: boolean;
  /** Period of the Counter variable (the essential function a monitor watches). */
  counterPeriodMs?: number;
  /** Answer UserName checks of existing accounts this much later (CWE-208 timing leak). 0/absent: uniform. */
  knownUserDelayMs?: number;
  /** Active sessions per user; an activation beyond it is refused (BadUserAccessDenied). Absent: unlimited. */
  maxSessionsPerUser?: number;
  /** Upper bound of the session timeout granted in CreateSession (node-opcua's own is 50 min). */
  sessionTimeoutSeconds?: number;
  /**
   * Raise OPC UA audit events (Part 5 AuditEventType) on the Server object: node-opcua's own (CreateSession,
   * ActivateSession, CloseSession) with the ClientUserId set right, plus failed activations. Default true.
   */
  auditing?: boolean;
  /**
   * Validate every UA TCP chunk before node-opcua reads it (opcua-front.ts): message and chunk types, sizes,
   * the OpenSecureChannel's request type id; a violation is answered with ERR and a close. Default false.
   */
  strictFraming?: boolean;
}

/** The posture's names of policies and modes, as node-opcua's values. */
function vocabulary({ SecurityPolicy, MessageSecurityMode }: typeof NodeOpcua) {
  const policies: Record<string, NodeOpcua.SecurityPolicy> = {
    None: SecurityPolicy.None,
    Basic128Rsa15: SecurityPolicy.Basic128Rsa15,
    Basic256: SecurityPolicy.Basic256,
    Basic256Sha256: SecurityPolicy.Basic256Sha256,
    Aes128_Sha256_RsaOaep: SecurityPolicy.Aes128_Sha256_RsaOaep,
    Aes256_Sha256_RsaPss: SecurityPolicy.Aes256_Sha256_RsaPss,
  };
  const modes: Record<string, NodeOpcua.MessageSecurityMode> = {
    None: MessageSecurityMode.None, Sign: MessageSecurityMode.Sign, SignAndEncrypt: MessageSecurityMode.SignAndEncrypt,
  };
  return { policies, modes };
}

function pick<T>(names: readonly string[], table: Record<string, T>, what: string): T[] {
  return names.map((n) => {
    const v = table[n];
    if (v === undefined) throw new PostureError(`opcua: unknown ${what} "${n}" (known: ${Object.keys(table).join(', ')})`);
    return v;
  });
}

function slug(s: string): string {
  return s.replace(/[^A-Za-z0-9.-]+/g, '-');
}

/** Reads a PEM or DER certificate; a relative path that does not exist from the working directory is
 * taken relative to the iacs-probe package (so the built-in postures can name profiles/pki files). */
function readCertificate(file: string): Buffer {
  const resolved = path.isAbsolute(file) || fs.existsSync(file) ? file : packagePath(file);
  const text = fs.readFileSync(resolved);
  const b64 = /-----BEGIN CERTIFICATE-----([\s\S]+?)-----END CERTIFICATE-----/.exec(text.toString('latin1'))?.[1];
  return b64 ? Buffer.from(b64.replace(/\s+/g, ''), 'base64') : text;
}

/** What the OPC UA server needs of the device; plain data plus the account checks, so that it can also run
 * in a helper process (see opcua-helper.ts). */
export interface OpcuaDevice {
  readonly host: string;
  readonly identity: DeviceIdentity;
  readonly workDir: string;
  /** The port to bind (0: OS-chosen). */
  readonly port: number;
  readonly accounts: {
    has(username: string): boolean | Promise<boolean>;
    login(username: string, password: string, source: string, service?: string): LoginResult | Promise<LoginResult>;
    /** Whether the last login of this user from this source left the account locked. */
    isLocked?(username: string, source: string): boolean;
  };
  log(message: string): void;
}

/** The posture offers a policy whose OpenSecureChannel needs RSA PKCS#1 v1.5 decryption (Basic128Rsa15). */
export function offersPkcs1v15(config: OpcuaPosture): boolean {
  return (config.securityPolicies ?? []).some((p) => PKCS1V15_POLICIES.has(p));
}

/**
 * The emulated device's OPC UA server, always in a helper process: node-opcua has inputs it throws on outside
 * any handler (docs/robustness.md), and a crash must end that service only, never the emulator or the harness
 * beside it in `demo`. A posture that offers Basic128Rsa15 needs RSA PKCS#1 v1.5 decryption, which Node refuses
 * unless started with --security-revert=CVE-2023-46809: only that helper gets the flag.
 */
export const opcuaService: ServiceModule<OpcuaPosture> = {
  key: 'opcua',
  start(config, device) {
    const accounts = config.lockout === undefined ? device.accounts : device.accountsFor(config.lockout);
    const opcuaDevice: OpcuaDevice = {
      host: device.host, identity: device.identity, workDir: device.workDir, port: device.portFor(config.port), accounts,
      log: (m) => device.log(m),
    };
    return startOpcuaInHelper(config, opcuaDevice, offersPkcs1v15(config));
  },
};

/**
 * An OPC UA server (node-opcua OPCUAServer) configured from the posture: policies, modes, anonymous,
 * users from the device accounts (with the lockout), certificate trust, a small address space
 * (Device object with identity properties, a Counter and a writable TestSetpoint, ns=1;s=TestSetpoint),
 * BuildInfo from the device identity. Its PKI lives under the device work folder.
 */
export async function startOpcuaServer(config: OpcuaPosture, device: OpcuaDevice): Promise<RunningService> {
  // Loaded here, not at import: node-opcua's console output must be routed before it loads (loadOpcua).
  const lib = await loadOpcua();
  const { policies, modes } = vocabulary(lib);
  const id = device.identity;
  const applicationUri = `urn:${slug(id.vendor)}:${slug(id.model)}:${slug(id.serial)}`;
  const advertised = config.advertisedHostname ?? device.host;
  const pki = serverPki(lib, config, device, applicationUri, advertised);
  let audit: SessionAudit = () => undefined;
  let front: StrictFront | undefined;
  // Behind the strict front node-opcua sees the front's connection: the client's address is the front's to tell.
  const sourceOf = (session: ServerSession) => (session.channel && front?.sourceOf(session.channel.remotePort)) ?? session.channel?.remoteAddress ?? '';
  const users = userManager(config, device, sourceOf, (...args) => audit(...args));
  const started = Date.now();
  const server = new lib.OPCUAServer({
    port: config.strictFraming ? 0 : device.port,
    // Behind the front node-opcua listens on loopback only: its own port must not be one more open port of the device.
    host: config.strictFraming ? INTERNAL_HOST : device.host,
    hostname: advertised.includes(':') ? `[${advertised}]` : advertised,
    securityPolicies: pick(config.securityPolicies ?? ['Basic256Sha256'], policies, 'security policy'),
    securityModes: pick(config.securityModes ?? ['SignAndEncrypt'], modes, 'security mode'),
    allowAnonymous: config.allowAnonymous ?? false,
    serverCertificateManager: pki.serverCertificateManager,
    userCertificateManager: pki.userCertificateManager,
    certificateFile: pki.certificateFile,
    privateKeyFile: pki.privateKeyFile,
    timeout: 10_000,
    maxConnectionsPerEndpoint: config.maxConnectionsPerEndpoint ?? 10,
    serverCapabilities: { maxSessions: config.maxSessions ?? 10 },
    serverInfo: { applicationUri, productUri: `urn:${slug(id.vendor)}:${slug(id.model)}`, applicationName: { text: `${id.vendor} ${id.model}` } },
    buildInfo: {
      productName: id.model, productUri: `urn:${slug(id.vendor)}:${slug(id.model)}`, manufacturerName: id.vendor,
      softwareVersion: id.firmware, buildNumber: id.serial, buildDate: new Date(started),
    },
    isAuditing: config.auditing ?? true,
    userManager: users.manager,
  });
  try {
    await pki.serverCertificateManager.initialize();
    for (const file of config.trustedClientCertificates ?? []) await pki.serverCertificateManager.trustCertificate(readCertificate(file));
    await server.initialize();
    if (config.cleartextPasswordOnNone) allowCleartextPassword(lib, server);
    populateAddressSpace(lib, server, id, started, config.counterPeriodMs ?? 1000);
    if (config.auditing ?? true) audit = auditActivations(server);
    server.on('session_closed', (session: ServerSession) => users.forget(session));
    if (config.sessionTimeoutSeconds !== undefined) capSessionTimeout(server, config.sessionTimeoutSeconds * 1000);
    await server.start();
    if (config.strictFraming) front = await startFront(server, device);
  } catch (err) {
    await front?.close();
    await server.shutdown(0).catch(() => undefined);
    await pki.dispose();
    throw err;
  }
  const port = front?.port ?? server.endpoints[0].port;
  device.log(`opcua listening on ${device.host}:${port} (${config.securityModes?.join('/') ?? 'SignAndEncrypt'}${front ? ', strict framing' : ''})`);
  let closing: Promise<void> | undefined;
  return {
    endpoints: [{ protocol: 'opcua', host: device.host, port }],
    close: () => (closing ??= (async () => {
      users.cancelDelays();
      await front?.close();
      await server.shutdown(0);
      await pki.dispose();
    })()),
  };
}

/**
 * The strict framing front on the posture's port, node-opcua (listening on an OS-chosen port) behind it; the
 * endpoints advertise the front's port, as clients must connect there (and CreateSession checks the URL).
 */
/** Where node-opcua listens behind the strict front. */
const INTERNAL_HOST = '127.0.0.1';

async function startFront(server: OPCUAServer, device: OpcuaDevice): Promise<StrictFront> {
  const front = await startStrictFront({ host: device.host, port: device.port }, { host: INTERNAL_HOST, port: server.endpoints[0].port }, (m) => device.log(m));
  for (const endpoint of server.endpoints) {
    for (const description of endpoint.endpointDescriptions()) {
      const url = Object.getOwnPropertyDescriptor(description, 'endpointUrl')?.get?.bind(description);
      if (!url) throw new Error('opcua: node-opcua no longer computes endpointUrl at run time; cannot advertise the front\'s port');
      Object.defineProperty(description, 'endpointUrl', {
        get: () => String(url()).replace(/^(opc\.tcp:\/\/(?:\[[^\]]*\]|[^/:]*)):\d+/, `$1:${front.port}`), configurable: true,
      });
    }
  }
  return front;
}

/** The server's application certificate (from the posture's knobs) and its certificate stores, under the work folder. */
function serverPki({ OPCUACertificateManager }: typeof NodeOpcua, config: OpcuaPosture, device: OpcuaDevice, applicationUri: string, advertised: string) {
  const id = device.identity;
  const root = fs.mkdtempSync(path.join(device.workDir, 'opcua-'));
  const cert = config.certificate ?? {};
  const pair = makeApplicationCertificate({
    applicationUri, commonName: `${id.vendor} ${id.model}`, organization: id.vendor,
    hosts: [...new Set([device.host, advertised, 'localhost', os.hostname()])],
    keyBits: cert.keyBits ?? 2048, hash: cert.hash ?? 'sha256',
    notAfter: new Date(Date.now() + (cert.validityDays ?? 365) * 86400_000),
  });
  const certificateFile = path.join(root, 'server_certificate.pem');
  const privateKeyFile = path.join(root, 'server_private_key.pem');
  fs.writeFileSync(certificateFile, pair.certificatePem);
  fs.writeFileSync(privateKeyFile, pair.privateKeyPem, { mode: 0o600 });
  const serverCertificateManager = new OPCUACertificateManager({
    rootFolder: path.join(root, 'pki'), automaticallyAcceptUnknownCertificate: config.acceptUnknownCertificates ?? false,
    disableFileWatchers: true,
  });
  const userCertificateManager = new OPCUACertificateManager({
    rootFolder: path.join(root, 'user-pki'), automaticallyAcceptUnknownCertificate: false, disableFileWatchers: true,
  });
  return {
    certificateFile, privateKeyFile, serverCertificateManager, userCertificateManager,
    dispose: async () => {
      await serverCertificateManager.dispose();
      await userCertificateManager.dispose();
    },
  };
}

/** Reports a refused activation to the device's OPC UA audit events. */
type SessionAudit = (session: ServerSession, username: string, message: string) => void;

/**
 * node-opcua 2.182.2 with isAuditing raises AuditActivateSessionEventType only for a successful activation,
 * and with ClientUserId "cc" whatever the user: the device sets the user from the token it accepted, and
 * raises the refused activations itself (Status false, the user, the reason in Message).
 */
function auditActivations(server: OPCUAServer): SessionAudit {
  type Fields = Record<string, { dataType?: string; value?: unknown } | undefined>;
  const raise = server.raiseEvent.bind(server) as (type: string, fields: Fields) => void;
  (server as unknown as { raiseEvent: typeof raise }).raiseEvent = (type, fields) => {
    if (type === 'AuditActivateSessionEventType' && fields.status?.value === true) {
      const token = fields.userIdentityToken?.value as { userName?: string } | null | undefined;
      fields.clientUserId = { dataType: 'String', value: token?.userName ?? 'anonymous' };
      fields.message = { dataType: 'LocalizedText', value: { text: `session activated for ${token?.userName ?? 'anonymous'}` } };
    }
    raise(type, fields);
  };
  return (session, username, message) => raise('AuditActivateSessionEventType', {
    actionTimeStamp: { dataType: 'DateTime', value: new Date() },
    status: { dataType: 'Boolean', value: false },
    serverId: { dataType: 'String', value: '' },
    clientAuditEntryId: { dataType: 'String', value: '' },
    clientUserId: { dataType: 'String', value: username },
    sourceName: { dataType: 'String', value: 'Session/ActivateSession' },
    message: { dataType: 'LocalizedText', value: { text: message } },
    sessionId: { dataType: 'NodeId', value: session.nodeId },
    secureChannelId: { dataType: 'String', value: session.channel?.channelId?.toString() ?? '' },
    severity: { dataType: 'UInt16', value: 500 },
  });
}

/** UserName checks against the device accounts: lockout, sessions per user, the known-user timing knob. */
function userManager(config: OpcuaPosture, device: OpcuaDevice, sourceOf: (session: ServerSession) => string, audit: SessionAudit) {
  const accounts = device.accounts;
  const sessionUsers = new Map<ServerSession, string>();
  const delays = new Set<NodeJS.Timeout>();
  const checkUser = async (session: ServerSession, username: string, password: string): Promise<boolean> => {
    if (config.acceptAnyPassword) return accounts.has(username);
    const open = [...sessionUsers].filter(([s, u]) => u === username && s !== session).length;
    const source = sourceOf(session);
    const result = await accounts.login(username, password, source, 'opcua');
    const ok = result === 'ok';
    if (result === 'locked') audit(session, username, `login refused for ${username}: account locked`);
    else if (!ok) {
      audit(session, username, `login failed for ${username}: wrong user name or password`);
      // The failure that reached the threshold: the lock is an event of its own (as ACCT_LOCK in syslog).
      if (accounts.isLocked?.(username, source)) audit(session, username, `account ${username} locked after repeated failed logins`);
    }
    if (ok && config.maxSessionsPerUser !== undefined && open >= config.maxSessionsPerUser) {
      device.log(`opcua: ${username} already has ${open} session(s); refusing another`);
      audit(session, username, `session limit: ${username} already has ${open} session(s)`);
      return false;
    }
    if (ok) sessionUsers.set(session, username);
    return ok;
  };
  return {
    manager: {
      isValidUserAsync(this: ServerSession, username: string, password: string, callback: (err: Error | null, ok?: boolean) => void): void {
        void (async () => {
          const ok = await checkUser(this, username, password);
          if (!config.knownUserDelayMs || !(await accounts.has(username))) return callback(null, ok);
          const t = setTimeout(() => {
            delays.delete(t);
            callback(null, ok);
          }, config.knownUserDelayMs);
          delays.add(t);
        })().catch((err: unknown) => callback(err instanceof Error ? err : new Error(String(err))));
      },
    },
    forget: (session: ServerSession) => sessionUsers.delete(session),
    cancelDelays: () => {
      for (const t of delays) clearTimeout(t);
      delays.clear();
    },
  };
}

/**
 * The device's address space: a Device object with identity properties, a Counter that advances every
 * `periodMs` (the essential function a monitor watches) and a writable TestSetpoint (ns=1;s=TestSetpoint).
 */
function populateAddressSpace(lib: typeof NodeOpcua, server: OPCUAServer, id: OpcuaDevice['identity'], started: number, periodMs: number): void {
  const { DataType, StatusCodes, Variant } = lib;
  const addressSpace = server.engine.addressSpace;
  if (!addressSpace) throw new Error('opcua: the server has no address space');
  const ns = addressSpace.getOwnNamespace();
  const deviceObject = ns.addObject({ organizedBy: addressSpace.rootFolder.objects, browseName: id.model, nodeId: 's=Device' });
  for (const [name, value] of [['Manufacturer', id.vendor], ['Model', id.model], ['SerialNumber', id.serial], ['FirmwareVersion', id.firmware]]) {
    ns.addVariable({ propertyOf: deviceObject, browseName: name, nodeId: `s=${name}`, dataType: 'String', value: { dataType: DataType.String, value } });
  }
  ns.addVariable({
    componentOf: deviceObject, browseName: 'Counter', nodeId: 's=Counter', dataType: 'UInt32',
    // Computed from the clock, so there is no timer to leak.
    value: { get: () => new Variant({ dataType: DataType.UInt32, value: Math.floor((Date.now() - started) / periodMs) % 2 ** 32 }) },
  });
  let setpoint = 42.0;
  ns.addVariable({
    componentOf: deviceObject, browseName: 'TestSetpoint', nodeId: 's=TestSetpoint', dataType: 'Double',
    accessLevel: 'CurrentRead | CurrentWrite', userAccessLevel: 'CurrentRead | CurrentWrite',
    value: {
      get: () => new Variant({ dataType: DataType.Double, value: setpoint }),
      set: (v: Variant) => {
        setpoint = Number(v.value);
        return StatusCodes.Good;
      },
    },
  });
}

/**
 * node-opcua grants what the client asks up to 50 min; the "request" event comes before the handler, so the
 * device's own bound is applied to the request itself.
 */
function capSessionTimeout(server: OPCUAServer, capMs: number): void {
  server.on('request', (request: { schema: { name: string }; requestedSessionTimeout?: number }) => {
    if (request.schema.name === 'CreateSessionRequest') request.requestedSessionTimeout = Math.min(request.requestedSessionTimeout || capMs, capMs);
  });
}

/**
 * node-opcua builds the UserName token policy of a None endpoint with token encryption, and its
 * `allowUnsecurePassword` switch is not wired to OPCUAServer's options: add the unencrypted policy the
 * way that switch would (policyId "username_unsecure", no securityPolicyUri), first in the list so
 * clients pick it. The server then takes the password in clear (its own code path for policy None).
 */
function allowCleartextPassword({ SecurityPolicy, UserTokenPolicy, UserTokenType }: typeof NodeOpcua, server: OPCUAServer): void {
  for (const endpoint of server.endpoints) {
    for (const description of endpoint.endpointDescriptions()) {
      if (description.securityPolicyUri !== SecurityPolicy.None || (description as { restricted?: boolean }).restricted) continue;
      const policy = new UserTokenPolicy({ policyId: 'username_unsecure', tokenType: UserTokenType.UserName, securityPolicyUri: null });
      description.userIdentityTokens = [policy, ...(description.userIdentityTokens ?? [])];
    }
  }
}
