import type { AuthenticationType, KeyboardInteractiveCallback, Prompt } from 'ssh2';
import { runSsh2Client } from './client';

/**
 * SSH user authentication (RFC 4252) through ssh2's client: which methods the server offers a user,
 * whether it lets a user in with the "none" method, the pre-authentication banner
 * (SSH_MSG_USERAUTH_BANNER, §5.4), and a password login that makes exactly one credential check.
 */

export interface AuthTarget {
  host: string;
  port: number;
  signal: AbortSignal;
  /** Bound on the whole connection: connect, key exchange and authentication. */
  timeoutMs: number;
}

export interface NoneAuthResult {
  username: string;
  /** The server let the user in without any credential. */
  noneAccepted: boolean;
  /** Methods that "can continue" from SSH_MSG_USERAUTH_FAILURE; empty when none was accepted. */
  methods: string[];
  /** Text of SSH_MSG_USERAUTH_BANNER, when the server sent one before authentication completed. */
  banner?: string;
  /** Negotiated algorithms of this connection (kex, cipher, ...), as ssh2 reports them. */
  negotiated?: Record<string, unknown>;
}

/** Asks for "none" authentication as `username` and records what the server answers. */
export async function tryNoneAuth(username: string, target: AuthTarget): Promise<NoneAuthResult> {
  let banner: string | undefined;
  let negotiated: Record<string, unknown> | undefined;
  let ctlRef: { finish(v: NoneAuthResult): void } | undefined;
  return runSsh2Client<NoneAuthResult>({
    ...target,
    config: {
      username,
      hostVerifier: () => true, // host keys are the algorithms probe's business
      authHandler: (methodsLeft, _partial, next) => {
        if (methodsLeft === null) return next({ type: 'none', username });
        // USERAUTH_FAILURE for "none": the list is what the server offers this user.
        ctlRef?.finish({ username, noneAccepted: false, methods: [...methodsLeft], banner, negotiated });
        return next(false as never);
      },
    },
  }, (client, ctl) => {
    ctlRef = ctl;
    client.on('banner', (message: string) => {
      banner = message;
    });
    client.on('handshake', (n: unknown) => {
      negotiated = n as Record<string, unknown>;
    });
    client.on('ready', () => ctl.finish({ username, noneAccepted: true, methods: [], banner, negotiated }));
  });
}

export type LoginOutcome = 'accepted' | 'rejected' | 'no-password-method';

export interface PasswordLoginResult {
  username: string;
  outcome: LoginOutcome;
  /** Method the credential was checked with. */
  method?: 'password' | 'keyboard-interactive';
  /** Methods the server still offered after the attempt (when rejected). */
  methods: string[];
  banner?: string;
  /** Milliseconds from sending the credential to the server's verdict (key exchange excluded). */
  authMs?: number;
}

/** What a password authHandler reports when the server refused (or never checked) the credential. */
export interface PasswordRefusal {
  outcome: 'rejected' | 'no-password-method';
  method?: 'password' | 'keyboard-interactive';
  methods: string[];
  authMs?: number;
}

/**
 * ssh2's authHandler for one password check: "password", or "keyboard-interactive" (prompts that do not
 * echo get the password) only when password is not offered. Never "none" first, never the credential
 * twice. `state` tells the caller which method ran and when the credential went out.
 */
export function passwordAuthHandler(username: string, password: string, onRefused: (r: PasswordRefusal) => void) {
  const state: { method?: 'password' | 'keyboard-interactive'; sentAt?: number } = {};
  const answer = (_n: string, _i: string, _l: string, prompts: Prompt[], finish: KeyboardInteractiveCallback) => {
    finish(prompts.map((p) => (p.echo ? '' : password)));
  };
  const handler = (methodsLeft: AuthenticationType[] | null, _partial: boolean | null, next: (auth: AuthenticationType | false | object) => void) => {
    if (methodsLeft === null) {
      state.method = 'password';
      state.sentAt = Date.now();
      return next({ type: 'password', username, password });
    }
    const left = [...methodsLeft];
    if (state.method === 'password' && !left.includes('password') && left.includes('keyboard-interactive')) {
      state.method = 'keyboard-interactive';
      state.sentAt = Date.now();
      return next({ type: 'keyboard-interactive', username, prompt: answer });
    }
    const offeredPassword = left.includes('password') || state.method === 'keyboard-interactive';
    onRefused({
      outcome: offeredPassword ? 'rejected' : 'no-password-method', method: offeredPassword ? state.method : undefined, methods: left,
      authMs: state.sentAt === undefined ? undefined : Date.now() - state.sentAt,
    });
    return next(false);
  };
  return { handler, state };
}

/**
 * One password login (see passwordAuthHandler). Never checks the credential twice, so it counts once
 * against a lockout threshold.
 */
export async function passwordLogin(username: string, password: string, target: AuthTarget): Promise<PasswordLoginResult> {
  let banner: string | undefined;
  let ctlRef: { finish(v: PasswordLoginResult): void } | undefined;
  const { handler, state } = passwordAuthHandler(username, password, (r) => ctlRef?.finish({ username, ...r, banner }));
  return runSsh2Client<PasswordLoginResult>({
    ...target,
    // ssh2's NextAuthHandler type does not accept the plain objects it takes at run time.
    config: { username, hostVerifier: () => true, authHandler: handler as never },
  }, (client, ctl) => {
    ctlRef = ctl;
    client.on('banner', (message: string) => {
      banner = message;
    });
    client.on('ready', () => ctl.finish({
      username, outcome: 'accepted', method: state.method, methods: [], banner,
      authMs: state.sentAt === undefined ? undefined : Date.now() - state.sentAt,
    }));
  });
}
