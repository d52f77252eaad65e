import { expect } from 'chai';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { loadProfile, ProfileError } from '../../src/profile';

function write(dir: string, name: string, text: string): string {
  const file = path.join(dir, name);
  fs.writeFileSync(file, text);
  return file;
}

const VALID = `apiVersion: iacs-probe/v1
component:
  name: Bench PLC A
  vendor: Example
  firmware: 1.0.0
  types: [embedded]
  slTarget: 2
targets:
  - host: 192.0.2.10
    services:
      - { port: 4840, protocol: opcua }
      - { port: 502, protocol: modbus, unitId: 1 }
      - { port: 161, protocol: snmp }
credentials:
  ssh: { username: operator, password: { env: TEST_BENCH_SSH_PASSWORD } }
  opcua: { username: engineer, password: { file: opcua.pw } }
  http: { username: admin, password: { secret: web } }
secretsFile: secrets.yaml
policy:
  lockout: { threshold: 5, durationSeconds: 60 }
allow: [passive, active]
`;

describe('profile loader', () => {
  let dir: string;
  beforeEach(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'iacs-profile-test-'));
    write(dir, 'opcua.pw', 'from-a-file\n');
    write(dir, 'secrets.yaml', 'web: from-secrets-file\n');
    process.env.TEST_BENCH_SSH_PASSWORD = 'from-env';
  });
  afterEach(() => {
    fs.rmSync(dir, { recursive: true, force: true });
    delete process.env.TEST_BENCH_SSH_PASSWORD;
  });

  const issuesOf = (text: string): string[] => {
    try {
      loadProfile(write(dir, 'p.yaml', text));
    } catch (err) {
      expect(err).to.be.instanceOf(ProfileError);
      return (err as ProfileError).message.split('\n');
    }
    throw new Error('expected a ProfileError');
  };

  it('loads a valid profile, resolving secrets from env, file and secrets file', () => {
    const p = loadProfile(write(dir, 'p.yaml', VALID));
    expect(p.component.slTarget).to.deep.equal({ FR1: 2, FR2: 2, FR3: 2, FR4: 2, FR5: 2, FR6: 2, FR7: 2 });
    expect(p.credentials.get('ssh')).to.deep.equal({ username: 'operator', password: 'from-env', source: 'credentials.ssh' });
    expect(p.credentials.get('opcua')!.password).to.equal('from-a-file');
    expect(p.credentials.get('http')!.password).to.equal('from-secrets-file');
    expect(p.limits).to.deep.equal({ perHost: 2, global: 4, unhealthyAfter: 3 });
    expect(p.sha256).to.match(/^[0-9a-f]{64}$/);
    expect(p.component.firmware).to.equal('1.0.0');
  });

  it('accepts a per-FR SL target', () => {
    const p = loadProfile(write(dir, 'p.yaml', VALID.replace('slTarget: 2', 'slTarget: { FR1: 3, FR4: 2 }')));
    expect(p.component.slTarget).to.deep.equal({ FR1: 3, FR2: 0, FR3: 0, FR4: 2, FR5: 0, FR6: 0, FR7: 0 });
  });

  it('names the file, line and field of a bad value', () => {
    const [issue] = issuesOf(VALID.replace('{ port: 502, protocol: modbus, unitId: 1 }', '{ port: 70000, protocol: modbus, unitId: 1 }'));
    expect(issue).to.match(/p\.yaml:12:\d+: targets\[0\]\.services\[1\]\.port: must be <= 65535/);
  });

  it('names an unknown field and a bad enum value', () => {
    const issues = issuesOf(VALID.replace('  vendor: Example', '  vendr: Example').replace('protocol: opcua', 'protocol: opc-ua'));
    expect(issues.join('\n')).to.match(/:4:3: component\.vendr: unknown field/);
    expect(issues.join('\n')).to.match(/:11:\d+: targets\[0\]\.services\[0\]\.protocol: must be one of: ssh, tls/);
  });

  it('refuses an inline password and says how to give one', () => {
    const [issue] = issuesOf(VALID.replace('password: { env: TEST_BENCH_SSH_PASSWORD }', 'password: hunter2'));
    expect(issue).to.match(/:15:\d+: credentials\.ssh\.password: passwords are never written inline/);
    expect(issue).to.not.contain('hunter2');
  });

  it('reports a missing environment variable without printing any secret', () => {
    delete process.env.TEST_BENCH_SSH_PASSWORD;
    const issues = issuesOf(VALID);
    expect(issues).to.have.length(1);
    expect(issues[0]).to.match(/credentials\.ssh\.password: environment variable TEST_BENCH_SSH_PASSWORD is not set/);
  });

  it('reports missing required fields, a wrong apiVersion, a duplicate port and YAML syntax errors', () => {
    expect(issuesOf('apiVersion: v0\ncomponent: { name: x, types: [embedded], slTarget: 1 }\n').join('\n'))
      .to.match(/apiVersion: must be "iacs-probe\/v1"/).and.match(/missing required field "targets"/);
    expect(issuesOf(VALID.replace('{ port: 161, protocol: snmp }', '{ port: 4840, protocol: tcp }')).join('\n')).to.match(/tcp\/4840 is declared twice/);
    expect(issuesOf('apiVersion: [unclosed\n')[0]).to.match(/p\.yaml:\d+:\d+: \(top level\): YAML:/);
    expect(issuesOf(VALID.replace('slTarget: 2', 'slTarget: 5'))[0]).to.match(/component\.slTarget: must be a level 1\.\.4/);
  });

  it('a missing file is a profile error', () => {
    expect(() => loadProfile(path.join(dir, 'nope.yaml'))).to.throw(ProfileError, /file not found/);
  });

  it('the shipped example profiles are valid', () => {
    for (const f of fs.readdirSync('profiles/examples').filter((x) => x.endsWith('.yaml') && !x.includes('secrets'))) {
      expect(() => loadProfile(path.join('profiles/examples', f)), f).to.not.throw();
    }
  });
});
