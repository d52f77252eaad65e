import { expect } from 'chai';
import * as fs from 'node:fs';
import { parse as parseYaml } from 'yaml';
import cookies from '../../../probes/http/cookies';
import disclosure from '../../../probes/http/disclosure';
import headers from '../../../probes/http/headers';
import type { Grading } from '../../../src/protocols/http/web';

interface Level { hstsMinMaxAgeSeconds: number; sessionIdMinBits: number; grading: Record<string, Grading> }
const doc = parseYaml(fs.readFileSync('profiles/baselines/http.yaml', 'utf8')) as { basis: string[]; levels: Record<string, Level> };

type Raiser = { id: string; requirements: readonly string[]; findings?: Readonly<Record<string, string>> };
/** The graded codes (`<probe id>.<name>`) and the probe that raises each: the grading may only name requirements it declares. */
const GRADED: Record<string, readonly string[]> = {
  'http.headers': ['hsts-missing', 'hsts-short', 'hsts-invalid', 'no-frame-protection', 'no-csp', 'no-nosniff', 'no-referrer-policy', 'login-page-cacheable'],
  'http.cookies': ['no-secure', 'no-httponly', 'no-samesite', 'session-id-short'],
  'http.disclosure': ['version-disclosed'],
};
const RAISED_BY: Record<string, Raiser> = Object.fromEntries(([headers, cookies, disclosure] as Raiser[])
  .flatMap((probe) => GRADED[probe.id].map((name) => [`${probe.id}.${name}`, probe])));

describe('http baseline (profiles/baselines/http.yaml)', () => {
  const basisKeys = new Set(doc.basis.map((b) => /^\[([A-Za-z0-9-]+)\]/.exec(b)?.[1]).filter(Boolean));
  const levels = Object.entries(doc.levels);

  it('grades only findings the raising probe declares, keyed by their report code <probe id>.<name>', () => {
    for (const [code, probe] of Object.entries(RAISED_BY)) {
      expect(Object.keys(probe.findings ?? {}), code).to.include(code.slice(probe.id.length + 1));
    }
  });

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
