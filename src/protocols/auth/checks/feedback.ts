import {
  MissingInput, defineProbe, finding, judge, type Finding, type Judgement, type ProbeDefinition,
  canReachSignificance, compareTimings, type TimingComparison,
  inputsSchema,
} from '../../../sdk';
import { LoginBudget, type AuthProtocol, type LoginResponse, type LoginResult } from '..';
import { onEveryLoginService, accountFor, accountLocks, channelOf, notDetermined, unknownUser, wrongPassword } from './common';

export interface FeedbackInputs {
  /** Failed logins per class (unknown user / wrong password) in one batch. */
  samples: number;
  /** Significance level of the timing test. */
  alpha: number;
  /** Smallest median difference that counts as a timing leak. */
  minEffectMs: number;
  /** An existing user name to use when the profile gives no credentials for this interface (no counter resets then). */
  knownUser?: string;
}


/** Replaces what legitimately changes between two answers (tokens, numbers, dates) before comparing texts. */
export function normalizeText(text: string | undefined): string {
  return (text ?? '')
    .replace(/(?=[A-Za-z0-9+/_-]*\d)[A-Za-z0-9+/_-]{20,}={0,2}/g, '<token>')
    .replace(/\b[0-9a-f]{8,}\b/gi, '<hex>')
    .replace(/\d+/g, '<n>')
    .trim();
}

type Feature = 'status' | 'message' | 'bodyLength';
interface FeatureComparison {
  feature: Feature;
  unknownUser: (string | number)[];
  wrongPassword: (string | number)[];
  /** Constant within each class and different between them: an attacker tells the classes apart. */
  distinguishes: boolean;
  /** Varies within a class even after normalisation: no conclusion from this feature. */
  inconclusive: boolean;
}

function compareFeature(feature: Feature, a: LoginResponse[], b: LoginResponse[]): FeatureComparison | undefined {
  const value = (r: LoginResponse) => (feature === 'message' ? normalizeText(r.message) : feature === 'status' ? normalizeText(r.status) : r.bodyLength);
  if (a.every((r) => r[feature] === undefined) && b.every((r) => r[feature] === undefined)) return undefined;
  const va = [...new Set(a.map(value))] as (string | number)[];
  const vb = [...new Set(b.map(value))] as (string | number)[];
  const constant = va.length === 1 && vb.length === 1;
  return { feature, unknownUser: va, wrongPassword: vb, distinguishes: constant && va[0] !== vb[0], inconclusive: !constant };
}

/**
 * `<protocol>.feedback`: failed logins for unknown users and for an existing user with a wrong password,
 * interleaved; compares status, text and size (constant within each class, different between them) and
 * the time to the refusal (medians, Mann-Whitney U, minimum effect; a timing difference is confirmed by a
 * second batch before it counts). Every failure is booked in the run's lockout budget; the right password
 * resets the account between batches when the profile gives it.
 */
