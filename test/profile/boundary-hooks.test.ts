import { expect } from 'chai';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { ProfileError, formatIssue, loadProfile, profileFromObject } from '../../src/profile';

const zones = [
  { name: 'control', trusted: true, subnet: '198.19.1.0/24', endpoint: { namespace: 'side-a', address: '198.19.1.10', gateway: '198.19.1.1' } },
  { name: 'field', trusted: false, subnet: '198.19.2.0/24', endpoint: { namespace: 'side-b', address: '198.19.2.10', gateway: '198.19.2.1' } },
];
const base = (boundaryHooks: unknown, withZones = true) => ({
  apiVersion: 'iacs-probe/v1',
  component: { name: 'fw', types: ['network'], slTarget: 2 },
  targets: [{ host: '198.19.1.1', services: [{ port: 22, protocol: 'ssh' }] }],
  ...(withZones ? { zones, conduits: [{ from: 'control', to: 'field', protocol: 'tcp', port: 502 }] } : {}),
  boundaryHooks,
});
const hook = (...argv: string[]) => ({ argv });

function refusal(object: object): string[] {
  try {
    profileFromObject(object, 'fw.yaml');
  } catch (err) {
    if (err instanceof ProfileError) return err.issues.map((i) => `${i.field}: ${i.message}`);
    throw err;
  }
  throw new Error('the profile was accepted');
}

describe('profile boundaryHooks (island mode, fail close)', () => {
  it('loads the hooks with their defaults (timeout 30 s, outage 5 s, recovery 120 s, settle 1 s)', () => {
    const profile = profileFromObject(base({ islandMode: { enter: hook('fw', 'island'), leave: hook('fw', 'normal') }, failClose: { stop: { argv: ['fw', 'stop'], timeoutMs: 5000 }, start: hook('fw', 'start') } }), 'fw.yaml');
    expect(profile.boundary?.hooks).to.deep.equal({
      islandMode: { enter: { argv: ['fw', 'island'], timeoutMs: 30_000 }, leave: { argv: ['fw', 'normal'], timeoutMs: 30_000 }, settleMs: 1000 },
      failClose: { stop: { argv: ['fw', 'stop'], timeoutMs: 5000 }, start: { argv: ['fw', 'start'], timeoutMs: 30_000 }, outageMs: 5000, recoverTimeoutMs: 120_000, settleMs: 1000 },
    });
  });

  it('the example profile has both', () => {
    const hooks = loadProfile('profiles/examples/boundary-router.yaml').boundary?.hooks;
    expect(Object.keys(hooks ?? {})).to.deep.equal(['islandMode', 'failClose']);
  });

  it('refuses a command line given as the program, hooks without zones, a missing leave/start hook, a shell string', () => {
    expect(refusal(base({ islandMode: { enter: hook('ssh admin@fw island on'), leave: hook('ssh', 'admin@fw', 'island', 'off') } }))).to.deep.equal([
      'boundaryHooks.islandMode.enter.argv[0]: "ssh admin@fw island on" is a command line, not a program: give the program and each argument as its own item',
    ]);
    expect(refusal(base({ failClose: { stop: hook('fw', 'stop'), start: hook('fw', 'start') } }, false))).to.deep.equal([
      'boundaryHooks: boundary hooks need zones: declare the zones the device separates',
    ]);
    expect(refusal(base({ failClose: { stop: hook('fw', 'stop') } })).join('\n')).to.contain('boundaryHooks.failClose').and.contain('start');
    expect(refusal(base({ failClose: { stop: hook('fw', 'stop'), start: hook('fw', 'start'), recoverTimeoutMs: 600_000 } }))).to.deep.equal([
      'boundaryHooks.failClose.recoverTimeoutMs: outage and recovery together exceed 10 minutes (the probe budget is 15): the probe streams traffic all along',
    ]);
    expect(refusal(base({ failClose: { stop: { argv: 'fw stop' }, start: hook('fw', 'start') } })).join('\n')).to.contain('boundaryHooks.failClose.stop.argv');
  });

  it('locates a refused hook by file and line', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'iacs-hooks-'));
    try {
      const file = path.join(dir, 'fw.yaml');
      const yaml = fs.readFileSync('profiles/examples/boundary-router.yaml', 'utf8').replace('timeoutMs: 15000 }\n    leave', 'timeoutMs: 50 }\n    leave');
      fs.writeFileSync(file, yaml);
      const line = yaml.split('\n').findIndex((l) => l.includes('timeoutMs: 50 }')) + 1;
      let issues: string[] = [];
      try {
        loadProfile(file);
      } catch (err) {
        issues = (err as ProfileError).issues.map(formatIssue);
      }
      expect(issues).to.have.length(1);
      expect(issues[0]).to.match(new RegExp(`^${file.replace(/[.]/g, '\\.')}:${line}:\\d+: boundaryHooks\\.islandMode\\.enter\\.timeoutMs: `));
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
