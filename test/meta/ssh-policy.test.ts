import { expect } from 'chai';
import * as fs from 'node:fs';
import { parse as parseYaml } from 'yaml';
import algorithmsProbe from '../../probes/ssh/algorithms';
import authProbe from '../../probes/ssh/auth';
import { packagePath } from '../../src/paths';
import { SSH2_SUPPORTED, SSH_POLICY_FINDINGS, globToRegExp, validatePolicyLevel, type PolicyRule } from '../../src/protocols/ssh';

interface Baseline {
  basis: string[];
  rules: PolicyRule[];
  levels: Record<string, { rules: PolicyRule[] }>;
}

const baseline = parseYaml(fs.readFileSync(packagePath('profiles', 'baselines', 'ssh.yaml'), 'utf8')) as Baseline;
const catalog = JSON.parse(fs.readFileSync(packagePath('src', 'catalog', 'catalog.json'), 'utf8')) as { requirements: { id: string }[] };
const catalogIds = new Set(catalog.requirements.map((r) => r.id));

/** Names the rules are written against: what ssh2 implements plus legacy names seen on devices. */
const KNOWN_NAMES = new Set([
  ...SSH2_SUPPORTED.kex, ...SSH2_SUPPORTED.serverHostKey, ...SSH2_SUPPORTED.cipher, ...SSH2_SUPPORTED.mac,
  'rsa1024-sha1', 'gss-group1-sha1-toWM5Slw5Ew8Mqkay+al2g==', 'gss-group14-sha256-toWM5Slw5Ew8Mqkay+al2g==',
  'arcfour', 'arcfour128', 'arcfour256', 'blowfish-cbc', 'cast128-cbc', 'des-cbc', 'idea-cbc', 'rijndael-cbc@lysator.liu.se', 'none',
  'hmac-md5-etm@openssh.com', 'hmac-md5-96-etm@openssh.com', 'hmac-sha1-96-etm@openssh.com', 'umac-64@openssh.com', 'umac-64-etm@openssh.com',
  'hmac-ripemd160@openssh.com', 'ssh-dss-cert-v01@openssh.com', 'ssh-rsa-cert-v01@openssh.com', '1.5', '1.99',
]);

describe('SSH policy baseline (profiles/baselines/ssh.yaml)', () => {
  const levels = Object.entries(baseline.levels);
  const basisKeys = new Set(baseline.basis.map((b) => /^\[([A-Za-z0-9-]+)\]/.exec(b)?.[1]));

  it('defines levels 1..4, each valid, with unique codes', () => {
    expect(levels.map(([l]) => l)).to.deep.equal(['1', '2', '3', '4']);
    for (const [level, def] of levels) {
      expect(validatePolicyLevel(def), `level ${level}`).to.deep.equal([]);
      const codes = def.rules.map((r) => r.code);
      expect(new Set(codes).size, `level ${level} repeats a code`).to.equal(codes.length);
    }
  });

  it('never drops a rule at a higher level', () => {
    for (let l = 2; l <= 4; l++) {
      const lower = baseline.levels[String(l - 1)].rules.map((r) => r.code);
      expect(baseline.levels[String(l)].rules.map((r) => r.code), `level ${l}`).to.include.members(lower);
    }
  });

  it('cites only defined sources and known requirements the probe declares', () => {
    for (const rule of baseline.rules) {
      for (const key of rule.basis) expect(basisKeys.has(key), `${rule.code} cites ${key}`).to.equal(true);
      for (const r of rule.requirements) {
        expect(catalogIds.has(r), `${rule.code}: ${r} is not in the catalog`).to.equal(true);
        expect(algorithmsProbe.requirements, `${rule.code}: ssh.algorithms does not declare ${r}`).to.include(r);
      }
    }
    for (const r of [...algorithmsProbe.requirements, ...authProbe.requirements]) expect(catalogIds.has(r), r).to.equal(true);
  });

  it('every match pattern matches at least one real algorithm name (no typos)', () => {
    for (const rule of baseline.rules) {
      for (const pattern of [...(rule.match ?? []), ...(rule.except ?? [])]) {
        const re = globToRegExp(pattern);
        expect([...KNOWN_NAMES].some((n) => re.test(n)), `${rule.code}: ${pattern} matches nothing known`).to.equal(true);
      }
    }
  });

  it('every level flags SSH-1, so an SSH-1-only server can never pass', () => {
    for (const [level, def] of levels) expect(def.rules.some((r) => r.check === 'protocol' && r.code === 'protocol-1'), `level ${level}`).to.equal(true);
  });

  it('ssh.algorithms declares exactly the finding names the baseline rules raise', () => {
    expect(algorithmsProbe.findings).to.equal(SSH_POLICY_FINDINGS);
    expect([...new Set(baseline.rules.map((r) => r.code))].sort()).to.deep.equal(Object.keys(SSH_POLICY_FINDINGS).sort());
  });

  it('refuses a rule named after an undeclared finding, or after a full code', () => {
    const rule = { ...baseline.rules[0] };
    const unknown = validatePolicyLevel({ rules: [{ ...rule, code: 'kex-sha3' }] });
    expect(unknown).to.have.length(1);
    expect(unknown[0]).to.match(/code must be one of the finding names ssh\.algorithms declares: protocol-1, /);
    // A baseline written before issue 25 (ssh.<name>), or with the reported code (ssh.algorithms.<name>), is told the name.
    for (const name of Object.keys(SSH_POLICY_FINDINGS)) {
      for (const full of [`ssh.${name}`, `ssh.algorithms.${name}`]) {
        expect(validatePolicyLevel({ rules: [{ ...rule, code: full }] })[0], full).to.contain(`without the probe id (e.g. ${name})`);
      }
    }
  });

  it('docs/ssh.md documents every finding code, as <probe id>.<name>', () => {
    const doc = fs.readFileSync(packagePath('docs', 'ssh.md'), 'utf8');
    for (const probe of [algorithmsProbe, authProbe]) {
      for (const name of Object.keys(probe.findings ?? {})) expect(doc, `${probe.id}.${name}`).to.contain(`\`${probe.id}.${name}\``);
    }
    expect(Object.keys(authProbe.findings ?? {})).to.include('none-accepted');
  });
});