export function feedbackProbe(protocol: AuthProtocol): ProbeDefinition<FeedbackInputs> {
  const id = `${protocol}.feedback`;
  return defineProbe<FeedbackInputs>({
    id,
    ...onEveryLoginService(protocol),
    title: `${protocol === 'http' ? 'HTTP' : protocol === 'ssh' ? 'SSH' : 'OPC UA'} login feedback: unknown user vs wrong password`,
    description:
      'Makes failed logins as random unknown users and as an existing user (credentials.feedback.<protocol> or the '
      + "protocol's own, or input knownUser) with random wrong passwords, interleaved, and compares what comes back: "
      + 'status, text, size, whether the password is echoed, and the time to the refusal (medians and a Mann-Whitney '
      + 'test with a minimum effect, confirmed by a second batch). Stays below the lockout threshold by logging in '
      + 'with the right password between failures when it has it.',
    requirements: ['CR 1.10', 'CR 3.7', 'CR 1.1'],
    findings: {
      'user-enumeration': 'a failed login tells an unknown user from a wrong password by status, text or size',
      timing: 'the time to refusal tells an unknown user from a wrong password (confirmed by a second batch)',
      'password-echoed': 'the answer to a failed login contains the submitted password',
      'wrong-password-accepted': 'a random wrong password logged in',
    },
    safety: 'active',
    timeoutMs: 120_000,
    inputs: {
      schema: inputsSchema({
        samples: { type: 'integer', minimum: 1, maximum: 100 },
        alpha: { type: 'number', exclusiveMinimum: 0, maximum: 0.5 },
        minEffectMs: { type: 'number', minimum: 0 },
        knownUser: { type: 'string', minLength: 1 },
      }),
      defaults: { samples: 8, alpha: 0.01, minEffectMs: 15 },
    },
    locks: ({ host, service, credentials, inputs }) => {
      const user = accountFor(credentials, protocol, 'feedback')?.username ?? inputs.knownUser;
      return user ? accountLocks(host, service, [user], 'exclusive') : [];
    },
    async run(ctx) {
      const credential = accountFor(ctx.credentials, protocol, 'feedback');
      const known = credential ? { username: credential.username, password: credential.password as string | undefined } : ctx.inputs.knownUser ? { username: ctx.inputs.knownUser, password: undefined } : undefined;
      if (!known) throw new MissingInput(`the profile gives no existing user for ${protocol} (credentials.feedback.${protocol}, credentials.${protocol} or input knownUser)`);
      const channel = await channelOf(ctx);
      if ('unsupported' in channel) return notDetermined(channel.unsupported);
      const budget = new LoginBudget(ctx.ledger, ctx.policy, ctx.host.host);
      const login = async (username: string, password: string): Promise<LoginResult> => {
        const r = await channel.tryLogin(username, password, ctx.signal);
        budget.record(username, r.outcome);
        // A page that repeats the user name must not look different for that reason alone.
        if (r.response.message) r.response.message = r.response.message.split(username).join('<user>');
        return r;
      };
      /** Makes room for one more failure of the known user; false when the budget is spent. */
      const room = async (): Promise<boolean> => {
        if (budget.remaining(known.username) >= 1) return true;
        if (known.password === undefined || budget.used(known.username) === 0) return false;
        const reset = await login(known.username, known.password);
        return reset.outcome === 'accepted' && budget.remaining(known.username) >= 1;
      };
      const unknown: LoginResponse[] = [];
      const wrong: LoginResponse[] = [];
      const accepted: string[] = [];
      /** Answers that are no authentication verdict (server error, rate limit): not failed logins, not compared. */
      const noVerdict: LoginResponse[] = [];
      const sample = (r: LoginResult, into: LoginResponse[]) => (r.outcome === 'refused' ? noVerdict : into).push(r.response);
      let budgetSpent = false;
      const batch = async (n: number) => {
        const u: LoginResponse[] = [];
        const w: LoginResponse[] = [];
        for (let i = 0; i < n && !budgetSpent; i++) {
          const order = i % 2 === 0 ? ['unknown', 'wrong'] : ['wrong', 'unknown'];
          for (const which of order) {
            if (which === 'unknown') {
              const name = unknownUser();
              if (budget.remaining(name) < 1) { budgetSpent = true; break; }
              const r = await login(name, wrongPassword());
              if (r.outcome === 'accepted') accepted.push(name);
              sample(r, u);
            } else {
              if (!(await room())) { budgetSpent = true; break; }
              const r = await login(known.username, wrongPassword());
              if (r.outcome === 'accepted') accepted.push(known.username);
              sample(r, w);
            }
          }
        }
        unknown.push(...u);
        wrong.push(...w);
        return { u, w };
      };
      const first = await batch(ctx.inputs.samples);
      const timingOf = (u: LoginResponse[], w: LoginResponse[]) => compareTimings(u.map((r) => r.durationMs), w.map((r) => r.durationMs), ctx.inputs.alpha, ctx.inputs.minEffectMs);
      // Too few samples to ever reach alpha: timing is not determined (rather than "no difference").
      const enough = (u: unknown[], w: unknown[]) => canReachSignificance(u.length, w.length, ctx.inputs.alpha);
      let timing: TimingComparison | undefined = enough(first.u, first.w) ? timingOf(first.u, first.w) : undefined;
      let confirmation: TimingComparison | undefined;
      if (timing?.distinguishable) {
        // One batch can be unlucky on a loaded machine: a leak must show again in a second one.
        const again = await batch(ctx.inputs.samples);
        confirmation = enough(again.u, again.w) ? timingOf(again.u, again.w) : undefined;
        if (!confirmation?.distinguishable) timing = { ...timing, distinguishable: false };
      }
      if (known.password !== undefined && budget.used(known.username) > 0) await login(known.username, known.password);

      if (unknown.length === 0 || wrong.length === 0) {
        return notDetermined(noVerdict.length > 0
          ? `${channel.label}: ${noVerdict.length} failed login(s) got no authentication verdict (${[...new Set(noVerdict.map((r) => r.status))].join(', ')})`
          : `no failed login could be made within the lockout budget (threshold ${budget.threshold.value})`);
      }
      const features = (['status', 'message', 'bodyLength'] as Feature[]).flatMap((f) => compareFeature(f, unknown, wrong) ?? []);
      const echoed = [...unknown, ...wrong].some((r) => r.echoesPassword === true);
      // A first-batch difference that could not be checked again decides nothing either way.
      const timingDetermined = timing !== undefined && (confirmation !== undefined || first.u.length + first.w.length === unknown.length + wrong.length);
      const observations = {
        interface: channel.label,
        knownUser: known.username,
        samples: { unknownUser: unknown.length, wrongPassword: wrong.length },
        features: features.map(({ feature, distinguishes, inconclusive, unknownUser: a, wrongPassword: b }) => ({ feature, distinguishes, inconclusive, unknownUser: a.slice(0, 3), wrongPassword: b.slice(0, 3) })),
        timing: timing ? { ...timing, ...(confirmation ? { confirmation } : {}) } : null,
        ...(timingDetermined ? {} : { timingNotDetermined: budgetSpent ? 'the lockout budget allowed too few failed logins' : `${unknown.length} / ${wrong.length} samples cannot show a difference at alpha ${ctx.inputs.alpha}` }),
        passwordEchoed: echoed,
        ...(accepted.length ? { wrongPasswordAccepted: accepted } : {}),
        ...(noVerdict.length ? { noVerdict: { count: noVerdict.length, statuses: [...new Set(noVerdict.map((r) => r.status))] } } : {}),
      };
      const path = ctx.evidence.save('feedback.json', {
        ...observations, details: channel.details, lockoutThreshold: budget.threshold,
        responses: { unknownUser: unknown, wrongPassword: wrong },
      });
      const findings: Finding[] = [];
      const telling = features.filter((f) => f.distinguishes);
      if (telling.length > 0) {
        findings.push(finding({
          code: 'user-enumeration', severity: 'medium', requirements: ['CR 1.10', 'CR 3.7'], evidence: [path],
          message: `${channel.label}: a failed login tells an unknown user from a wrong password by its ${telling.map((f) => f.feature).join(', ')}`
            + ` (${telling.map((f) => `${JSON.stringify(String(f.unknownUser[0]).slice(0, 60))} vs ${JSON.stringify(String(f.wrongPassword[0]).slice(0, 60))}`).join('; ')})`,
        }));
      }
      if (timing?.distinguishable) {
        findings.push(finding({
          code: 'timing', severity: 'medium', requirements: ['CR 1.10'], evidence: [path],
          message: `${channel.label}: refusals for an existing user take ${timing.differenceMs > 0 ? 'longer' : 'less time'} than for unknown users `
            + `(medians ${timing.medianMs[1]} vs ${timing.medianMs[0]} ms, p=${timing.p}, confirmed by a second batch): the timing reveals which users exist`,
        }));
      }
      if (echoed) {
        findings.push(finding({
          code: 'password-echoed', severity: 'high', requirements: ['CR 1.10'], evidence: [path],
          message: `${channel.label}: the answer to a failed login contains the password that was submitted`,
        }));
      }
      if (accepted.length > 0) {
        findings.push(finding({
          code: 'wrong-password-accepted', severity: 'critical', requirements: ['CR 1.1'], evidence: [path],
          message: `${channel.label}: a random wrong password logged in as ${[...new Set(accepted.map((u) => (u === known.username ? u : 'an unknown user')))].join(' and ')}: `
            + 'the interface does not check passwords',
        }));
      }
      const compared = features.filter((f) => !f.inconclusive).map((f) => f.feature);
      const judgements: Judgement[] = [
        {
          requirement: 'CR 1.10', coverage: 'partial',
          passReason: `${channel.label}: unknown users and wrong passwords get the same ${compared.join(', ') || 'answer'}`
            + `${timingDetermined ? `${timing ? `, and the same time to refusal (medians ${timing.medianMs[0]} / ${timing.medianMs[1]} ms)` : ''}` : ' (timing not determined)'}; the password is not echoed`,
        },
        { requirement: 'CR 3.7', coverage: 'partial', passReason: `${channel.label}: the failed-login answer does not say whether the user or the password was wrong` },
        { requirement: 'CR 1.1', coverage: 'partial', passReason: `${channel.label}: ${unknown.length + wrong.length} random wrong passwords were refused` },
      ];
      return { observations, findings, outcomes: judge(judgements, findings) };
    },
  });
}
