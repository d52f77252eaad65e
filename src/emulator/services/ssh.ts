import * as fs from 'node:fs';
import * as net from 'node:net';
import * as path from 'node:path';
import {
  Server, utils, type Algorithms, type AuthContext, type AuthenticationType, type Connection, type ParsedKey, type ServerChannel, type Session,
} from 'ssh2';
import {
  SUPPORTED_CIPHER, SUPPORTED_COMPRESSION, SUPPORTED_KEX, SUPPORTED_MAC, SUPPORTED_SERVER_HOST_KEY,
} from 'ssh2/lib/protocol/constants';
import type { LockoutConfig } from '../accounts';
import { listenTcp } from '../net';
import type { DeviceContext, ServiceModule, ServicePosture } from '../types';
import { PostureError } from '../errors';

export interface SshHostKeySpec {
  type: 'rsa' | 'ecdsa' | 'ed25519';
  /** RSA modulus bits (default 3072) or ECDSA curve size 256/384/521 (default 256). */
  bits?: number;
}

export type SshAuthMethod = 'password' | 'keyboard-interactive' | 'publickey';

/** The `services.ssh` section of a posture. Every field changes what an SSH client sees. */
export interface SshPosture extends ServicePosture {
  /** Software part of the identification ("SSH-2.0-<ident>"); default derived from the device identity. */
  ident?: string;
  /** Host keys generated at start into the work folder (reused when already there); default one ed25519 key. */
  hostKeys?: SshHostKeySpec[];
  /** Offered algorithms in preference order (names ssh2 implements; see docs/ssh.md for the gaps). */
  algorithms?: { kex?: string[]; serverHostKey?: string[]; cipher?: string[]; mac?: string[]; compress?: string[] };
  /** Pre-authentication banner (SSH_MSG_USERAUTH_BANNER); null or absent: none. */
  banner?: string | null;
  /** Methods offered to users (default password and keyboard-interactive). */
  authMethods?: SshAuthMethod[];
  /** Accept "none" authentication: any user gets in without a credential. */
  acceptNone?: boolean;
  /** OpenSSH public key lines accepted for publickey authentication, per user. */
  authorizedKeys?: Record<string, string[]>;
  /** root may log in with a password (when an account named root exists). Default false: root is offered
   * publickey only, as with OpenSSH's PermitRootLogin prohibit-password. */
  rootLogin?: boolean;
  /** Lockout for SSH only; absent: the device-wide lockout; null: none. */
  lockout?: LockoutConfig | null;
  /** Close an authenticated connection after this many seconds without channel activity; 0/absent: never. */
  idleTimeoutSeconds?: number;
  /** Concurrent authenticated connections per user; a login beyond it is refused. Absent: unlimited. */
  maxSessionsPerUser?: number;
  /** Seconds a client has to authenticate before it is disconnected (default 60). */
  loginGraceSeconds?: number;
  /** Answer password checks of existing accounts this much later (a password hash computed only for
   * users that exist, CWE-208): the time to a refusal then tells who exists. 0/absent: uniform. */
  knownUserDelayMs?: number;
}

const SUPPORTED = {
  kex: SUPPORTED_KEX, serverHostKey: SUPPORTED_SERVER_HOST_KEY, cipher: SUPPORTED_CIPHER, mac: SUPPORTED_MAC,
  compress: SUPPORTED_COMPRESSION,
} as const;

/** An SSH section the emulator cannot run as written. */
export class SshPostureError extends PostureError {}

function checkAlgorithms(algorithms: NonNullable<SshPosture['algorithms']>): void {
  for (const [list, names] of Object.entries(algorithms) as [keyof typeof SUPPORTED, string[] | undefined][]) {
    const supported = SUPPORTED[list] as readonly string[] | undefined;
    if (!supported) throw new SshPostureError(`services.ssh.algorithms.${list}: unknown list (kex, serverHostKey, cipher, mac, compress)`);
    const missing = (names ?? []).filter((n) => !supported.includes(n));
    if (missing.length > 0) {
      throw new SshPostureError(`services.ssh.algorithms.${list}: ${missing.join(', ')} not implemented by ssh2 (supported: ${supported.join(', ')})`);
    }
  }
}

