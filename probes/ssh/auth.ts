import { ProtocolViolation, defineProbe, finding, judge, type Finding, type Judgement } from '../../src/sdk';
import {
  exchangeHello, passwordLogin, stepBudgets, tryNoneAuth, type NoneAuthResult, type PasswordLoginResult,
} from '../../src/protocols/ssh';
import { LoginBudget } from '../../src/protocols/auth/ledger';

interface AuthInputs {
  /** A user name that does not exist on the device (asked for "none" to learn the default methods). */
  nonExistentUser: string;
  /** Also ask which methods `root` is offered. */
  checkRoot: boolean;
  /** Try the profile's user with an empty password (one failed attempt, reset by the real login after it). */
  tryEmptyPassword: boolean;
}

type Role = 'nonexistent' | 'profile' | 'root';
const PASSWORD_METHODS = ['password', 'keyboard-interactive'];

function offersPassword(methods: readonly string[]): boolean {
  return methods.some((m) => PASSWORD_METHODS.includes(m));
}

export default defineProbe<AuthInputs>({
  id: 'ssh.auth',
  protocol: 'ssh',
  title: 'SSH authentication methods, "none" and empty-password access, pre-login banner',
  description: 'Asks the server for "none" authentication as a non-existent user, as the profile\'s SSH user and as root, '
    + 'recording the methods offered to each (RFC 4252 §5.2) and any pre-authentication banner (§5.4); tries the '
    + 'profile\'s user with an empty password (one failed attempt), then logs in once with the profile\'s credentials. '
    + 'Never sends a password other than the profile\'s and the empty one.',
  requirements: ['CR 1.1', 'CR 2.1', 'CR 1.12', 'CR 1.5', 'CR 1.1 RE(1)'],
  findings: {
    'none-accepted': 'a user got in with "none" authentication, without any credential',
    'empty-password': 'the profile\'s user logs in with an empty password',
    'no-banner': 'no pre-authentication banner (system use notification) is shown (info)',
    'password-cleartext': 'password login is offered while the server lists the "none" cipher',
    'root-password-offered': 'root is offered password or keyboard-interactive authentication (info)',
    'login-failed': 'the profile\'s SSH credentials did not log in (info)',
  },
  safety: 'active',
  scope: 'service',
  appliesTo: ['ssh'],
  timeoutMs: 30_000,
  inputs: {
    schema: {
      type: 'object',
      additionalProperties: false,
      properties: {
        nonExistentUser: { type: 'string', minLength: 1, description: 'A user name the device does not have' },
        checkRoot: { type: 'boolean', description: 'Also record the methods offered to root' },
        tryEmptyPassword: { type: 'boolean', description: 'Try the profile user with an empty password' },
      },
    },
    defaults: { nonExistentUser: 'iacs-probe-nonexistent', checkRoot: true, tryEmptyPassword: true },
  },
  locks: ({ host, service, credentials }) => {
    const user = credentials.get('ssh')?.username;
    return user && service ? [{ key: `ssh:${host.host}:${service.port}:${user}`, mode: 'shared' }] : [];
  },
  async run(ctx) {
    const service = ctx.service!;
    const target = () => ({ host: service.host, port: service.port, signal: ctx.signal, timeoutMs: stepBudgets(ctx.deadline, 8_000).connectionMs });
    // The raw hello fails fast on non-SSH peers and shows whether a 'none' cipher could carry passwords.
    const { preBannerGraceMs } = stepBudgets(ctx.deadline, 8_000);
    const hello = await exchangeHello({ host: service.host, port: service.port, signal: ctx.signal, preBannerGraceMs });
    if (hello.ssh1Only) {
      throw new ProtocolViolation(`the server speaks SSH-1 only (${hello.identification.raw}); SSH-2 authentication cannot be probed (ssh.algorithms reports it as ssh.algorithms.protocol-1)`);
    }
    const ciphers = [...new Set([...(hello.kexinit?.ciphersC2S ?? []), ...(hello.kexinit?.ciphersS2C ?? [])])];

    const credential = ctx.credentials.get('ssh');
    const users: { role: Role; username: string }[] = [{ role: 'nonexistent', username: ctx.inputs.nonExistentUser }];
    if (credential) users.push({ role: 'profile', username: credential.username });
    if (ctx.inputs.checkRoot && credential?.username !== 'root') users.push({ role: 'root', username: 'root' });
    const results: (NoneAuthResult & { role: Role })[] = [];
    for (const u of users) results.push({ role: u.role, ...(await tryNoneAuth(u.username, target())) });

    const profile = results.find((r) => r.role === 'profile');
    let emptyPassword: PasswordLoginResult | undefined;
    // Every password check is booked in the run ledger, so this probe and the credential-guessing ones
    // together stay below the device's lockout threshold.
    const budget = new LoginBudget(ctx.ledger, ctx.policy, ctx.host.host);
    const book = (r: PasswordLoginResult) => budget.record(r.username, r.outcome === 'accepted' ? 'accepted' : r.outcome === 'rejected' ? 'rejected' : 'unsupported');
    const threshold = ctx.policy.lockout?.threshold;
    if (credential && profile && ctx.inputs.tryEmptyPassword && !profile.noneAccepted
      && profile.methods.includes('password') && (threshold === undefined || threshold > 2) && budget.remaining(credential.username) > 0) {
      emptyPassword = await passwordLogin(credential.username, '', target());
      book(emptyPassword);
    }
    let login: PasswordLoginResult | undefined;
    if (credential) {
      login = await passwordLogin(credential.username, credential.password, target());
      book(login);
    }

    const banner = results.map((r) => r.banner).find((b) => b !== undefined) ?? login?.banner;
    const authPath = ctx.evidence.save('auth.json', {
      users: results.map(({ role, username, noneAccepted, methods, banner: b }) => ({ role, username, noneAccepted, methods, banner: b ?? null })),
      emptyPassword: emptyPassword ? { username: emptyPassword.username, outcome: emptyPassword.outcome } : null,
      login: login ? { username: login.username, credential: credential?.source, outcome: login.outcome, method: login.method ?? null } : null,
      ciphersOffered: ciphers,
    });
    if (banner !== undefined) ctx.evidence.save('banner.txt', banner);

    const findings: Finding[] = [];
    const judgements: Judgement[] = [];
    const noneUsers = results.filter((r) => r.noneAccepted).map((r) => `${r.username} (${r.role})`);
    if (noneUsers.length > 0) {
      findings.push(finding({
        code: 'none-accepted', severity: 'critical', requirements: ['CR 1.1', 'CR 2.1'], evidence: [authPath],
        message: `The server lets users in with "none" authentication, without any credential: ${noneUsers.join(', ')}`,
      }));
    }
    if (emptyPassword?.outcome === 'accepted') {
      findings.push(finding({
        code: 'empty-password', severity: 'critical', requirements: ['CR 1.1', 'CR 2.1'], evidence: [authPath],
        message: `${emptyPassword.username} logs in with an empty password`,
      }));
    }
    const refusedFor = results.filter((r) => !r.noneAccepted).map((r) => r.username).join(', ');
    judgements.push(
      { requirement: 'CR 1.1', coverage: 'partial', passReason: `SSH refuses unauthenticated ("none"${emptyPassword ? ', empty-password' : ''}) login for ${refusedFor}` },
      { requirement: 'CR 2.1', coverage: 'partial', passReason: 'SSH grants no access without authentication' },
    );

    // CR 1.12 asks for a configurable system use notification on the device's interfaces. A banner here
    // is part of that (a partial pass the attestation completes); its absence on SSH alone disproves
    // nothing when another interface shows one, so it is recorded (info) and CR 1.12 is not judged.
    if (banner === undefined) {
      findings.push(finding({
        code: 'no-banner', severity: 'info', requirements: ['CR 1.12'], evidence: [authPath],
        message: 'No system-use notification (SSH_MSG_USERAUTH_BANNER) is shown before SSH login; CR 1.12 is left to the '
          + 'attestation (the notification may be shown on another interface)',
      }));
    } else {
      const bannerExcerpt = JSON.stringify(banner.trim().slice(0, 160));
      judgements.push({ requirement: 'CR 1.12', coverage: 'partial', passReason: `A pre-authentication banner is shown: ${bannerExcerpt}; its content and configurability need review` });
    }

    const passwordOffered = results.some((r) => offersPassword(r.methods)) || login?.method !== undefined;
    if (passwordOffered) {
      if (ciphers.includes('none')) {
        findings.push(finding({
          code: 'password-cleartext', severity: 'critical', requirements: ['CR 1.5'], evidence: [authPath],
          message: 'Password authentication is offered while the server also offers the "none" cipher, so passwords can travel in cleartext',
        }));
      }
      judgements.push({ requirement: 'CR 1.5', coverage: 'partial', passReason: 'Passwords are only accepted inside the encrypted SSH transport (no "none" cipher offered)' });
    }

    const root = results.find((r) => r.role === 'root');
    const rootPasswordOffered = root ? offersPassword(root.methods) || root.noneAccepted : undefined;
    if (rootPasswordOffered) {
      findings.push(finding({
        code: 'root-password-offered', severity: 'info', requirements: ['CR 1.1 RE(1)'], evidence: [authPath],
        message: 'root is offered password authentication over SSH (servers such as OpenSSH advertise it whatever PermitRootLogin says; a login with root credentials would confirm)',
      }));
    }
    if (login?.outcome === 'rejected' || login?.outcome === 'no-password-method') {
      findings.push(finding({
        code: 'login-failed', severity: 'info', requirements: [], evidence: [authPath],
        message: `The profile's SSH credentials (${credential?.source}) did not log in: ${login.outcome}`,
      }));
      ctx.log.warn(`login as ${login.username} failed (${login.outcome}); check the profile's credentials`);
    }

    const methodsOf = (role: Role) => results.find((r) => r.role === role)?.methods;
    return {
      observations: {
        users: results.map(({ role, username, noneAccepted, methods }) => ({ role, username, noneAccepted, methods })),
        methods: methodsOf('profile') ?? methodsOf('nonexistent') ?? [],
        noneAccepted: noneUsers.length > 0,
        passwordOffered,
        keyboardInteractiveOffered: results.some((r) => r.methods.includes('keyboard-interactive')),
        publickeyOffered: results.some((r) => r.methods.includes('publickey')),
        ...(rootPasswordOffered !== undefined ? { rootPasswordOffered } : {}),
        preAuthBanner: banner ?? null,
        ...(emptyPassword ? { emptyPasswordAccepted: emptyPassword.outcome === 'accepted' } : {}),
        ...(login ? { login: { username: login.username, outcome: login.outcome, method: login.method ?? null } } : {}),
      },
      findings,
      outcomes: judge(judgements, findings),
    };
  },
});
