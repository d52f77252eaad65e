import { expect } from 'chai';
import { currentState, judgeMonitor, judgeWatch, type MonitorSample, type WatchJudgeSpec } from '../../src/sdk';

const PARAMS = { latencyToleranceMs: 100, lossAfterMs: 1000 };
const COUNTER: WatchJudgeSpec = { name: 'modbus', counter: true, stallAfterMs: 600 };
const VALUE: WatchJudgeSpec = { name: 'https', counter: false, stallAfterMs: 0 };

/** Samples every 200 ms from t=0: `spec` per sample is [ok, latencyMs, value?]. */
function series(watch: string, spec: readonly (readonly [boolean, number, number?])[]): MonitorSample[] {
  return spec.map(([ok, latencyMs, value], i) => ({ t: i * 200, watch, ok, latencyMs, ...(value !== undefined ? { value } : {}), ...(ok ? {} : { error: 'no answer' }) }));
}
const counting = (n: number, from = 0, at = 0) => Array.from({ length: n }, (_, i) => [true, 10, from + Math.floor((at + i) / 2)] as const);

describe('essential-function judgement (pure)', () => {
  it('maintained: every answer on time and the counter counting', () => {
    const j = judgeWatch(series('modbus', counting(20)), COUNTER, PARAMS);
    expect(j.verdict).to.equal('maintained');
    expect(j).to.include({ samples: 20, good: 20, failed: 0, frozen: 0 });
    expect(j.text).to.match(/^maintained: 20 samples/);
  });

  it('degraded within tolerance: late answers and a short outage, never for lossAfterMs', () => {
    const s = series('https', [[true, 10], [true, 250], [false, 100], [false, 100], [true, 10], [true, 10]]);
    const j = judgeWatch(s, VALUE, PARAMS);
    expect(j.verdict).to.equal('degraded');
    expect(j).to.include({ slow: 1, failed: 2 });
    expect(j.outages).to.have.length(1);
    expect(j.outages[0]).to.include({ durationMs: 400, loss: false });
    expect(j.text).to.match(/^degraded within tolerance/);
  });

  it('lost: failing for lossAfterMs until the monitor stopped', () => {
    const s = series('https', [[true, 10], [true, 10], ...Array.from({ length: 8 }, () => [false, 100] as const)]);
    const j = judgeWatch(s, VALUE, PARAMS);
    expect(j.verdict).to.equal('lost');
    expect(j.outages[0]).to.include({ start: 400, loss: true });
    expect(j.outages[0].recoveredAt).to.equal(undefined);
    // The evidence: the last good sample before the outage, its first and last failed samples.
    expect(j.evidence.map((e) => e.t)).to.deep.equal([200, 400, 1800]);
  });

  it('recovered after N s: lost, then answering again; the evidence names the first good sample after', () => {
    const s = series('https', [[true, 10], ...Array.from({ length: 7 }, () => [false, 100] as const), [true, 10], [true, 10]]);
    const j = judgeWatch(s, VALUE, PARAMS);
    expect(j.verdict).to.equal('recovered');
    expect(j.recoveredAfterS).to.equal(1.4);
    expect(j.text).to.match(/^recovered after 1.4 s/);
    expect(j.evidence.map((e) => [e.t, e.ok])).to.deep.equal([[0, true], [200, false], [1400, false], [1600, true]]);
  });

  it('a counter that stops counting while reads still answer is lost, not maintained', () => {
    const frozen = Array.from({ length: 12 }, () => [true, 10, 7] as const);
    const s = series('modbus', [...counting(6, 5), ...frozen]);
    const j = judgeWatch(s, COUNTER, PARAMS);
    expect(j.failed).to.equal(0);
    expect(j.frozen).to.be.greaterThan(0);
    expect(j.verdict).to.equal('lost');
    expect(j.outages[0].errors[0]).to.match(/counter frozen at 7/);
    // The same answers from a value watch (no counter) are maintained: only the counter rule catches it.
    expect(judgeWatch(s, { ...COUNTER, counter: false }, PARAMS).verdict).to.equal('maintained');
  });

  it('no sample is not determined, never maintained', () => {
    expect(judgeWatch([], VALUE, PARAMS).verdict).to.equal('not_determined');
    expect(judgeMonitor([], [], [VALUE], PARAMS).overall.verdict).to.equal('not_determined');
  });

  it('judges each phase on its own and the host by its worst watch', () => {
    const modbus = series('modbus', counting(20));
    const https = series('https', [...Array.from({ length: 10 }, () => [true, 10] as const), ...Array.from({ length: 6 }, () => [false, 100] as const), ...Array.from({ length: 4 }, () => [true, 10] as const)]);
    const j = judgeMonitor([...modbus, ...https], [
      { label: 'quiet', start: 0, end: 1800 },
      { label: 'flood 1000/s', attempt: 'x@h', start: 2000, end: 2800 },
    ], [COUNTER, VALUE], PARAMS);
    expect(j.overall.verdict).to.equal('recovered');
    expect(j.overall.watches.map((w) => w.verdict)).to.deep.equal(['maintained', 'recovered']);
    expect(j.phases.map((p) => [p.label, p.verdict])).to.deep.equal([['quiet', 'maintained'], ['flood 1000/s', 'recovered']]);
    expect(j.phases[1].attempt).to.equal('x@h');
  });

  it('live state: degraded while failing, lost once the failed samples span lossAfterMs', () => {
    const failing = (n: number) => series('https', [[true, 10], ...Array.from({ length: n }, () => [false, 100] as const)]);
    expect(currentState(failing(2), VALUE, PARAMS)).to.equal('degraded');
    expect(currentState(failing(6), VALUE, PARAMS)).to.equal('lost'); // 200 .. 1200 + 100 ms
    expect(judgeWatch(failing(6), VALUE, PARAMS).verdict).to.equal('lost');
    expect(currentState(series('https', [[true, 300]]), VALUE, PARAMS)).to.equal('degraded');
    expect(currentState([], VALUE, PARAMS)).to.equal('maintained');
  });
});
