import { expect } from 'chai';
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import probe from '../../../probes/host/audit';
import { parse as parseYaml } from 'yaml';
import { CommandRefused, HOST_RULE_FINDINGS, commandLine, commandProblems, redactShadow, validateHostBaseline, type HostBaselineLevel } from '../../../src/protocols/host';
import { describeMisbehavingPeers } from '../../helpers/misbehaving';
import { startLinuxHost, type LinuxHost } from '../../helpers/linux-host';
import { findExecutable, requirePeer } from '../../helpers/peers';
import { runProbe } from '../../helpers/probe-harness';

const PASSWORD = { root: 'weak-root-pw', operator: 'weak-operator-pw', opsadmin: 'Hardened-Admin-Pw-2024', viewer: 'Hardened-Viewer-Pw-2024' };
/** If any text the device returns reached a shell, this file would appear. */
const MARKER = path.join(os.tmpdir(), `iacs-host-audit-pwned-${process.pid}`);
const SYSTEM_ACCOUNTS = 'sshd:x:102:65534::/run/sshd:/usr/sbin/nologin\nnobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin\n';
const SYSTEM_SHADOW = 'sshd:*:19000:0:99999:7:::\nnobody:*:19000:0:99999:7:::\n';
/** Days since 1970 (shadow's "last change"): the hardened passwords were set today, so they have not aged out. */
const TODAY = Math.floor(Date.now() / 86_400_000);

const verdicts = (a: { outcomes: { requirement: string; verdict: string }[] }) => Object.fromEntries(a.outcomes.map((o) => [o.requirement, o.verdict]));
const ruleStatus = (a: { observations: Record<string, unknown> }) => Object.fromEntries((a.observations.rules as { id: string; status: string }[]).map((r) => [r.id, r.status]));
const OPPOSITE = ['CR 1.3', 'CR 1.4', 'CR 1.7', 'CR 2.9', 'CR 3.4', 'CR 7.7'];

function weakHost(hash: (pw: string) => string) {
  return {
    etc: {
      '/etc/passwd': 'root:x:0:0:root:/root:/bin/bash\n'
        + `toor:x:0:0:backdoor $(touch ${MARKER}) \`touch ${MARKER}\`:/root:/bin/sh\n`
        + 'guest:x:1001:100:guest:/tmp:/bin/sh\noperator:x:1000:100:operator:/tmp:/bin/bash\n' + SYSTEM_ACCOUNTS,
      '/etc/shadow': { content: `root:${hash(PASSWORD.root)}:19000:0:99999:7:::\ntoor:${hash(PASSWORD.root)}:19000:0:99999:7:::\nguest::19000:0:99999:7:::\noperator:${hash(PASSWORD.operator)}:19000:0:99999:7:::\n${SYSTEM_SHADOW}`, mode: 0o640 },
      '/etc/login.defs': 'PASS_MAX_DAYS\t99999\nPASS_MIN_DAYS\t0\n',
      '/etc/pam.d/common-password': 'password\t[success=1 default=ignore]\tpam_unix.so obscure yescrypt\npassword\trequisite\tpam_deny.so\npassword\trequired\tpam_permit.so\n',
      '/etc/security/pwquality.conf': null,
      '/etc/audit/auditd.conf': null,
      '/etc/systemd/journald.conf': '[Journal]\n#SystemMaxUse=\n',
      '/etc/chrony/chrony.conf': null,
      '/etc/systemd/timesyncd.conf': null,
      '/etc/apt/apt.conf.d/99insecure': 'APT::Get::AllowUnauthenticated "true";\n',
    },
    dpkgStatus: '',
    extraListener: { port: 2323, title: 'telnetd;$(id)' },
    sshdOptions: ['PermitRootLogin yes', 'PasswordAuthentication yes', 'KbdInteractiveAuthentication no', 'MaxAuthTries 10', 'PermitEmptyPasswords yes', 'Ciphers aes128-ctr,aes128-cbc,3des-cbc'],
  };
}

const INSTALLED = (name: string) => `Package: ${name}\nStatus: install ok installed\nPriority: optional\nVersion: 1.0-1\nArchitecture: amd64\nMaintainer: test\nDescription: ${name}\n\n`;

