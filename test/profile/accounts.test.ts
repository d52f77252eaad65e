import { expect } from 'chai';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { loadProfile, ProfileError } from '../../src/profile';
import { defaultStateDir } from '../../src/runner/cleanup';

const PROFILE = `apiVersion: iacs-probe/v1
component: { name: Bench host, types: [host], slTarget: 2 }
targets:
  - host: 192.0.2.20
    services: [{ port: 22, protocol: ssh }]
credentials:
  accounts.admin: { username: benchadmin, password: { env: TEST_ACCOUNTS_ADMIN } }
policy:
  passwords: { minLength: 12, minClasses: 3, rejectUsername: true, rejectDictionary: true }
  accountManagement:
    ssh:
      commands:
        setPassword: { argv: [/usr/bin/passwd], stdin: "{oldPassword}\\n{password}\\n{password}\\n" }
allow: [passive, active, intrusive]
`;

describe('profile: policy.accountManagement and policy.passwords (accounts.*)', () => {
  let dir: string;
  before(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'iacs-accounts-profile-'));
    process.env.TEST_ACCOUNTS_ADMIN = 'not-a-real-secret';
  });
  after(() => {
    fs.rmSync(dir, { recursive: true, force: true });
    delete process.env.TEST_ACCOUNTS_ADMIN;
  });
  const issuesOf = (text: string): string[] => {
    const file = path.join(dir, 'p.yaml');
    fs.writeFileSync(file, text);
    try {
      loadProfile(file);
    } catch (err) {
      if (err instanceof ProfileError) return err.issues.map((i) => `${i.line}:${i.field}: ${i.message}`);
      throw err;
    }
    return [];
  };

  it('accepts an SSH interface with a command override and a documented policy', () => {
    expect(issuesOf(PROFILE)).to.deep.equal([]);
  });

  it('refuses a password placeholder in argv, at its line (passwords go through stdin)', () => {
    const issues = issuesOf(PROFILE.replace('argv: [/usr/bin/passwd]', 'argv: [/usr/bin/passwd, "{password}"]'));
    expect(issues.join('\n')).to.match(/^13:policy\.accountManagement\.ssh\.commands\.setPassword\.argv\[1\]: /m);
  });

  it('refuses two interfaces at once and an incomplete request template', () => {
    const both = issuesOf(PROFILE.replace('    ssh:\n', '    http: { create: { method: POST, path: /u, success: [201], refused: [403] } }\n    ssh:\n'));
    expect(both.join('\n')).to.match(/policy\.accountManagement/);
    expect(both.join('\n')).to.match(/setPassword|more than 1|must NOT have more than 1/);
  });

  it('the state folder of a profile sits next to it, named after it', () => {
    expect(defaultStateDir('/lab/profiles/bench-host.yaml')).to.equal('/lab/profiles/.iacs-state/bench-host');
  });
});
