import { expect } from 'chai';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { parse as parseYaml } from 'yaml';
import { MapLedger } from '../../src/runner/attempt';
import {
  LoginBudget, accountKey, builtinLists, checkList, clearMaybeLocked, loadCredentialList, lockNotices, markMaybeLocked, maybeLockedSince,
} from '../../src/protocols/auth';
import { findLoginForm, findLogoutLink, samePath, visibleText } from '../../src/protocols/auth/html';
import {
  SequentialTimingTest, canBoundShift, canReachSignificance, compareTimings, mannWhitney, median, normalQuantile, pocockSpending, shiftInterval,
  type SequentialDecision,
} from '../../src/sdk/stats';
import { normalizeText } from '../../src/protocols/auth/checks/feedback';
import { renderConsoleSummary } from '../../src/report/console';
import { renderHtml } from '../../src/report/html';
import { finish, makeReport } from '../helpers/report-factory';
import { expectValidReport } from '../helpers/report-schema';

describe('authentication layer', () => {
  describe('default-credential lists (data policed like a knowledge base)', () => {
    const lists = builtinLists();

    it('ships the generic and IACS lists', () => {
      expect(lists).to.include.members(['generic', 'iacs']);
    });

    for (const name of lists) {
      it(`${name}: every entry has a unique id, a protocol, and either sources or a reason it is uncited`, () => {
        const list = loadCredentialList(name);
        expect(list.entries.length).to.be.greaterThan(5);
        for (const e of list.entries) {
          expect(Boolean(e.sources) !== Boolean(e.uncited), e.id).to.equal(true);
          for (const s of e.sources ?? []) expect(s, e.id).to.match(/https?:\/\/\S+/);
        }
        expect(list.sha256).to.match(/^[0-9a-f]{64}$/);
      });
    }

    it('rejects entries without a source or reason, duplicate ids, numbers as passwords', () => {
      const entry = { id: 'a', username: 'u', password: 'p', sources: ['manual https://example.com'] };
      expect(() => checkList({ id: 'x', title: 't', entries: [{ ...entry, sources: undefined }] }, 'x')).to.throw(/either sources/);
      expect(() => checkList({ id: 'x', title: 't', entries: [entry, entry] }, 'x')).to.throw(/used twice/);
      expect(() => checkList({ id: 'x', title: 't', entries: [{ ...entry, password: 1234 }] }, 'x')).to.throw(/quote numbers/);
      expect(() => checkList({ id: 'x', title: 't', entries: [{ ...entry, protocols: ['telnet'] }] }, 'x')).to.throw(/protocols/);
    });

    it('loads a profile-relative file and names a missing one', () => {
      const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'iacs-list-'));
      try {
        fs.writeFileSync(path.join(dir, 'lab.yaml'), 'id: lab\ntitle: Lab list\nentries:\n  - { id: x, username: svc, password: "0000", uncited: lab practice }\n');
        expect(loadCredentialList('lab.yaml', (f) => path.join(dir, f)).entries[0]).to.deep.include({ username: 'svc', password: '0000', protocols: ['any'] });
        expect(() => loadCredentialList('nope.yaml', (f) => path.join(dir, f))).to.throw(/no built-in list/);
      } finally {
        fs.rmSync(dir, { recursive: true, force: true });
      }
    });

    it('no list repeats a pair inside itself', () => {
      for (const name of lists) {
        const doc = parseYaml(fs.readFileSync(path.join('profiles', 'default-credentials', `${name}.yaml`), 'utf8')) as { entries: { username: string; password: string }[] };
        const pairs = doc.entries.map((e) => `${e.username}\u0000${e.password}`);
        expect(new Set(pairs).size, name).to.equal(pairs.length);
      }
    });
  });

  describe('lockout budget and lock notices in the run ledger', () => {
    it('allows threshold - 1 failures per account, a success resets it, per-source counts every failure', () => {
      const ledger = new MapLedger();
      const budget = new LoginBudget(ledger, { lockout: { threshold: 3 } }, 'h');
      expect(budget.remaining('a')).to.equal(2);
      budget.record('a', 'rejected');
      budget.record('a', 'rejected');
      expect(budget.remaining('a')).to.equal(0);
      budget.record('a', 'accepted');
      expect(budget.remaining('a')).to.equal(2);
      budget.record('a', 'unsupported');
      expect(ledger.get(accountKey('h', 'a'))).to.equal(0);
      const source = new LoginBudget(ledger, { lockout: { threshold: 3, scope: 'source' } }, 'h');
      expect(source.remaining('someone-else')).to.equal(0); // two failures from this machine already
    });

    it('an undocumented threshold is assumed to be 3, scope per user (said so)', () => {
      expect(new LoginBudget(new MapLedger(), {}, 'h').threshold).to.deep.equal({ value: 3, source: 'assumed', scope: 'user', scopeAssumed: true });
    });

    it('marks an account maybe locked until the probe saw it work again', () => {
      const ledger = new MapLedger();
      const n = { probe: 'ssh.lockout', target: '[::1]:22', account: 'op' };
      markMaybeLocked(ledger, n, 1000);
      expect(lockNotices(ledger.toJSON())).to.deep.equal([{ ...n, since: 1000 }]);
      expect(maybeLockedSince(ledger, '::1', 'op')).to.equal(1000);
      clearMaybeLocked(ledger, n);
      expect(lockNotices(ledger.toJSON())).to.deep.equal([]);
      expect(maybeLockedSince(ledger, '::1', 'op')).to.equal(0);
    });
  });

  describe('login forms in HTML', () => {
    const page = `<html><body><form action="/cgi/login.cgi" method=POST><input type=hidden name=csrf value="a&amp;b">
      <input name="user" type="text"><input type="password" name='pw'><button>Go</button></form>
      <form action="/search"><input name=q></form><a href="/cgi/logout?x=1">Sign out</a></body></html>`;

    it('finds the form with the password field, its fields and hidden inputs', () => {
      expect(findLoginForm(page)).to.deep.equal({ action: '/cgi/login.cgi', method: 'post', usernameField: 'user', passwordField: 'pw', hidden: { csrf: 'a&b' } });
      expect(findLoginForm('<form><input name=q></form>')).to.equal(undefined);
      expect(findLogoutLink(page)).to.equal('/cgi/logout?x=1');
    });

    it('keeps links inside the declared service', () => {
      expect(samePath('login.cgi', '/cgi/index.html', 'https://10.0.0.1:8443')).to.equal('/cgi/login.cgi');
      expect(samePath('https://10.0.0.1:8443/a?b=1', '/', 'https://10.0.0.1:8443')).to.equal('/a?b=1');
      expect(samePath('https://evil.example/a', '/', 'https://10.0.0.1:8443')).to.equal(undefined);
      expect(samePath('http://10.0.0.1:8443/a', '/', 'https://10.0.0.1:8443')).to.equal(undefined);
    });

    it('reads the visible text and normalises what changes between answers', () => {
      expect(visibleText('<p>Wrong&nbsp;<b>password</b></p><script>x()</script>')).to.equal('Wrong&nbsp; password');
      expect(normalizeText('token 3f2a9c1b77e0 at 12:30, id dGhpcyBpcyBhIGxvbmcgdG9rZW4=')).to.equal('token <hex> at <n>:<n>, id <token>');
    });
  });

  describe('timing statistics', () => {
    it('medians and Mann-Whitney: separated samples are significant, alike ones are not', () => {
      expect(median([3, 1, 2])).to.equal(2);
      expect(median([4, 1, 2, 3])).to.equal(2.5);
      const a = [10, 11, 12, 10, 11, 12, 10, 11];
      const b = a.map((x) => x + 40);
      expect(mannWhitney(a, b).p).to.be.below(0.001);
      expect(mannWhitney(a, b).separation).to.equal(0);
      expect(mannWhitney(a, [...a].reverse()).p).to.be.above(0.5);
      expect(compareTimings(a, b, 0.01, 15)).to.deep.include({ differenceMs: 40, distinguishable: true });
      expect(compareTimings(a, a.map((x) => x + 5), 0.01, 15).distinguishable).to.equal(false); // significant but below the effect size
    });

    it('knows when a sample is too small to ever show a difference', () => {
      expect(canReachSignificance(5, 5, 0.01)).to.equal(false);
      expect(canReachSignificance(6, 6, 0.01)).to.equal(true);
    });
  });

  describe('sequential timing test (group-sequential, Pocock-type alpha spending, repeated shift intervals)', () => {
    /** A seeded generator (Park-Miller), so the simulations below are the same on every run. */
    const random = (seed: number) => () => (seed = (seed * 16807) % 2147483647) / 2147483647;
    const OPTIONS = { alpha: 0.01, equivalenceAlpha: 0.05, minEffectMs: 15, maxSamples: 12 };

    /** Runs one batch as feedback-sampler does (two pairs a round, a look after each) on generated refusal times. */
    function batch(draw: () => number, shift: number, options = OPTIONS): { decision: SequentialDecision | 'cap'; pairs: number; test: SequentialTimingTest } {
      const test = new SequentialTimingTest(options);
      const a: number[] = [];
      const b: number[] = [];
      while (a.length < options.maxSamples) {
        for (let i = 0; i < 2; i++) {
          a.push(Math.round(draw()));
          b.push(Math.round(draw() + shift));
        }
        const look = test.look(a, b);
        if (look.decision !== 'continue') return { decision: look.decision, pairs: a.length, test };
      }
      return { decision: 'cap', pairs: a.length, test };
    }

    it('normal quantiles and the spending function', () => {
      expect(normalQuantile(0.975)).to.be.closeTo(1.95996, 1e-4);
      expect(normalQuantile(0.995)).to.be.closeTo(2.57583, 1e-4);
      expect(normalQuantile(0.05)).to.be.closeTo(-1.64485, 1e-4);
      expect(pocockSpending(0.01, 0)).to.equal(0);
      expect(pocockSpending(0.01, 1)).to.be.closeTo(0.01, 1e-12);
      expect(pocockSpending(0.01, 0.5)).to.be.closeTo(0.01 * Math.log(1 + (Math.E - 1) / 2), 1e-12);
      expect(pocockSpending(0.01, 2)).to.be.closeTo(0.01, 1e-12); // past the cap nothing more is spent
    });

    it('the shift interval: Moses ranks, worked by hand for 6 + 6 values shifted by 10', () => {
      const a = [1, 2, 3, 4, 5, 6];
      // C = floor(36/2 - 1.645 * sqrt(36 * 13 / 12)) = 7: the 7th and 30th of the 36 differences 10 + (j - i).
      expect(shiftInterval(a, a.map((x) => x + 10), 0.05)).to.deep.equal({ estimate: 10, low: 8, high: 12 });
      expect(canBoundShift(3, 3, 0.05)).to.equal(false);
      expect(canBoundShift(4, 4, 0.05)).to.equal(true);
      expect(shiftInterval([1, 2, 3], [4, 5, 6], 0.05)).to.equal(undefined);
    });

    it('a clear difference stops the batch at the first look that can reach its level (6 pairs of 12); a difference excluded at 4', () => {
      const draw = random(7);
      const noise = () => 5 + 4 * draw();
      expect(batch(noise, 150)).to.deep.include({ decision: 'difference', pairs: 6 });
      expect(batch(noise, 0)).to.deep.include({ decision: 'no-difference', pairs: 4 });
      // A difference below the minimum effect is never a finding, however significant.
      expect(batch(noise, 8).decision).to.not.equal('difference');
    });

    it('never looser than one fixed test: each look\'s level is spent from alpha, the levels add up to at most alpha', () => {
      const draw = random(11);
      for (let i = 0; i < 200; i++) {
        const { test } = batch(() => 20 + 30 * draw(), 15 * draw());
        const levels = test.looks.map((l) => l.level);
        expect(levels.reduce((s, l) => s + l, 0)).to.be.at.most(0.01 + 1e-9);
        expect(test.looks.map((l) => l.intervalLevel).reduce((s, l) => s + l, 0)).to.be.at.most(0.05 + 1e-9);
        for (const look of test.looks.filter((l) => l.decision === 'difference')) {
          expect(look.p).to.be.below(look.level);
          expect(look.level).to.be.at.most(0.01);
          expect(Math.abs(look.differenceMs)).to.be.at.least(15);
        }
      }
    });

    it('simulated error rates: no difference rarely reads as one (≤ alpha), a difference of the minimum effect rarely as none (≤ equivalenceAlpha)', () => {
      const draw = random(2026);
      // Refusal times with a long tail, like a loaded machine: exponential with a 20 ms mean.
      const loaded = () => -20 * Math.log(1 - draw());
      const runs = 4000;
      const rate = (shift: number, decision: SequentialDecision) => {
        let hits = 0;
        for (let i = 0; i < runs; i++) if (batch(loaded, shift).decision === decision) hits++;
        return hits / runs;
      };
      // Upper bounds with three standard errors of the simulation (the design's bounds are 0.01 and 0.05).
      expect(rate(0, 'difference')).to.be.at.most(0.01 + 3 * Math.sqrt(0.01 * 0.99 / runs));
      expect(rate(15, 'no-difference')).to.be.at.most(0.05 + 3 * Math.sqrt(0.05 * 0.95 / runs));
    });
  });

  describe('run notices in the report', () => {
    it('validate against the schema and show in the console summary and the HTML cover', () => {
      const report = finish(makeReport({ hostile: false }));
      report.run.notices = [{
        kind: 'account-may-be-locked', probe: 'ssh.lockout', target: '192.0.2.10:22', account: 'operator', since: '2025-03-14T09:27:00.000Z',
        message: 'operator on 192.0.2.10:22 may still be locked: ssh.lockout made failed logins from 2025-03-14T09:27:00.000Z and did not see the account work again',
      }];
      expectValidReport(report);
      expect(renderConsoleSummary(report, '/tmp/run')).to.contain('NOTICE: operator on 192.0.2.10:22 may still be locked');
      expect(renderHtml(report)).to.contain('<p class="banner warn notice">Notice: operator on 192.0.2.10:22 may still be locked');
    });
  });
});