function hardenedHost(hash: (pw: string) => string) {
  return {
    etc: {
      '/etc/passwd': 'root:x:0:0:root:/root:/bin/bash\nopsadmin:x:1000:100:ops admin:/tmp:/bin/bash\nviewer:x:1002:100:read-only viewer:/tmp:/bin/bash\n'
        + 'historian:x:998:65534::/nonexistent:/usr/sbin/nologin\n' + SYSTEM_ACCOUNTS,
      '/etc/shadow': { content: `root:!:${TODAY}:1:90:7:::\nopsadmin:${hash(PASSWORD.opsadmin)}:${TODAY}:1:90:7:::\nviewer:${hash(PASSWORD.viewer)}:${TODAY}:1:90:7:::\nhistorian:!:${TODAY}:1:90:7:::\n${SYSTEM_SHADOW}`, mode: 0o640 },
      '/etc/login.defs': 'PASS_MAX_DAYS\t90\nPASS_MIN_DAYS\t1\n',
      '/etc/pam.d/common-password': 'password\trequisite\tpam_pwquality.so retry=3\npassword\t[success=1 default=ignore]\tpam_unix.so obscure use_authtok try_first_pass yescrypt\npassword\trequisite\tpam_deny.so\n',
      '/etc/security/pwquality.conf': '# minlen = 8\nminlen = 14\n',
      '/etc/audit/auditd.conf': { content: 'max_log_file = 8\nmax_log_file_action = ROTATE\nspace_left = 75\nspace_left_action = email\ndisk_full_action = SYSLOG\n', mode: 0o640 },
      '/etc/systemd/journald.conf': '[Journal]\nSystemMaxUse=500M\n',
      '/etc/chrony/chrony.conf': 'server 192.0.2.123 iburst\n',
      '/etc/sudoers': { content: 'Defaults env_reset\nDefaults secure_path="/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"\nopsadmin ALL=(root) NOPASSWD: /usr/bin/grep, /usr/sbin/sshd -T\n', mode: 0o440 },
    },
    dpkgStatus: INSTALLED('aide') + INSTALLED('auditd'),
    sshdOptions: ['PermitRootLogin no', 'PasswordAuthentication yes', 'KbdInteractiveAuthentication no', 'MaxAuthTries 3', 'PermitEmptyPasswords no', 'Ciphers aes256-gcm@openssh.com,aes128-ctr'],
  };
}

const POLICY = { host: { accounts: ['root', 'operator', 'opsadmin', 'viewer'] } };

