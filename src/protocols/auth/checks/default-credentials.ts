import {
  defineProbe, finding, formatTarget, judge, type CredentialVault, type Finding, type ProbeContext, type ProbeDefinition,
  inputsSchema,
} from '../../../sdk';
import {
  LoginBudget, clearMaybeLocked, entriesFor, thresholdOf, loadCredentialList, markMaybeLocked, passwordDigest,
  type AuthProtocol, type DefaultCredentialEntry, type LoginOutcome,
} from '..';
import { AUTH_LABELS, onEveryLoginService, accountLocks, channelOf, knownAccounts, notDetermined } from './common';

export interface DefaultCredentialsInputs {
  /** Built-in list names (profiles/default-credentials/<name>.yaml) or files relative to the profile. */
  lists: string[];
  /** At most this many credential checks in one attempt. */
  maxAttempts: number;
  /** With `intrusive` allowed, go on past the lockout budget (accounts may lock; the report says so). */
  exceedLockoutBudget: boolean;
}

interface Candidate {
  /** "profile" for credentials.defaults.<protocol>*, else the list id. */
  list: string;
  entry: string;
  username: string;
  password: string;
  vendor?: string;
  product?: string;
  cited: boolean;
  /** Other list entries with the same pair. */
  alsoListedAs: string[];
}

type Tried = { outcome: LoginOutcome; status?: string; durationMs: number };
type Row = Omit<Candidate, 'password' | 'alsoListedAs'> & { alsoListedAs?: string[]; passwordSha256: string }
  & ({ tried: true } & Tried | { tried: false; why: 'lockout-budget' | 'attempt-cap' | 'account-found' });

function listEntries(protocol: AuthProtocol, ctx: Pick<ProbeContext<DefaultCredentialsInputs>, 'credentials' | 'inputs' | 'resolvePath'>): { candidates: Candidate[]; lists: object[] } {
  const byPair = new Map<string, Candidate>();
  const add = (c: Omit<Candidate, 'alsoListedAs'>) => {
    const key = JSON.stringify([c.username, c.password]);
    const seen = byPair.get(key);
    if (seen) seen.alsoListedAs.push(`${c.list}/${c.entry}`);
    else byPair.set(key, { ...c, alsoListedAs: [] });
  };
  for (const key of ctx.credentials.keys().filter((k) => k === `defaults.${protocol}` || k.startsWith(`defaults.${protocol}.`))) {
    const c = ctx.credentials.get(key)!;
    add({ list: 'profile', entry: `credentials.${key}`, username: c.username, password: c.password, cited: true });
  }
  const lists: object[] = [];
  for (const name of ctx.inputs.lists) {
    const list = loadCredentialList(name, ctx.resolvePath);
    const entries: DefaultCredentialEntry[] = entriesFor(list, protocol);
    lists.push({ id: list.id, title: list.title, origin: list.origin, sha256: list.sha256, entriesForThisInterface: entries.length });
    for (const e of entries) {
      add({ list: list.id, entry: e.id, username: e.username, password: e.password, vendor: e.vendor, product: e.product, cited: e.sources !== undefined });
    }
  }
  // Grouped by user name (first appearance), list order within a user.
  const users = [...new Set([...byPair.values()].map((c) => c.username))];
  return { candidates: users.flatMap((u) => [...byPair.values()].filter((c) => c.username === u)), lists };
}

/** The user names the attempt would try, as known at plan time (what its locks hold and `plan` counts). */
function plannedUsers(protocol: AuthProtocol, inputs: DefaultCredentialsInputs, credentials: CredentialVault, resolvePath: (file: string) => string): Set<string> {
  const users = new Set<string>();
  for (const name of inputs.lists) {
    try {
      for (const c of listEntries(protocol, { credentials, inputs: { ...inputs, lists: [name] }, resolvePath }).candidates) users.add(c.username);
    } catch {
      // A broken list fails the attempt (an `input` error, before any login): hold at least every account the
      // other probes log in with.
      for (const u of knownAccounts(credentials, protocol).keys()) users.add(u);
    }
  }
  return users;
}

/**
 * `<protocol>.default-credentials`: logs in with the profile's own list (credentials.defaults.<protocol>*)
 * and the built-in lists of well-known defaults, never making more failed logins per account than the
 * lockout threshold minus one (counted over the whole run), and records which pair worked as list entry
 * and SHA-256, never the password.
 */
