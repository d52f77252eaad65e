import {
  MissingInput, defineProbe, finding, judge, type Finding, type Judgement, type ProbeDefinition,
  inputsSchema,
} from '../../../sdk';
import { thresholdOf, type AuthProtocol, type LoginResponse } from '..';
import { AUTH_LABELS, onEveryLoginService, accountFor, accountLocks, channelOf, notDetermined } from './common';
import { FeedbackSampler, timingVerdict } from './feedback-sampler';

export interface FeedbackInputs {
  /** Failed logins per class (unknown user / wrong password) the status/text/size comparison sees at least. */
  samples: number;
  /** Most failed logins per class in one batch of the timing test, which stops earlier when the answer is clear. */
  maxSamples: number;
  /** Error level of a timing finding (each of its two batches), spent over the looks of a batch. */
  alpha: number;
  /** Error level of "no timing difference" (each end of the shift interval), spent over the looks of a batch. */
  equivalenceAlpha: number;
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
 * the time to the refusal (medians, Mann-Whitney U, minimum effect, in a group-sequential test that stops a
 * batch as soon as the answer is clear; a timing difference is confirmed by a second batch before it counts:
 * feedback-sampler.ts). Every failure is booked in the run's lockout budget; the right password resets the
 * account between failures when the profile gives it.
 */
export function feedbackProbe(protocol: AuthProtocol): ProbeDefinition<FeedbackInputs> {
  const id = `${protocol}.feedback`;
  return defineProbe<FeedbackInputs>({
    id,
    ...onEveryLoginService(protocol),
    title: `${AUTH_LABELS[protocol]} login feedback: unknown user vs wrong password`,
    description:
      'Makes failed logins as random unknown users and as an existing user (credentials.feedback.<protocol> or the '
      + "protocol's own, or input knownUser) with random wrong passwords, interleaved, and compares what comes back: "
      + 'status, text, size, whether the password is echoed, and the time to the refusal (medians and a Mann-Whitney '
      + 'test with a minimum effect, taken in rounds that stop as soon as the difference is clear or excluded, and '
      + 'confirmed by a second batch). Stays below the lockout threshold by logging in '
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
        maxSamples: { type: 'integer', minimum: 2, maximum: 100 },
        alpha: { type: 'number', exclusiveMinimum: 0, maximum: 0.5 },
        equivalenceAlpha: { type: 'number', exclusiveMinimum: 0, maximum: 0.5 },
        minEffectMs: { type: 'number', minimum: 0 },
        knownUser: { type: 'string', minLength: 1 },
      }),
      defaults: { samples: 8, maxSamples: 12, alpha: 0.01, equivalenceAlpha: 0.05, minEffectMs: 15 },
    },
    locks: ({ host, service, credentials, inputs }) => {
      const user = accountFor(credentials, protocol, 'feedback')?.username ?? inputs.knownUser;
      return user ? accountLocks(host, service, [user], 'exclusive') : [];
    },
    logins: ({ credentials, inputs, policy }) => {
      const credential = accountFor(credentials, protocol, 'feedback');
      const user = credential?.username ?? inputs.knownUser;
      if (!user) return [];
      const threshold = thresholdOf(policy).value;
      // Discovery and confirmation batches of at most maxSamples pairs, then a top-up to `samples` pairs.
      const total = 2 * inputs.maxSamples + inputs.samples;
      return [{
        account: user, consecutiveFailuresMax: threshold - 1, failuresMax: credential ? total : Math.min(total, threshold - 1), locksOnPurpose: false,
        basis: credential
          ? `wrong-password samples (at most ${total}), the right password in between keeps them below the threshold ${threshold} (the run's login budget)`
          : `no password for ${user}: stops at ${threshold - 1} failed logins (the run's login budget, threshold ${threshold})`,
      }];
    },
    async run(ctx) {
      const credential = accountFor(ctx.credentials, protocol, 'feedback');
      const known = credential ? { username: credential.username, password: credential.password as string | undefined } : ctx.inputs.knownUser ? { username: ctx.inputs.knownUser, password: undefined } : undefined;
      if (!known) throw new MissingInput(`the profile gives no existing user for ${protocol} (credentials.feedback.${protocol}, credentials.${protocol} or input knownUser)`);
      const channel = await channelOf(ctx);
      if ('unsupported' in channel) return notDetermined(channel.unsupported);
      const sampler = new FeedbackSampler(ctx, channel, known);
      const { discovery, confirmation } = await sampler.run();
      const { unknown, wrong, accepted, noVerdict, budget } = sampler;

      if (unknown.length === 0 || wrong.length === 0) {
        return notDetermined(noVerdict.length > 0
          ? `${channel.label}: ${noVerdict.length} failed login(s) got no authentication verdict (${[...new Set(noVerdict.map((r) => r.status))].join(', ')})`
          : discovery.end === 'deadline' ? 'no failed login could be made within the attempt\'s time budget'
            : `no failed login could be made within the lockout budget (threshold ${budget.threshold.value})`);
      }
      const features = (['status', 'message', 'bodyLength'] as Feature[]).flatMap((f) => compareFeature(f, unknown, wrong) ?? []);
      const echoed = [...unknown, ...wrong].some((r) => r.echoesPassword === true);
      const verdict = timingVerdict(discovery, confirmation, ctx.inputs);
      const timing = verdict.timing;
      const timingDetermined = verdict.notDetermined === undefined;
      const observations = {
        interface: channel.label,
        knownUser: known.username,
        samples: { unknownUser: unknown.length, wrongPassword: wrong.length },
        features: features.map(({ feature, distinguishes, inconclusive, unknownUser: a, wrongPassword: b }) => ({ feature, distinguishes, inconclusive, unknownUser: a.slice(0, 3), wrongPassword: b.slice(0, 3) })),
        timing,
        ...(verdict.notDetermined !== undefined ? { timingNotDetermined: verdict.notDetermined } : {}),
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
