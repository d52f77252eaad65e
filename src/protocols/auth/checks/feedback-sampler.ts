import {
  SequentialTimingTest, type ProbeContext, type SequentialLook, type TimingComparison,
} from '../../../sdk';
import { LoginBudget, type LoginChannel, type LoginResponse, type LoginResult } from '..';
import { unknownUser, wrongPassword } from './common';

/**
 * How `<protocol>.feedback` takes its failed logins: pairs of one unknown user and the known user, each with a
 * wrong password, the order alternating (unknown first, then known first), two pairs a round. After each round
 * a group-sequential test (src/sdk/stats.ts) looks at the batch so far and stops it as soon as the timing is
 * clear either way, at most `maxSamples` pairs; a difference must show again in a second, independent batch.
 * Then, if fewer than `samples` pairs were made in all, more are made for the status/text/size comparison (it
 * never sees fewer answers than the fixed batch of `samples` gave it). docs/auth.md explains the design.
 */

export interface SamplingInputs {
  /** The fewest pairs the status/text/size comparison sees (the size of the fixed batch the test replaces). */
  samples: number;
  /** Most pairs in one batch of the timing test. */
  maxSamples: number;
  alpha: number;
  equivalenceAlpha: number;
  minEffectMs: number;
}

/** Why a batch ended: the test's answer, its sample cap, the lockout or time budget, or sizes too small for any look. */
export type BatchEnd = 'difference' | 'no-difference' | 'cap' | 'budget' | 'deadline' | 'too-few';

export interface Batch {
  unknown: LoginResponse[];
  wrong: LoginResponse[];
  looks: SequentialLook[];
  end: BatchEnd;
}

const PAIRS_PER_ROUND = 2;

export class FeedbackSampler {
  readonly unknown: LoginResponse[] = [];
  readonly wrong: LoginResponse[] = [];
  readonly accepted: string[] = [];
  /** Answers that are no authentication verdict (server error, rate limit): not failed logins, not compared. */
  readonly noVerdict: LoginResponse[] = [];
  readonly budget: LoginBudget;
  private pairs = 0;
  private budgetSpent = false;
  private lastRoundMs = 0;

  constructor(
    private readonly ctx: ProbeContext<SamplingInputs>,
    private readonly channel: LoginChannel,
    private readonly known: { username: string; password: string | undefined },
  ) {
    this.budget = new LoginBudget(ctx.ledger, ctx.policy, ctx.host.host);
  }

  /** The batches of the timing test, then the pairs the feature comparison still needs; resets the account. */
  async run(): Promise<{ discovery: Batch; confirmation?: Batch }> {
    const discovery = await this.batch();
    // One batch can be unlucky on a loaded machine: a difference must show again in an independent one.
    const confirmation = discovery.end === 'difference' ? await this.batch() : undefined;
    const extra = { unknown: [], wrong: [] };
    while (this.pairs < this.ctx.inputs.samples && !this.budgetSpent && this.timeForRound()) await this.pair(extra);
    if (this.known.password !== undefined && this.budget.used(this.known.username) > 0) await this.login(this.known.username, this.known.password);
    return { discovery, ...(confirmation ? { confirmation } : {}) };
  }

  private async batch(): Promise<Batch> {
    const { maxSamples, alpha, equivalenceAlpha, minEffectMs } = this.ctx.inputs;
    const test = new SequentialTimingTest({ alpha, equivalenceAlpha, minEffectMs, maxSamples });
    const batch: Batch = { unknown: [], wrong: [], looks: test.looks, end: 'cap' };
    for (let made = 0; made < maxSamples;) {
      if (!this.timeForRound()) return { ...batch, end: 'deadline' };
      const started = Date.now();
      for (let i = 0; i < PAIRS_PER_ROUND && made < maxSamples && !this.budgetSpent; i++, made++) await this.pair(batch);
      this.lastRoundMs = Date.now() - started;
      if (batch.unknown.length > 0 && batch.wrong.length > 0) {
        const look = test.look(batch.unknown.map((r) => r.durationMs), batch.wrong.map((r) => r.durationMs));
        if (look.decision !== 'continue') return { ...batch, end: look.decision };
      }
      if (this.budgetSpent) return { ...batch, end: 'budget' };
    }
    const decisive = test.looks.some((l) => l.level > 0 || l.interval !== null);
    return { ...batch, end: decisive ? 'cap' : 'too-few' };
  }

  /** Room for two more rounds like the last one and a second before the attempt's deadline. */
  private timeForRound(): boolean {
    return Date.now() + 2 * this.lastRoundMs + 1000 < this.ctx.deadline;
  }

