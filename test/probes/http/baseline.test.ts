import { expect } from 'chai';
import * as fs from 'node:fs';
import { parse as parseYaml } from 'yaml';
import cookies from '../../../probes/http/cookies';
import disclosure from '../../../probes/http/disclosure';
import headers from '../../../probes/http/headers';
import type { Grading } from '../../../src/protocols/http/web';

interface Level { hstsMinMaxAgeSeconds: number; sessionIdMinBits: number; grading: Record<string, Grading> }
const doc = parseYaml(fs.readFileSync('profiles/baselines/http.yaml', 'utf8')) as { basis: string[]; levels: Record<string, Level> };

/** Which probe raises each graded code (the grading may only name requirements that probe declares). */
const RAISED_BY: Record<string, { requirements: readonly string[] }> = {
  'http.hsts-missing': headers, 'http.hsts-short': headers, 'http.hsts-invalid': headers, 'http.no-frame-protection': headers,
  'http.no-csp': headers, 'http.no-nosniff': headers, 'http.no-referrer-policy': headers, 'http.login-page-cacheable': headers,
  'http.cookie-no-secure': cookies, 'http.cookie-no-httponly': cookies, 'http.cookie-no-samesite': cookies, 'http.session-id-short': cookies,
  'http.version-disclosed': disclosure,
};

describe('http baseline (profiles/baselines/http.yaml)', () => {
  const basisKeys = new Set(doc.basis.map((b) => /^\[([A-Za-z0-9-]+)\]/.exec(b)?.[1]).filter(Boolean));
  const levels = Object.entries(doc.levels);

  it('defines levels 1 to 4, each grading every code the probes look up, with cited basis keys', () => {
    expect(levels.map(([l]) => l)).to.deep.equal(['1', '2', '3', '4']);
    for (const [l, level] of levels) {
      expect(Object.keys(level.grading).sort(), `level ${l}`).to.deep.equal(Object.keys(RAISED_BY).sort());
      for (const [code, g] of Object.entries(level.grading)) {
        expect(['critical', 'high', 'medium', 'low', 'info'], `${l} ${code}`).to.include(g.severity);
        for (const r of g.requirements ?? []) expect(RAISED_BY[code].requirements, `${l} ${code}`).to.include(r);
        if (g.severity === 'info') expect(g.requirements ?? [], `${l} ${code}: info fails nothing`).to.deep.equal([]);
        else expect(g.requirements ?? [], `${l} ${code}: a finding above info must name what it fails`).to.not.deep.equal([]);
        for (const b of g.basis ?? []) expect(basisKeys.has(b), `${l} ${code} basis ${b}`).to.equal(true);
        expect(g.basis ?? [], `${l} ${code} cites a basis`).to.not.deep.equal([]);
      }
    }
  });

  it('never gets laxer at a higher level', () => {
    const rank = ['info', 'low', 'medium', 'high', 'critical'];
    for (let l = 2; l <= 4; l++) {
      const [lower, higher] = [doc.levels[String(l - 1)], doc.levels[String(l)]];
      expect(higher.hstsMinMaxAgeSeconds).to.be.at.least(lower.hstsMinMaxAgeSeconds);
      expect(higher.sessionIdMinBits).to.be.at.least(lower.sessionIdMinBits);
      for (const code of Object.keys(RAISED_BY)) {
        expect(rank.indexOf(higher.grading[code].severity), `${code} at ${l}`).to.be.at.least(rank.indexOf(lower.grading[code].severity));
      }
    }
  });

});