/** The posture's lists under ssh2's option names (ssh2 calls the MAC list `hmac`). */
function toSsh2Algorithms(a: NonNullable<SshPosture['algorithms']>): Algorithms {
  const { mac, ...rest } = a;
  // ssh2's typed unions lag behind the names it implements; checkAlgorithms validated them.
  return { ...rest, ...(mac ? { hmac: mac } : {}) } as Algorithms;
}

/** Generates (or reuses) one host key in OpenSSH format under the work folder. */
function hostKey(spec: SshHostKeySpec, workDir: string): string {
  const bits = spec.bits ?? (spec.type === 'rsa' ? 3072 : spec.type === 'ecdsa' ? 256 : undefined);
  const file = path.join(workDir, `ssh_host_${spec.type}${bits ? `_${bits}` : ''}_key`);
  if (fs.existsSync(file)) return fs.readFileSync(file, 'utf8');
  const generate = (): { private: string; public: string } => {
    if (spec.type === 'rsa') return utils.generateKeyPairSync('rsa', { bits: bits ?? 3072, comment: 'emulator host key' });
    if (spec.type === 'ecdsa') {
      if (bits !== 256 && bits !== 384 && bits !== 521) throw new SshPostureError(`services.ssh.hostKeys: ecdsa bits must be 256, 384 or 521, not ${bits}`);
      return utils.generateKeyPairSync('ecdsa', { bits, comment: 'emulator host key' });
    }
    if (spec.type === 'ed25519') return utils.generateKeyPairSync('ed25519', { comment: 'emulator host key' });
    throw new SshPostureError(`services.ssh.hostKeys: unknown key type ${String((spec as { type: unknown }).type)}`);
  };
  // ssh2 1.17 now and then writes an ed25519 key its own parser rejects ("Malformed OpenSSH private
  // key", about 3 in 1000 here): generate again until the key parses.
  let pair = generate();
  for (let tries = 1; utils.parseKey(pair.private) instanceof Error; tries++) {
    if (tries >= 20) throw new SshPostureError(`services.ssh.hostKeys: ssh2 could not make a ${spec.type} key it can parse`);
    pair = generate();
  }
  fs.writeFileSync(file, pair.private, { mode: 0o600 });
  fs.writeFileSync(`${file}.pub`, pair.public);
  return pair.private;
}

function parsePublicKeys(lines: readonly string[], user: string): ParsedKey[] {
  return lines.map((line) => {
    const key = utils.parseKey(line);
    if (key instanceof Error) throw new SshPostureError(`services.ssh.authorizedKeys.${user}: ${key.message}`);
    return key;
  });
}

/** A minimal shell: a prompt, `show version`, `exit`; anything else is echoed back. */
function runShell(stream: ServerChannel, device: DeviceContext, touch: () => void): void {
  let buffered = '';
  stream.write(`${device.identity.vendor} ${device.identity.model} shell. Type 'exit' to leave.\r\n> `);
  stream.on('data', (chunk: Buffer) => {
    touch();
    buffered += chunk.toString('utf8');
    let nl: number;
    while ((nl = buffered.search(/\r|\n/)) !== -1) {
      const line = buffered.slice(0, nl).trim();
      buffered = buffered.slice(nl + 1).replace(/^\n/, '');
      if (line === 'exit' || line === 'logout') {
        stream.write('bye\r\n');
        stream.exit(0);
        stream.end();
        return;
      }
      stream.write(line === 'show version' ? `${device.identity.model} firmware ${device.identity.firmware}\r\n> ` : `${line}\r\n> `);
    }
  });
}

function execReply(command: string, device: DeviceContext): string {
  return command.trim() === 'show version' ? `${device.identity.model} firmware ${device.identity.firmware}\n` : `${command}\n`;
}

/** Timers of the service, all cleared on close. */
class Timers {
  private readonly live = new Set<NodeJS.Timeout>();
  after(ms: number, fn: () => void): NodeJS.Timeout {
    const t = setTimeout(() => {
      this.live.delete(t);
      fn();
    }, ms);
    this.live.add(t);
    return t;
  }
  cancel(t: NodeJS.Timeout | undefined): void {
    if (!t) return;
    clearTimeout(t);
    this.live.delete(t);
  }
  clear(): void {
    for (const t of this.live) clearTimeout(t);
    this.live.clear();
  }
}