describe('probe host.audit', function () {
  this.timeout(30_000);

  describe('the allow-list', () => {
    it('refuses other binaries, state-changing arguments and shell syntax, before anything is sent', () => {
      expect(commandProblems(['rm', '-rf', '/'])[0]).to.match(/not one of the read-only commands/);
      expect(commandProblems(['ss', '-K'])).to.have.length(1);
      expect(commandProblems(['sshd', '-D'])).to.have.length(1);
      expect(commandProblems(['chronyc', 'makestep'])).to.have.length(1);
      expect(commandProblems(['timedatectl', 'set-time', '2000-01-01'])).to.have.length(1);
      expect(commandProblems(['grep', '-H', '.', '/etc/passwd;reboot'])).to.not.have.length(0);
      expect(commandProblems(['cat', '$(reboot)'])).to.not.have.length(0);
      expect(() => commandLine(['sh', '-c', 'id'])).to.throw(CommandRefused);
      expect(commandLine(['grep', '-H', '.', '/etc/shadow'], true)).to.equal("'sudo' '-n' '--' 'grep' '-H' '.' '/etc/shadow'");
    });

    it('keeps no password hash of /etc/shadow in the evidence', () => {
      expect(redactShadow('root:$6$salt$hash:19000:0:99999:7:::\nguest::19000::::::\nsvc:!:1::::::\n'))
        .to.equal('root:<hash $6$>:19000:0:99999:7:::\nguest::19000::::::\nsvc:!<locked>:1::::::\n');
    });
  });

  describe('against Linux hosts in private namespaces (sshd, the test\'s /etc)', () => {
    let weak: LinuxHost | undefined;
    let hardened: LinuxHost | undefined;
    before(async function () {
      this.timeout(30_000);
      const openssl = requirePeer(this as unknown as Mocha.Context, 'openssl', findExecutable('openssl'), 'Debian package openssl');
      requirePeer(this as unknown as Mocha.Context, 'sudo', findExecutable('sudo'), 'Debian package sudo');
      const hash = (pw: string) => execFileSync(openssl, ['passwd', '-6', '-stdin'], { input: pw, encoding: 'utf8' }).trim();
      weak = await startLinuxHost(this as unknown as Mocha.Context, weakHost(hash));
      hardened = await startLinuxHost(this as unknown as Mocha.Context, hardenedHost(hash));
    });
    after(async () => {
      await Promise.all([weak?.close(), hardened?.close()]);
      fs.rmSync(MARKER, { force: true });
    });
    const run = (h: LinuxHost | undefined, username: string, password: string, extra: { sl?: number; policy?: Record<string, unknown> } = {}) => runProbe(probe, {
      service: { port: h!.port, protocol: 'ssh' }, credentials: { host: { username, password } }, policy: extra.policy ?? POLICY, sl: extra.sl ?? 3, types: ['host'],
    });

    it('weak host (root login): fails CR 1.3, 1.4, 1.7, 2.9, 3.4 and 7.7, with each command kept; device text never reaches a shell', async () => {
      const { attempt, read } = await run(weak, 'root', PASSWORD.root);
      expect(attempt.status, `${attempt.message} ${weak!.log()}`).to.equal('fail');
      const v = verdicts(attempt);
      for (const r of OPPOSITE) expect(v[r], r).to.equal('fail');
      expect(v['CR 2.10']).to.equal('fail');
      expect(v['CR 1.1 RE(1)']).to.equal('fail');
      const rules = ruleStatus(attempt);
      expect(rules).to.include({
        'password-quality-module': 'fail', 'password-max-age': 'fail', 'empty-passwords': 'fail', 'uid0-only-root': 'fail',
        'declared-accounts': 'fail', 'declared-listeners': 'fail', 'integrity-tool': 'fail', 'apt-authenticated': 'fail',
        'sshd-root-login': 'fail', 'sshd-max-auth-tries': 'fail', 'sshd-empty-passwords': 'fail', 'sshd-ciphers': 'fail', 'time-sources': 'fail',
      });
      const listeners = attempt.findings.find((f) => f.code === 'host.audit.declared-listeners')!;
      expect(listeners.message).to.match(/tcp 0\.0\.0\.0:2323 \(telnetd;\$\(id\)\)/);
      // The root session read sshd's effective configuration; every command's transcript is evidence.
      const sshdT = attempt.evidence.find((e) => e.endsWith('sshd-effective.txt'))!;
      expect(read(sshdT)).to.match(/^\$ sshd -T\n# exit 0/);
      const passwd = read(attempt.evidence.find((e) => e.endsWith('-passwd.txt'))!);
      expect(passwd).to.contain(`$(touch ${MARKER})`);
      expect(fs.existsSync(MARKER), 'a command substitution from /etc/passwd ran').to.equal(false);
      const shadow = read(attempt.evidence.find((e) => e.endsWith('-shadow.txt'))!);
      expect(shadow).to.contain('guest::19000').and.to.contain('<hash $6$>').and.not.to.match(/\$6\$[^>]/);
      expect(JSON.stringify(attempt)).to.not.contain(PASSWORD.root);
    });

    it('hardened host (an admin with sudo -n): passes CR 1.3, 1.4, 1.7, 2.9, 3.4 and 7.7; time sync not determined without chronyd', async () => {
      const { attempt, read } = await run(hardened, 'opsadmin', PASSWORD.opsadmin);
      expect(attempt.status, `${attempt.message} ${JSON.stringify(attempt.observations)}`).to.equal('pass');
      const v = verdicts(attempt);
      for (const r of OPPOSITE) expect(v[r], r).to.equal('pass');
      expect(v).to.include({ 'CR 1.7 RE(1)': 'pass', 'CR 2.10': 'pass', 'CR 2.8': 'pass', 'CR 1.1 RE(1)': 'pass' });
      expect(v).to.not.have.property('CR 2.11 RE(1)');
      expect(v, 'MaxAuthTries is no lockout').to.not.have.property('CR 1.11');
      expect(ruleStatus(attempt)).to.include({ 'time-sources': 'pass', 'time-synchronised': 'not_determined' });
      expect((attempt.observations.notDetermined as Record<string, string>)['CR 2.11 RE(1)']).to.match(/chrony-tracking: .*timedatectl: /);
      const sshdT = read(attempt.evidence.find((e) => e.endsWith('sshd-effective.txt'))!);
      expect(sshdT, sshdT).to.match(/^\$ sudo -n -- sshd -T\n# exit 0/);
      expect(attempt.findings.map((f) => f.code)).to.deep.equal([]);
    });

    it('an admin who cannot read /etc/shadow: empty passwords not determined, so CR 1.1 and 1.7 are not judged; sshd_config is read instead of sshd -T', async () => {
      const { attempt } = await run(hardened, 'viewer', PASSWORD.viewer);
      const rules = ruleStatus(attempt);
      expect(rules).to.include({ 'empty-passwords': 'not_determined', 'audit-max-log-file-action': 'not_determined', 'sshd-root-login': 'pass', 'uid0-only-root': 'pass' });
      const v = verdicts(attempt);
      expect(v).to.not.have.property('CR 1.7');
      expect(v).to.not.have.property('CR 1.1');
      expect(v).to.include({ 'CR 1.4': 'pass', 'CR 1.3': 'pass' });
      const emptyRule = (attempt.observations.rules as { id: string; reason: string }[]).find((r) => r.id === 'empty-passwords')!;
      expect(emptyRule.reason).to.match(/sudo -n" refused/);
      expect(attempt.status).to.equal('pass');
    });

    it('at SL 1 the lifetime rules are not required; without policy.host.accounts CR 1.3 is not determined', async () => {
      const { attempt } = await run(weak, 'root', PASSWORD.root, { sl: 1, policy: {} });
      expect(ruleStatus(attempt)).to.include({ 'password-max-age': 'not_required', 'declared-accounts': 'not_determined' });
      expect(verdicts(attempt)).to.not.have.property('CR 1.3');
    });

    it('a refused password is an auth error', async () => {
      const { attempt } = await run(hardened, 'opsadmin', 'not-the-password');
      expect(attempt.status).to.equal('error');
      expect(attempt.reason).to.equal('auth');
    });

    it('a baseline naming a command outside the allow-list is refused before login (error, input)', async () => {
      const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'iacs-host-baseline-'));
      const file = path.join(dir, 'host.yaml');
      fs.writeFileSync(file, 'levels:\n  1:\n    sources: { wipe: { argv: [rm, -rf, /tmp/x], parser: passwd } }\n    rules: []\n');
      try {
        const { attempt } = await runProbe(probe, {
          service: { port: hardened!.port, protocol: 'ssh' }, credentials: { host: { username: 'opsadmin', password: PASSWORD.opsadmin } }, baselineFiles: { host: file },
        });
        expect(attempt.status).to.equal('error');
        expect(attempt.reason).to.equal('input');
        expect(attempt.message).to.match(/rm is not one of the read-only commands/);
      } finally {
        fs.rmSync(dir, { recursive: true, force: true });
      }
    });
  });

  it('without credentials.host the audit is not determined', async () => {
    const { attempt } = await runProbe(probe, { service: { port: 1, protocol: 'ssh' } });
    expect(attempt.status).to.equal('not_determined');
  });

  describeMisbehavingPeers(probe, {
    service: (port) => ({ port, protocol: 'ssh' }), timeoutMs: 3000, credentials: { host: { username: 'admin', password: 'x' } },
  });
});

describe('host baseline (profiles/baselines/host.yaml)', () => {
  it('is valid, names only declared findings, cites only known bases, and every declared rule finding has a rule', () => {
    const doc = parseYaml(fs.readFileSync('profiles/baselines/host.yaml', 'utf8')) as { basis: string[]; levels: Record<string, HostBaselineLevel> };
    const level = doc.levels['1'];
    expect(validateHostBaseline(level, probe.requirements)).to.deep.equal([]);
    const keys = doc.basis.map((b) => /^\[([^\]]+)\]/.exec(b)?.[1]);
    for (const rule of level.rules) for (const b of rule.basis) expect(keys, `${rule.id} cites ${b}`).to.include(b);
    expect(level.rules.map((r) => r.id).sort()).to.deep.equal(Object.keys(HOST_RULE_FINDINGS).sort());
  });
});