export function defaultCredentialsProbe(protocol: AuthProtocol): ProbeDefinition<DefaultCredentialsInputs> {
  const id = `${protocol}.default-credentials`;
  return defineProbe<DefaultCredentialsInputs>({
    id,
    ...onEveryLoginService(protocol),
    title: `${AUTH_LABELS[protocol]} login with well-known default credentials`,
    description:
      "Tries the profile's default-credential list (credentials.defaults.<protocol>...) and the built-in lists of "
      + 'well-known IACS and device defaults (profiles/default-credentials, each entry with its source) on the '
      + "service's login interface, one credential check per pair. Never makes more failed logins per account than "
      + "the profile's lockout threshold minus one, counting every probe of the run (an undocumented threshold is "
      + 'assumed to be 3); logs in with known valid credentials afterwards to reset the counters. Records a working '
      + 'pair by list entry and SHA-256 of the password.',
    requirements: ['CR 1.5', 'CR 1.1'],
    findings: {
      accepted: 'a well-known default credential logs in',
      untried: 'listed pairs not tried, to stay below the lockout threshold or the attempt cap',
      'no-verdict': 'pairs answered without an authentication verdict (counted as not checked)',
    },
    safety: 'active',
    timeoutMs: 120_000,
    inputs: {
      schema: inputsSchema({
        lists: { type: 'array', items: { type: 'string', minLength: 1 }, description: 'Built-in list names or profile-relative YAML files' },
        maxAttempts: { type: 'integer', minimum: 1, maximum: 1000 },
        exceedLockoutBudget: { type: 'boolean', description: 'With intrusive allowed: try every pair even if accounts lock' },
      }),
      defaults: { lists: ['generic', 'iacs'], maxAttempts: 60, exceedLockoutBudget: false },
    },
    locks: ({ host, service, inputs, credentials, resolvePath }) => accountLocks(host, service, plannedUsers(protocol, inputs, credentials, resolvePath), 'exclusive'),
    logins: ({ inputs, credentials, policy, resolvePath, allowed }) => {
      const threshold = thresholdOf(policy).value;
      const exceed = inputs.exceedLockoutBudget && allowed.has('intrusive');
      const users = [...plannedUsers(protocol, inputs, credentials, resolvePath)];
      const cap = exceed ? inputs.maxAttempts : Math.min(inputs.maxAttempts, threshold - 1);
      return users.map((account) => ({
        account, consecutiveFailuresMax: cap, failuresMax: cap, locksOnPurpose: false,
        basis: exceed
          ? `exceedLockoutBudget with intrusive allowed: up to maxAttempts (${inputs.maxAttempts}) pairs, past the threshold ${threshold}; accounts may lock`
          : `one check per listed pair, held below the threshold ${threshold} by the run's login budget (at most ${threshold - 1} failed logins per account across the run's probes)`,
      }));
    },
    async run(ctx) {
      const { candidates, lists } = listEntries(protocol, ctx);
      const channel = await channelOf(ctx);
      if ('unsupported' in channel) return notDetermined(channel.unsupported, { candidates: candidates.length });
      const budget = new LoginBudget(ctx.ledger, ctx.policy, ctx.host.host);
      const exceed = ctx.inputs.exceedLockoutBudget && ctx.allowed.has('intrusive');
      const valid = knownAccounts(ctx.credentials, protocol);
      const rows: Row[] = [];
      const found = new Set<string>();
      const marked = new Set<string>();
      let checks = 0;
      const notice = (username: string) => ({ probe: id, target: formatTarget(ctx.host.host, ctx.service!.port), account: username });
      const check = async (username: string, password: string): Promise<Tried> => {
        checks += 1;
        const r = await channel.tryLogin(username, password, ctx.signal);
        budget.record(username, r.outcome);
        return { outcome: r.outcome, ...(r.response.status ? { status: r.response.status } : {}), durationMs: r.response.durationMs };
      };
      const resetRows: { username: string; outcome: LoginOutcome }[] = [];
      const users = [...new Set(candidates.map((c) => c.username))];
      for (const username of users) {
        for (const c of candidates.filter((x) => x.username === username)) {
          const { password, alsoListedAs, ...rest } = c;
          const base = { ...rest, ...(alsoListedAs.length ? { alsoListedAs } : {}), passwordSha256: passwordDigest(password) };
          if (found.has(username)) rows.push({ ...base, tried: false, why: 'account-found' });
          else if (checks >= ctx.inputs.maxAttempts) rows.push({ ...base, tried: false, why: 'attempt-cap' });
          else if (budget.remaining(username) < 1 && !exceed) rows.push({ ...base, tried: false, why: 'lockout-budget' });
          else {
            if (budget.remaining(username) < 1 && !marked.has(username)) {
              markMaybeLocked(ctx.ledger, notice(username));
              marked.add(username);
            }
            const t = await check(username, password);
            rows.push({ ...base, tried: true, ...t });
            if (t.outcome === 'accepted') found.add(username);
          }
        }
        // Leave the device's counter for accounts others use where it was: a successful login resets it.
        const known = valid.get(username);
        if (known !== undefined && budget.used(username) > 0 && !found.has(username)) {
          const t = await check(username, known);
          resetRows.push({ username, outcome: t.outcome });
        }
        if (marked.has(username) && (found.has(username) || resetRows.some((r) => r.username === username && r.outcome === 'accepted'))) {
          clearMaybeLocked(ctx.ledger, notice(username));
        }
      }

      const tried = rows.filter((r) => r.tried);
      const accepted = rows.filter((r): r is Row & { tried: true } => r.tried && r.outcome === 'accepted');
      const untried = rows.filter((r) => !r.tried && r.why !== 'account-found');
      const unsupported = tried.filter((r) => r.tried && r.outcome === 'unsupported');
      // Answered, but not with an authentication verdict (a server error, a session limit): not checked.
      const noVerdict = tried.filter((r) => r.tried && r.outcome === 'refused');
      const checked = tried.filter((r) => r.tried && (r.outcome === 'accepted' || r.outcome === 'rejected'));
      const threshold = budget.threshold;
      const path = ctx.evidence.save('default-credentials.json', {
        interface: channel.label, details: channel.details, lockoutThreshold: threshold, exceedLockoutBudget: exceed,
        lists, attempts: rows, resetLogins: resetRows,
      });
      if (threshold.source === 'assumed') ctx.log.warn(`no lockout threshold in the profile: assumed ${threshold.value} (at most ${threshold.value - 1} failed logins per account)`);

      const observations = {
        interface: channel.label,
        tried: tried.length,
        accepted: accepted.map((r) => ({ list: r.list, entry: r.entry, username: r.username, passwordSha256: r.passwordSha256 })),
        untried: untried.length,
        ...(noVerdict.length ? { noVerdict: noVerdict.length } : {}),
        lockoutThreshold: threshold,
        lists: lists.map((l) => (l as { id: string }).id),
      };
      if (tried.length > 0 && unsupported.length === tried.length) {
        return notDetermined(`${channel.label}: the server checked none of the credentials (no password method offered)`, observations);
      }
      if (tried.length === 0) return notDetermined(`no pair could be tried within the lockout budget (threshold ${threshold.value})`, observations);
      if (checked.length === 0) {
        return notDetermined(`${channel.label}: no tried pair got an authentication verdict (${[...new Set(noVerdict.map((r) => (r.tried ? r.status : '')))].join(', ')})`, observations);
      }

      const findings: Finding[] = accepted.map((r) => finding({
        code: 'accepted', severity: 'critical', requirements: ['CR 1.5', 'CR 1.1'], evidence: [path],
        message: `${channel.label}: ${r.username} logs in with the well-known password of ${r.list}/${r.entry}`
          + `${r.vendor ? ` (${[r.vendor, r.product].filter(Boolean).join(' ')})` : ''}; password sha256 ${r.passwordSha256.slice(0, 12)}…`,
      }));
      if (untried.length > 0) {
        const why = [...new Set(untried.map((r) => (r.tried ? '' : r.why)))].join(', ');
        findings.push(finding({
          code: 'untried', severity: 'info', requirements: [], evidence: [path],
          message: `${untried.length} listed pair(s) were not tried (${why}; lockout threshold ${threshold.value}${threshold.source === 'assumed' ? ', assumed' : ''}) for ${[...new Set(untried.map((r) => r.username))].join(', ')}`,
        }));
      }
      if (noVerdict.length > 0) {
        findings.push(finding({
          code: 'no-verdict', severity: 'info', requirements: [], evidence: [path],
          message: `${noVerdict.length} pair(s) got an answer that is no authentication verdict (${[...new Set(noVerdict.map((r) => (r.tried ? r.status : '')))].join(', ')}); they count as not checked`,
        }));
      }
      const passReason = `${channel.label}: none of the ${checked.length} well-known pair(s) checked logs in`
        + `${untried.length ? ` (${untried.length} not tried, to stay below the lockout threshold)` : ''}`
        + `${noVerdict.length ? ` (${noVerdict.length} answered without an authentication verdict)` : ''}`;
      return {
        observations,
        findings,
        outcomes: judge([
          { requirement: 'CR 1.5', coverage: 'partial', passReason },
          { requirement: 'CR 1.1', coverage: 'partial', passReason },
        ], findings),
      };
    },
  });
}