/** What one SSH service shares between its connections. */
interface SshState {
  readonly config: SshPosture;
  readonly device: DeviceContext;
  readonly accounts: ReturnType<DeviceContext['accountsFor']>;
  readonly authorized: ReadonlyMap<string, ParsedKey[]>;
  readonly sessionsByUser: Map<string, number>;
  readonly timers: Timers;
  methodsFor(user: string): AuthenticationType[];
}

/** One client connection: authentication against the device accounts, the session limit, the idle timeout. */
function serveConnection(state: SshState, client: Connection, source: string, endGrace: () => void): void {
  const { config, device, accounts, timers } = state;
  let user: string | undefined;
  let idle: NodeJS.Timeout | undefined;
  const touch = () => {
    if (!config.idleTimeoutSeconds) return;
    timers.cancel(idle);
    idle = timers.after(config.idleTimeoutSeconds * 1000, () => {
      device.log(`ssh: closing idle session of ${user ?? '?'}`);
      client.end();
    });
  };
  const admit = (ctx: AuthContext) => {
    const open = state.sessionsByUser.get(ctx.username) ?? 0;
    if (config.maxSessionsPerUser !== undefined && open >= config.maxSessionsPerUser) {
      device.log(`ssh: ${ctx.username} already has ${open} session(s); refusing another`);
      device.audit.event({ category: 'session-limit-hit', service: 'ssh', user: ctx.username, source, detail: `${open} open` });
      return ctx.reject(state.methodsFor(ctx.username));
    }
    user = ctx.username;
    state.sessionsByUser.set(user, open + 1);
    ctx.accept();
    device.audit.event({ category: 'session-opened', service: 'ssh', user, source });
  };
  const checkPassword = (ctx: AuthContext, password: string) => {
    if (ctx.username === 'root' && !config.rootLogin) return ctx.reject(state.methodsFor(ctx.username));
    const result = accounts.login(ctx.username, password, source, 'ssh');
    device.log(`ssh: ${ctx.method} login for ${ctx.username} from ${source}: ${result}`);
    const answer = () => (result === 'ok' ? admit(ctx) : ctx.reject(state.methodsFor(ctx.username)));
    if (!config.knownUserDelayMs || !accounts.has(ctx.username)) return answer();
    timers.after(config.knownUserDelayMs, () => {
      try {
        answer();
      } catch {
        // the client went away while we waited
      }
    });
    return undefined;
  };

  client.on('authentication', (ctx: AuthContext) => {
    const methods = state.methodsFor(ctx.username);
    switch (ctx.method) {
      case 'none':
        return config.acceptNone ? admit(ctx) : ctx.reject(methods);
      case 'password':
        return methods.includes('password') ? checkPassword(ctx, ctx.password) : ctx.reject(methods);
      case 'keyboard-interactive':
        if (!methods.includes('keyboard-interactive')) return ctx.reject(methods);
        return ctx.prompt([{ prompt: 'Password: ', echo: false }], (answers: string[]) => checkPassword(ctx, answers[0] ?? ''));
      case 'publickey': {
        const key = methods.includes('publickey')
          ? state.authorized.get(ctx.username)?.find((k) => k.type === ctx.key.algo.replace(/^rsa-sha2-(256|512)$/, 'ssh-rsa') && k.getPublicSSH().equals(ctx.key.data))
          : undefined;
        if (!key) return ctx.reject(methods);
        if (!ctx.signature || !ctx.blob) return ctx.accept(); // "is this key acceptable?" query
        return key.verify(ctx.blob, ctx.signature, ctx.hashAlgo) ? admit(ctx) : ctx.reject(methods);
      }
      default:
        return ctx.reject(methods);
    }
  });
  client.on('ready', () => {
    endGrace();
    touch();
    client.on('session', (accept) => {
      touch();
      serveSession(accept(), device, touch);
    });
  });
  client.on('close', () => {
    endGrace();
    timers.cancel(idle);
    if (user !== undefined) {
      device.audit.event({ category: 'session-closed', service: 'ssh', user, source });
      const left = (state.sessionsByUser.get(user) ?? 1) - 1;
      if (left > 0) state.sessionsByUser.set(user, left);
      else state.sessionsByUser.delete(user);
    }
  });
  client.on('error', (err: Error) => device.log(`ssh: client ${source}: ${err.message}`));
}

