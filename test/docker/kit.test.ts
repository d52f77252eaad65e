import { expect } from 'chai';
import * as crypto from 'node:crypto';
import { execFileSync, spawn, spawnSync, type ChildProcess } from 'node:child_process';
import * as dgram from 'node:dgram';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import ModbusRTU from 'modbus-serial';
import { parse as parseYaml } from 'yaml';
import { loadProfile } from '../../src/profile';
import { pathToFileURL } from 'node:url';
import { cli } from '../helpers/cli';
import { debianPython, findExecutable, pythonHasModule, requirePeer } from '../helpers/peers';
import { ensureSshdRuntimeDir } from '../helpers/sshd';
import { runProbe } from '../helpers/probe-harness';
import s7Identification from '../../probes/s7/identification';

// The Docker regression kit (docker/, docs/docker.md). docker/regress.sh itself runs in .ci/run (it needs
// root and starts a Docker engine); these tests check its parts on the host: that the targets, profiles,
// compose services and baselines agree, the regression gate (iacs-probe diff) and the exact-match digest, and the third-party simulators' fixed
// postures against the same Debian packages the images install.

const COMPOSE = parseYaml(fs.readFileSync('docker/compose.yaml', 'utf8'), { merge: true }) as {
  services: Record<string, {
    depends_on?: Record<string, { condition: string }>; ports?: unknown; network_mode?: string; volumes?: string[];
    networks?: string[] | Record<string, { ipv4_address?: string } | null>; environment?: Record<string, string>;
  }>;
  networks: Record<string, { internal?: boolean; ipam?: { config?: { subnet: string }[] } }>;
};
const TARGETS = (parseYaml(fs.readFileSync('docker/targets.yaml', 'utf8')) as { targets: Record<string, { expect: string }> }).targets;

interface Digest {
  readReport(where: string): unknown;
  compareReports(a: unknown, b: unknown): { identical: boolean; changes: { kind: string; key: string }[] };
}
interface HarnessReport {
  run: { profile: string; complete: boolean };
  summary: { failedAtTarget: number; errors: number };
  requirements: { id: string; verdict: string }[];
  attempts: { probe: string; findings: { code: string }[]; outcomes: { requirement: string; verdict: string }[] }[];
}
interface HarnessTarget { name: string; expect: string; mustFail: string[]; mustFind: string[]; mustPass: Record<string, string[]> }
interface Harness {
  loadTargets(file: string): HarnessTarget[];
  weaknessesMissed(report: HarnessReport, target: HarnessTarget): string[];
  strengthsMissed(report: HarnessReport, target: HarnessTarget): string[];
}
/** docker/harness/regress.mjs: the kit's own gate, as the harness container runs it. */
const harness = async (): Promise<Harness> => (await import(pathToFileURL(path.resolve('docker/harness/regress.mjs')).href)) as Harness;

/** docker/harness/compare-reports.mjs (ESM, plain JavaScript: it runs in the harness image). */
const digest = async (): Promise<Digest> => (await import(pathToFileURL(path.resolve('docker/harness/compare-reports.mjs')).href)) as Digest;

function tmpDir(): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), 'iacs-docker-kit-'));
}