  /** One unknown user and the known user with wrong passwords; the order alternates from pair to pair. */
  private async pair(into: { unknown: LoginResponse[]; wrong: LoginResponse[] }): Promise<void> {
    const order = this.pairs % 2 === 0 ? ['unknown', 'wrong'] : ['wrong', 'unknown'];
    this.pairs += 1;
    for (const which of order) {
      if (which === 'unknown') {
        const name = unknownUser();
        if (this.budget.remaining(name) < 1) { this.budgetSpent = true; return; }
        this.sample(await this.login(name, wrongPassword()), name, into.unknown, this.unknown);
      } else {
        if (!(await this.room())) { this.budgetSpent = true; return; }
        this.sample(await this.login(this.known.username, wrongPassword()), this.known.username, into.wrong, this.wrong);
      }
    }
  }

  private sample(r: LoginResult, username: string, batch: LoginResponse[], all: LoginResponse[]): void {
    if (r.outcome === 'accepted') this.accepted.push(username);
    if (r.outcome === 'refused') this.noVerdict.push(r.response);
    else {
      batch.push(r.response);
      all.push(r.response);
    }
  }

  private async login(username: string, password: string): Promise<LoginResult> {
    const r = await this.channel.tryLogin(username, password, this.ctx.signal);
    this.budget.record(username, r.outcome);
    // A page that repeats the user name must not look different for that reason alone.
    if (r.response.message) r.response.message = r.response.message.split(username).join('<user>');
    return r;
  }

  /** Makes room for one more failure of the known user; false when the budget is spent. */
  private async room(): Promise<boolean> {
    if (this.budget.remaining(this.known.username) >= 1) return true;
    if (this.known.password === undefined || this.budget.used(this.known.username) === 0) return false;
    const reset = await this.login(this.known.username, this.known.password);
    return reset.outcome === 'accepted' && this.budget.remaining(this.known.username) >= 1;
  }
}

/** A batch's last look as evidence: the comparison, the level it was judged at, the interval, how it ended. */
export interface BatchSummary extends TimingComparison {
  level: number;
  interval: [number, number] | null;
  intervalLevel: number;
  looks: number;
  stoppedBy: BatchEnd;
}

function summary(batch: Batch): BatchSummary | undefined {
  const last = batch.looks.at(-1);
  if (!last || batch.end === 'too-few') return undefined;
  const { decision: _d, ...comparison } = last;
  return { ...comparison, looks: batch.looks.length, stoppedBy: batch.end };
}

const UNDECIDED: Record<Exclude<BatchEnd, 'difference' | 'no-difference'>, (b: Batch, inputs: SamplingInputs) => string> = {
  budget: () => 'the lockout budget allowed too few failed logins',
  deadline: () => 'the attempt\'s time budget ran out before the timing was clear (raise timeoutMs)',
  'too-few': (b, inputs) => `${b.unknown.length} / ${b.wrong.length} samples cannot show a difference at alpha ${inputs.alpha}`,
  cap: (b, inputs) => {
    const interval = b.looks.at(-1)?.interval;
    return `after ${b.unknown.length} / ${b.wrong.length} samples the difference is neither significant with at least ${inputs.minEffectMs} ms `
      + `nor excluded${interval ? ` (shift interval ${interval[0]} to ${interval[1]} ms)` : ''}; raise maxSamples for a noisy interface`;
  },
};

/**
 * What the batches say about timing. A finding needs a difference in both batches; "no difference" needs the
 * first batch's interval within ±minEffectMs, or a second batch that excludes the first one's difference;
 * anything else leaves the timing not determined (with the reason).
 */
export function timingVerdict(discovery: Batch, confirmation: Batch | undefined, inputs: SamplingInputs): {
  timing: (BatchSummary & { distinguishable: boolean; confirmation?: BatchSummary }) | null; notDetermined?: string;
} {
  const first = summary(discovery);
  if (!first) {
    const end = discovery.end === 'budget' || discovery.end === 'deadline' ? discovery.end : 'too-few';
    return { timing: null, notDetermined: UNDECIDED[end](discovery, inputs) };
  }
  const second = confirmation ? summary(confirmation) : undefined;
  const timing = { ...first, distinguishable: discovery.end === 'difference' && confirmation?.end === 'difference', ...(second ? { confirmation: second } : {}) };
  if (discovery.end === 'no-difference') return { timing };
  if (discovery.end !== 'difference') return { timing, notDetermined: UNDECIDED[discovery.end](discovery, inputs) };
  if (confirmation?.end === 'difference' || confirmation?.end === 'no-difference') return { timing };
  const end = confirmation?.end ?? 'budget';
  return { timing, notDetermined: `a difference in the first batch was neither confirmed nor excluded by a second: ${UNDECIDED[end as keyof typeof UNDECIDED](confirmation ?? discovery, inputs)}` };
}