/** A session channel: a shell or one command, pty and env requests accepted. */
function serveSession(session: Session, device: DeviceContext, touch: () => void): void {
  session.on('pty', (ok) => ok?.());
  session.on('env', (ok) => ok?.());
  session.on('window-change', (ok) => ok?.());
  session.on('shell', (ok) => runShell(ok(), device, touch));
  session.on('exec', (ok, _reject, info) => {
    const stream = ok();
    stream.write(execReply(info.command, device));
    stream.exit(0);
    stream.end();
  });
}

/**
 * The TCP side: every accepted socket gets the login grace time (it runs from the TCP accept, while ssh2
 * reports a connection only after the client's identification) and is handed to ssh2.
 */
function acceptWithGrace(server: Server, timers: Timers, graceMs: number, device: DeviceContext, pendingLogins: Map<string, NodeJS.Timeout>): net.Server {
  return net.createServer((socket) => {
    socket.setNoDelay(true); // small packets: no Nagle delay on every authentication round trip
    const key = `${socket.remoteAddress}:${socket.remotePort}`;
    const t = timers.after(graceMs, () => {
      pendingLogins.delete(key);
      device.log(`ssh: ${key} did not authenticate within ${graceMs} ms`);
      socket.destroy();
    });
    pendingLogins.set(key, t);
    socket.once('close', () => {
      timers.cancel(t);
      pendingLogins.delete(key);
    });
    server.injectSocket(socket);
  });
}

/**
 * SSH management access on ssh2's server: host keys, offered algorithms, banner, authentication methods
 * against the device accounts (with lockout), root policy, idle timeout and a per-user session limit.
 */
export const sshService: ServiceModule<SshPosture> = {
  key: 'ssh',
  async start(config, device) {
    if (config.algorithms) checkAlgorithms(config.algorithms);
    const keys = (config.hostKeys ?? [{ type: 'ed25519' }]).map((spec) => hostKey(spec, device.workDir));
    const offered = config.authMethods ?? ['password', 'keyboard-interactive'];
    const timers = new Timers();
    const state: SshState = {
      config, device, timers,
      accounts: device.accountsFor(config.lockout),
      authorized: new Map(Object.entries(config.authorizedKeys ?? {}).map(([u, lines]) => [u, parsePublicKeys(lines, u)])),
      sessionsByUser: new Map(),
      methodsFor: (user) => (user === 'root' && !config.rootLogin ? offered.filter((m) => m === 'publickey') : [...offered]),
    };
    const server = new Server({
      hostKeys: keys,
      ident: config.ident ?? `${device.identity.productCode}_SSH_${device.identity.firmware}`,
      // ssh2 sends the banner as given, adding CR LF unless it ends with one.
      ...(config.banner ? { banner: config.banner.replace(/\r?\n/g, '\r\n') } : {}),
      ...(config.algorithms ? { algorithms: toSsh2Algorithms(config.algorithms) } : {}),
    });
    const pendingLogins = new Map<string, NodeJS.Timeout>();
    server.on('connection', (client: Connection, info: { ip: string; port: number }) => {
      const key = `${info.ip}:${info.port}`;
      serveConnection(state, client, info.ip, () => {
        timers.cancel(pendingLogins.get(key));
        pendingLogins.delete(key);
      });
    });
    const tcp = acceptWithGrace(server, timers, (config.loginGraceSeconds ?? 60) * 1000, device, pendingLogins);
    const listener = await listenTcp(tcp, device.host, device.portFor(config.port), device.connections.counter('ssh'));
    return {
      endpoints: [{ protocol: 'ssh', host: device.host, port: listener.port }],
      close: async () => {
        timers.clear();
        await listener.close();
      },
    };
  },
};