describe('docker regression kit', () => {
  describe('targets, profiles, compose services and baselines agree', () => {
    it('every target has a profile naming its compose service as the only host', () => {
      expect(Object.keys(TARGETS)).to.not.be.empty;
      for (const [name, t] of Object.entries(TARGETS)) {
        expect(['pass', 'fail', 'baseline'], name).to.include(t.expect);
        const profile = loadProfile(`profiles/docker/${name}.yaml`);
        expect(profile.targets.map((x) => x.host), name).to.deep.equal([name]);
        expect(profile.allow, name).to.not.include('destructive');
        expect(COMPOSE.services[name], `compose service ${name}`).to.be.an('object');
      }
    });

    it('the public-image target list extends the kit\'s own', () => {
      const pub = (parseYaml(fs.readFileSync('docker/targets.public.yaml', 'utf8')) as { targets: Record<string, { expect: string }> }).targets;
      for (const [name, t] of Object.entries(TARGETS)) expect(pub[name], name).to.deep.equal(t);
      for (const name of Object.keys(pub)) expect(() => loadProfile(`profiles/docker/${name}.yaml`), name).to.not.throw();
    });

    it('the harness waits for every target to be healthy, and every other service is a target', () => {
      const harness = COMPOSE.services.harness;
      const others = Object.keys(COMPOSE.services).filter((s) => s !== 'harness').sort();
      expect(others).to.deep.equal(Object.keys(TARGETS).sort());
      for (const name of others) expect(harness.depends_on?.[name]?.condition, name).to.equal('service_healthy');
    });

    it('nothing is published on the host, nothing of the host is mounted, the bench network is internal', () => {
      for (const [name, s] of Object.entries(COMPOSE.services)) {
        expect(s.ports, `${name} publishes ports`).to.equal(undefined);
        expect(s.network_mode, name).to.equal(undefined);
        expect(Array.isArray(s.networks) ? s.networks : Object.keys(s.networks ?? {}), name).to.deep.equal(['bench']);
        // Only the harness's evidence volume (a named volume unless IACS_EVIDENCE names a host folder).
        expect(s.volumes ?? [], name).to.deep.equal(name === 'harness' ? ['${IACS_EVIDENCE:-evidence}:/evidence'] : []);
      }
      expect(COMPOSE.networks.bench.internal).to.equal(true);
    });

    it('the emulated PLCs log to the lab services of their profiles: the harness\'s fixed address, the same ports, the kit\'s lab CA', () => {
      const harnessAddress = (COMPOSE.services.harness.networks as Record<string, { ipv4_address?: string }>).bench.ipv4_address;
      expect(harnessAddress).to.be.a('string');
      const [net24] = COMPOSE.networks.bench.ipam?.config?.map((c) => c.subnet) ?? [];
      expect(net24, 'the bench subnet').to.equal(`${harnessAddress!.split('.').slice(0, 3).join('.')}.0/24`);
      for (const name of ['eplc-weak', 'eplc-hardened']) {
        const env = COMPOSE.services[name].environment ?? {};
        const lab = loadProfile(`profiles/docker/${name}.yaml`).lab!;
        expect(env.IACS_LAB_ADDRESS, name).to.equal(harnessAddress);
        expect(lab.address, name).to.equal(harnessAddress);
        const ports = Object.fromEntries([...(env.IACS_LAB_PORTS ?? '').matchAll(/--(\S+) (\d+)/g)].map((m) => [m[1], Number(m[2])]));
        expect(ports, name).to.deep.equal({ 'syslog-udp': lab.syslog?.udp, 'syslog-tcp': lab.syslog?.tcp, 'syslog-tls': lab.syslog?.tls, ntp: lab.ntp?.port });
        expect(lab.tls?.ca, name).to.equal(path.resolve('docker/lab/lab-ca.crt'));
      }
      // The kit's collector certificate: issued by the lab CA for the harness's address, and not about to expire
      // (renew it with `npx tsx docker/lab/make-pki.ts` when this fails).
      const ca = new crypto.X509Certificate(fs.readFileSync('docker/lab/lab-ca.crt'));
      const collector = new crypto.X509Certificate(fs.readFileSync('docker/lab/collector.crt'));
      expect(collector.verify(ca.publicKey), 'signed by the lab CA').to.equal(true);
      expect(collector.checkIP(harnessAddress!), 'names the harness address').to.equal(harnessAddress);
      expect(collector.checkPrivateKey(crypto.createPrivateKey(fs.readFileSync('docker/lab/collector.key')))).to.equal(true);
      const yearAhead = Date.now() + 365 * 86_400_000;
      for (const cert of [ca, collector]) expect(Date.parse(cert.validTo), `${cert.subject} valid to ${cert.validTo}`).to.be.greaterThan(yearAhead);
      expect(fs.existsSync('docker/lab/lab-ca.key'), 'the CA key is not kept').to.equal(false);
    });

    it('every target has a stored baseline of its own profile, as expected for its posture, with its known weaknesses', async () => {
      const { loadTargets, weaknessesMissed, strengthsMissed } = await harness();
      const targets = loadTargets('docker/targets.yaml');
      for (const t of targets) if (t.expect === 'fail') expect(t.mustFail, `${t.name}: mustFail`).to.not.be.empty;
      for (const [name, t] of Object.entries(TARGETS)) {
        const file = `docker/baselines/${name}/report.json`;
        expect(fs.existsSync(file), `${file} (docker/regress.sh --update-baseline)`).to.equal(true);
        const report = JSON.parse(fs.readFileSync(file, 'utf8')) as HarnessReport;
        expect(path.basename(report.run.profile), file).to.equal(`${name}.yaml`);
        expect(report.run.complete, file).to.equal(true);
        expect(report.summary.errors, `${file} holds probe errors`).to.equal(0);
        if (t.expect === 'pass') expect(report.summary.failedAtTarget, file).to.equal(0);
        if (t.expect === 'fail') expect(report.summary.failedAtTarget, file).to.be.greaterThan(0);
        // The target's known weaknesses, by requirement and finding code, not "some requirement failed".
        expect(weaknessesMissed(report, targets.find((x) => x.name === name)!), file).to.deep.equal([]);
        expect(strengthsMissed(report, targets.find((x) => x.name === name)!), file).to.deep.equal([]);
      }
    });

    it('host components: host.audit\'s own verdicts on CR 1.3/1.4/1.7/2.9/3.4/7.7 fail on linux-weak and pass on linux-hardened; smb.* opposite on samba', () => {
      const outcomes = (target: string, probes: string[]) => {
        const report = JSON.parse(fs.readFileSync(`docker/baselines/${target}/report.json`, 'utf8')) as HarnessReport;
        const attempts = report.attempts.filter((a) => probes.includes(a.probe));
        expect(attempts.map((a) => a.probe).sort(), target).to.deep.equal([...probes].sort());
        return Object.fromEntries(attempts.flatMap((a) => a.outcomes.map((o) => [`${a.probe} ${o.requirement}`, o.verdict])));
      };
      const rows = (probe: string, ids: string[], verdict: string) => Object.fromEntries(ids.map((id) => [`${probe} ${id}`, verdict]));
      const HOST_ROWS = ['CR 1.3', 'CR 1.4', 'CR 1.7', 'CR 2.9', 'CR 3.4', 'CR 7.7'];
      expect(outcomes('linux-weak', ['host.audit'])).to.include(rows('host.audit', HOST_ROWS, 'fail'));
      expect(outcomes('linux-hardened', ['host.audit'])).to.include(rows('host.audit', HOST_ROWS, 'pass'));
      const SMB = { 'smb.dialects': ['CR 4.3', 'CR 7.7'], 'smb.signing': ['CR 3.1'], 'smb.guest-access': ['CR 1.1', 'CR 1.2'] };
      for (const [target, verdict] of [['samba-weak', 'fail'], ['samba-hardened', 'pass']]) {
        const got = outcomes(target, Object.keys(SMB));
        for (const [probe, ids] of Object.entries(SMB)) expect(got, target).to.include(rows(probe, ids, verdict));
      }
    });

    it('the shell scripts parse', () => {
      for (const script of ['docker/regress.sh', 'docker/base/make-base.sh']) {
        expect(spawnSync('bash', ['-n', script]).status, script).to.equal(0);
      }
      for (const script of ['docker/bin/container-ip', 'docker/emulator/entrypoint.sh', 'docker/sims/openssh/entrypoint.sh', 'docker/sims/snmpd/entrypoint.sh', 'docker/sims/snmpd/healthcheck.sh',
        'docker/sims/linux-host/setup.sh', 'docker/sims/linux-host/entrypoint.sh', 'docker/sims/samba/entrypoint.sh']) {
        expect(spawnSync('sh', ['-n', script]).status, script).to.equal(0);
      }
      expect(spawnSync('bash', ['-n', 'docker/sims/samba/healthcheck.sh']).status).to.equal(0);
    });
  });

  describe('the regression gate: iacs-probe diff on the stored baselines, and the exact-match digest', () => {
    const weak = 'docker/baselines/eplc-weak';
    const hardened = 'docker/baselines/eplc-hardened';
    /** A changed copy of a baseline's report, in a folder of its own. */
    const variant = (from: string, change: (r: Record<string, unknown> & { attempts: { probe: string; status: string; findings: { code: string; severity: string }[] }[] }) => void) => {
      const report = JSON.parse(fs.readFileSync(`${from}/report.json`, 'utf8')) as Parameters<typeof change>[0];
      change(report);
      const dir = tmpDir();
      fs.writeFileSync(path.join(dir, 'report.json'), JSON.stringify(report));
      return dir;
    };
    const made: string[] = [];
    after(() => made.forEach((d) => fs.rmSync(d, { recursive: true, force: true })));

    it('identical: diff exits 0 and the digest says identical', async () => {
      expect((await cli(['diff', hardened, hardened])).code).to.equal(0);
      const { compareReports, readReport } = await digest();
      expect(compareReports(readReport(hardened), readReport(`${hardened}/report.json`))).to.deep.equal({ identical: true, changes: [] });
    });

    it('hardened baseline -> weak run: exit 1, the failing requirements and new findings named', async () => {
      const r = await cli(['diff', hardened, weak]);
      expect(r.code).to.equal(1);
      expect(r.stdout).to.match(/CR 4\.1 +\S.* -> fail +WORSE/).and.match(/ports\.tcp\.cleartext-service/);
    });

    it('weak baseline -> hardened run: exit 0 (nothing worse), but the digest lists the changes', async () => {
      expect((await cli(['diff', weak, hardened])).code).to.equal(0);
      const { compareReports, readReport } = await digest();
      const result = compareReports(readReport(weak), readReport(hardened));
      expect(result.identical).to.equal(false);
      expect(result.changes.filter((c) => c.kind === 'requirement').map((c) => c.key)).to.include('CR 4.1');
    });

    it('one more finding of the same code is worse; a new info finding is not', async () => {
      const firstReal = (r: Parameters<Parameters<typeof variant>[1]>[0]) => r.attempts.find((a) => a.findings.some((f) => f.severity !== 'info'))!;
      const more = variant(weak, (r) => { const a = firstReal(r); a.findings.push({ ...a.findings.find((f) => f.severity !== 'info')! }); });
      const info = variant(weak, (r) => { const a = firstReal(r); a.findings.push({ ...a.findings.find((f) => f.severity !== 'info')!, code: 'ports.tcp.declared-not-open', severity: 'info' }); });
      made.push(more, info);
      expect((await cli(['diff', weak, more])).code).to.equal(1);
      expect((await cli(['diff', weak, info])).code).to.equal(0);
    });

    it('an attempt that now errors is worse', async () => {
      let probe = '';
      const errored = variant(hardened, (r) => { const a = r.attempts.find((x) => x.status === 'pass')!; probe = a.probe; a.status = 'error'; a.findings = []; });
      made.push(errored);
      const r = await cli(['diff', hardened, errored]);
      expect(r.code).to.equal(1);
      expect(r.stdout).to.contain(`${probe}@eplc-hardened`).and.contain('now ends in an error (was pass)');
    });

    it('what is not a report: exit 3', async () => {
      const dir = tmpDir();
      made.push(dir);
      fs.writeFileSync(path.join(dir, 'report.json'), '{"hello": 1}');
      expect((await cli(['diff', hardened, dir])).code).to.equal(3);
      expect((await cli(['diff', hardened, path.join(dir, 'missing')])).code).to.equal(3);
    });
  });

  describe('third-party simulators: the fixed postures on the Debian packages', () => {
    it('OpenSSH: Debian sshd accepts both configurations, with the documented algorithms', function () {
      const sshd = requirePeer(this, 'sshd', findExecutable('sshd', ['/usr/sbin']));
      const keygen = requirePeer(this, 'ssh-keygen');
      ensureSshdRuntimeDir();
      const dir = tmpDir();
      try {
        const effective = (posture: string, keys: [string, string[]][]) => {
          for (const [file, args] of keys) execFileSync(keygen, ['-q', ...args, '-N', '', '-f', path.join(dir, file)]);
          let text = fs.readFileSync(`docker/sims/openssh/sshd_config.${posture}`, 'utf8').replaceAll('/etc/ssh/', `${dir}/`);
          text = text.replaceAll('/etc/iacs-sim/banner.txt', path.resolve('docker/sims/openssh/banner.txt'));
          fs.writeFileSync(path.join(dir, posture), text);
          const out = execFileSync(sshd, ['-T', '-f', path.join(dir, posture), '-o', `PidFile=${dir}/pid`], { encoding: 'utf8' });
          return Object.fromEntries(out.trim().split('\n').map((l) => [l.split(' ')[0], l.slice(l.indexOf(' ') + 1)]));
        };
        const weak = effective('weak', [['ssh_host_rsa_key', ['-t', 'rsa', '-b', '1024']], ['ssh_host_ecdsa_key', ['-t', 'ecdsa', '-b', '256']]]);
        expect(weak.kexalgorithms).to.contain('diffie-hellman-group1-sha1');
        expect(weak.ciphers).to.contain('3des-cbc');
        expect(weak.macs).to.contain('hmac-md5');
        expect(weak.hostkeyalgorithms).to.contain('ssh-rsa');
        expect(weak.permitrootlogin).to.equal('yes');
        expect(weak.banner).to.equal('none');
        const hard = effective('hardened', [['ssh_host_ed25519_key', ['-t', 'ed25519']]]);
        expect(hard.kexalgorithms.split(',')).to.not.include.members(['diffie-hellman-group1-sha1', 'diffie-hellman-group14-sha1']);
        expect(hard.kexalgorithms).to.not.match(/sha1/);
        expect(hard.ciphers).to.not.match(/cbc|3des|chacha/);
        expect(hard.macs.split(',').every((m) => m.endsWith('-etm@openssh.com'))).to.equal(true);
        expect(hard.hostkeyalgorithms).to.equal('ssh-ed25519');
        expect(hard.permitrootlogin).to.equal('no');
        expect(hard.maxauthtries).to.equal('3');
        expect(hard.banner).to.match(/banner\.txt$/);
      } finally {
        fs.rmSync(dir, { recursive: true, force: true });
      }
    });

    it('Samba: testparm accepts both postures as the entrypoint assembles them, with the documented settings', function () {
      const testparm = requirePeer(this, 'testparm', findExecutable('testparm'), 'Debian package samba-common-bin');
      const dir = tmpDir();
      try {
        const effective = (posture: string) => {
          const conf = path.join(dir, `${posture}.conf`);
          fs.writeFileSync(conf, [fs.readFileSync('docker/sims/samba/smb.common.conf', 'utf8'), '  interfaces = 127.0.0.1\n', fs.readFileSync(`docker/sims/samba/smb.${posture}.conf`, 'utf8')].join(''));
          return execFileSync(testparm, ['-s', conf], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] });
        };
        const weak = effective('weak');
        for (const line of ['server min protocol = NT1', 'server signing = No', 'map to guest = Bad User', 'guest ok = Yes', 'smb ports = 445', 'disable netbios = Yes']) expect(weak).to.contain(`\t${line}\n`);
        expect(weak).to.not.match(/restrict anonymous/);
        const hardened = effective('hardened');
        for (const line of ['server signing = required', 'restrict anonymous = 2', 'smb ports = 445']) expect(hardened).to.contain(`\t${line}\n`);
        // SMB2_02 and "never" are Samba 4.17's defaults, so testparm -s does not print them.
        expect(hardened).to.not.match(/server min protocol|map to guest|guest ok/);
      } finally {
        fs.rmSync(dir, { recursive: true, force: true });
      }
    });

    it('pymodbus: unit 1 answers on the given address, register 0 counts, others hold 100 + address', async function () {
      this.timeout(20_000);
      const python = requirePeer(this, 'python3 with pymodbus', (() => {
        const p = debianPython();
        return p && pythonHasModule(p, 'pymodbus') ? p : undefined;
      })(), 'apt-get install python3-pymodbus python3-serial python3-serial-asyncio');
      const server = spawn(python, ['docker/sims/pymodbus/server.py', '127.0.0.1', '0', '--counter'], { stdio: ['ignore', 'ignore', 'pipe'] });
      const client = new ModbusRTU();
      try {
        const port = await announcedPort(server, /server on 127\.0\.0\.1:(\d+)/);
        await client.connectTCP('127.0.0.1', { port });
        client.setID(1);
        client.setTimeout(2000);
        const first = (await client.readHoldingRegisters(0, 3)).data;
        expect(first.slice(1)).to.deep.equal([101, 102]);
        await new Promise((r) => setTimeout(r, 1300));
        const second = (await client.readHoldingRegisters(0, 1)).data;
        expect(second[0]).to.not.equal(first[0]);
      } finally {
        await new Promise<void>((resolve) => client.close(() => resolve()));
        await stop(server);
      }
    });

    it('snmpd: public reads, private writes sysLocation, public cannot write, the v3 user reads with authPriv', async function () {
      this.timeout(20_000);
      const snmpd = requirePeer(this, 'snmpd', findExecutable('snmpd', ['/usr/sbin']));
      const snmpget = requirePeer(this, 'snmpget');
      const snmpset = requirePeer(this, 'snmpset');
      const dir = tmpDir();
      const port = await freeUdpPort();
      const agent = spawn(snmpd, ['-f', '-Lo', '-C', '-c', 'docker/sims/snmpd/snmpd.conf', '-I', '-smux', '-p', `${dir}/pid`, `udp:127.0.0.1:${port}`], {
        env: { ...process.env, SNMP_PERSISTENT_DIR: dir, MIBS: '' }, stdio: ['ignore', 'pipe', 'pipe'],
      });
      const env = { ...process.env, MIBS: '', SNMP_PERSISTENT_DIR: dir };
      const target = `127.0.0.1:${port}`;
      const run = (bin: string, args: string[]) => spawnSync(bin, ['-t', '1', '-r', '2', '-On', ...args], { encoding: 'utf8', env });
      try {
        await announcedPort(agent, /NET-SNMP version/);
        const descr = run(snmpget, ['-v2c', '-c', 'public', target, '1.3.6.1.2.1.1.1.0']);
        expect(descr.stdout).to.contain('iacs-probe Docker regression kit');
        expect(run(snmpset, ['-v2c', '-c', 'private', target, '1.3.6.1.2.1.1.6.0', 's', 'rack 7']).status).to.equal(0);
        expect(run(snmpget, ['-v2c', '-c', 'public', target, '1.3.6.1.2.1.1.6.0']).stdout).to.contain('rack 7');
        expect(run(snmpset, ['-v2c', '-c', 'public', target, '1.3.6.1.2.1.1.6.0', 's', 'x']).status).to.not.equal(0);
        const v3 = run(snmpget, ['-v3', '-u', 'iacs-v3', '-l', 'authPriv', '-a', 'SHA', '-A', 'Bench-SNMPv3-auth-2026', '-x', 'AES', '-X', 'Bench-SNMPv3-priv-2026', target, '1.3.6.1.2.1.1.5.0']);
        expect(v3.stdout).to.contain('snmpd-sim');
      } finally {
        await stop(agent);
        fs.rmSync(dir, { recursive: true, force: true });
      }
    });

    it('snap7: server.cpp builds with g++ from the snap7 source node-snap7 bundles, as the image does, and answers as snap7', async function () {
      this.timeout(120_000);
      const gxx = requirePeer(this, 'g++');
      const src = path.join('node_modules', 'node-snap7', 'deps', 'snap7', 'src');
      if (!fs.existsSync(src)) requirePeer(this, 'node-snap7 source', undefined, 'npm devDependency node-snap7');
      const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'iacs-snap7-sim-'));
      const files = ['sys', 'core', 'lib'].flatMap((d) => fs.readdirSync(path.join(src, d)).filter((f) => f.endsWith('.cpp')).map((f) => path.join(src, d, f)));
      execFileSync(gxx, ['-O1', '-pthread', '-w', ...['sys', 'core', 'lib'].map((d) => `-I${path.join(src, d)}`), ...files, 'docker/sims/snap7/server.cpp', '-o', `${dir}/snap7-server`], { timeout: 110_000 });
      const port = await freeTcpPort();
      const server = spawn(`${dir}/snap7-server`, ['127.0.0.1', String(port)], { stdio: ['ignore', 'pipe', 'pipe'] });
      try {
        await announcedPort(server, /S7Server on 127\.0\.0\.1:(\d+)/);
        const { attempt } = await runProbe(s7Identification, { service: { port, protocol: 's7' } });
        expect(attempt.status, attempt.message).to.equal('pass');
        expect(attempt.observations.identity).to.include({ systemName: 'SNAP7-SERVER', module: '6ES7 315-2EH14-0AB0' });
      } finally {
        await stop(server);
        fs.rmSync(dir, { recursive: true, force: true });
      }
      expect(server.exitCode, 'snap7-server ends cleanly on SIGTERM').to.equal(0);
    });
  });
});

