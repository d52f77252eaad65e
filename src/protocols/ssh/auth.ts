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
}

/**
 * One password login. Tries the "password" method; only when the server does not offer it, answers
 * "keyboard-interactive" prompts that do not echo with the password. Never tries "none" first, so a
 * server accepting "none" cannot make a wrong password look accepted; never checks the credential
 * twice, so it counts once against a lockout threshold.
 */
export async function passwordLogin(username: string, password: string, target: AuthTarget): Promise<PasswordLoginResult> {
  let banner: string | undefined;
  let method: PasswordLoginResult['method'];
  let ctlRef: { finish(v: PasswordLoginResult): void } | undefined;
  const answer = (_n: string, _i: string, _l: string, prompts: Prompt[], finish: KeyboardInteractiveCallback) => {
    finish(prompts.map((p) => (p.echo ? '' : password)));
  };
  return runSsh2Client<PasswordLoginResult>({
    ...target,
    config: {
      username,
      hostVerifier: () => true,
      authHandler: (methodsLeft: AuthenticationType[] | null, _partial, next) => {
        if (methodsLeft === null) {
          method = 'password';
          return next({ type: 'password', username, password });
        }
        const left = [...methodsLeft];
        if (method === 'password' && !left.includes('password') && left.includes('keyboard-interactive')) {
          method = 'keyboard-interactive';
          return next({ type: 'keyboard-interactive', username, prompt: answer });
        }
        const offeredPassword = left.includes('password') || method === 'keyboard-interactive';
        ctlRef?.finish({ username, outcome: offeredPassword ? 'rejected' : 'no-password-method', method: offeredPassword ? method : undefined, methods: left, banner });
        return next(false as never);
      },
    },
  }, (client, ctl) => {
    ctlRef = ctl;
    client.on('banner', (message: string) => {
      banner = message;
    });
    client.on('ready', () => ctl.finish({ username, outcome: 'accepted', method, methods: [], banner }));
  });
}