/** A TCP port on 127.0.0.1 that was free a moment ago (snap7 cannot bind port 0 and report it). */
async function freeTcpPort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  const { port } = server.address() as net.AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

/** A UDP port on 127.0.0.1 that was free a moment ago (snmpd does not report the port it bound). */
async function freeUdpPort(): Promise<number> {
  const socket = dgram.createSocket('udp4');
  await new Promise<void>((resolve) => socket.bind(0, '127.0.0.1', () => resolve()));
  const { port } = socket.address();
  await new Promise<void>((resolve) => socket.close(() => resolve()));
  return port;
}

/** Resolves with the first capture of `pattern` in the child's output (or '' without a group). */
function announcedPort(child: ChildProcess, pattern: RegExp): Promise<number> {
  return new Promise((resolve, reject) => {
    let text = '';
    const timer = setTimeout(() => reject(new Error(`no ${pattern} in 10 s:\n${text}`)), 10_000);
    const onData = (d: Buffer) => {
      text += d.toString();
      const m = pattern.exec(text);
      if (m) {
        clearTimeout(timer);
        resolve(Number(m[1] ?? 0));
      }
    };
    child.stdout?.on('data', onData);
    child.stderr?.on('data', onData);
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`exited ${code}:\n${text}`));
    });
  });
}

function stop(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    const kill = setTimeout(() => child.kill('SIGKILL'), 5000);
    child.once('exit', () => {
      clearTimeout(kill);
      resolve();
    });
    child.kill('SIGTERM');
  });
}
