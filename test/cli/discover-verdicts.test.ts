import { expect } from 'chai';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { parse as parseYaml } from 'yaml';
import { pointExampleAt } from '../../src/cli/demo';
import { loadPosture, startEmulator, type Emulator, type Posture } from '../../src/emulator';
import { packagePath } from '../../src/paths';
import { loadProfile, profileFromObject } from '../../src/profile';
import type { Report } from '../../src/report/model';
import { passwordVariable } from '../../src/runner/discover';
import { runAssessment } from '../../src/runner/run';
import { inProcess } from '../helpers/cli';
import { requireRoot } from '../helpers/peers';

/*
 * Issue 24's "done when": `discover` on the weak and hardened emulators writes drafts that `run` accepts and
 * whose requirement verdicts equal those of the shipped example profiles (profiles/examples/*.yaml pointed at
 * the same emulator), probe for probe, over the protocol probes that judge what a service is and offers.
 * Every verdict that differs is named below with the reason it must differ; any other difference fails.
 */

/** The probes that judge the declared services themselves (no lab services, nothing intrusive). */
const ONLY = [
  'ssh.algorithms', 'ssh.auth', 'tls.protocols', 'tls.certificate', 'cleartext.telnet', 'cleartext.ftp', 'cleartext.tftp',
  'http.headers', 'http.transport', 'modbus.identification', 'modbus.security', 'enip.identity', 'enip.security',
  'bacnet.identification', 's7.identification', 'dnp3.identification', 'dnp3.security', 'iec104.security',
  'mqtt.transport', 'opcua.endpoints', 'snmp.v3',
];
// ports.tcp is left out: the services compared port for port below are what it would judge (and the weak
// example leaves the debug agent undeclared on purpose, so that its CR 7.7 fails, while a draft declares it).

/**
 * Verdicts that differ by necessity, per posture: requirement id → why. The test fails on an entry that no
 * longer differs too, so this list stays exact.
 */
const INHERENT: Record<'weak' | 'hardened', Record<string, string>> = {
  weak: {},
  hardened: {},
};

/** The hardened services that require a client certificate, on their registered ports (root binds them). */
const REGISTERED_PORTS = { 'modbus-tls': 802, 'enip.cipSecurity': 2221, 'iec104.tls': 19998, 'dnp3.tls': 19999 };

/** The posture with OS-chosen ports, except the mutual-TLS services on their registered ports. */
function hardenedOnRegisteredPorts(): Posture {
  const posture = loadPosture('hardened');
  const zero = (node: unknown) => {
    if (node === null || typeof node !== 'object') return;
    const record = node as Record<string, unknown>;
    if (typeof record.port === 'number') record.port = 0;
    Object.values(record).forEach(zero);
  };
  zero(posture.services);
  for (const [where, port] of Object.entries(REGISTERED_PORTS)) {
    const section = where.split('.').reduce<Record<string, unknown>>((node, key) => node[key] as Record<string, unknown>, posture.services as Record<string, unknown>);
    section.port = port;
  }
  return posture;
}

const UDP_PROTOCOLS = new Set(['snmp', 'tftp', 'bacnet']);
const isUdp = (s: { protocol: string; transport?: string }) => s.transport === 'udp' || UDP_PROTOCOLS.has(s.protocol);

type Verdicts = Record<string, string>;
/** The declared services as report.json lists them ("udp/161 snmp"). */
const services = (report: Report) => report.targets[0].services.map((s) => `${s.transport}/${s.port} ${s.protocol}`).sort();
const verdictsOf = (report: Report): Verdicts => Object.fromEntries(report.requirements.map((r) => [r.id, r.verdict]));

describe('discover: the drafts of the weak and hardened emulators assess as the shipped example profiles do', function () {
  this.timeout(120_000);
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'iacs-discover-verdicts-'));
  after(() => fs.rmSync(dir, { recursive: true, force: true }));

  /** Discovers the emulator, runs the draft through the CLI and the example profile, both with ONLY. */
  async function compare(posture: 'weak' | 'hardened', emulator: Emulator, extra: string[]) {
    const tcp = emulator.services.filter((s) => !isUdp(s)).map((s) => s.port);
    const udp = emulator.services.filter(isUdp).map((s) => s.port);
    const host = emulator.services[0].host;
    const draftFile = path.join(dir, `${posture}.yaml`);
    const discovered = await inProcess(['discover', host, '--ports', tcp.join(','), '--udp-ports', udp.join(','), '--timeout', '700', '--out', draftFile, ...extra]);
    expect(discovered.code, discovered.stderr).to.equal(0);
    const draftRun = await inProcess(['run', draftFile, '--only', ONLY.join(','), '--out', path.join(dir, `${posture}-draft`), '--no-pdf']);
    expect(draftRun.code, draftRun.stderr).to.be.oneOf([0, 1]);
    const draft = JSON.parse(fs.readFileSync(path.join(dir, `${posture}-draft`, 'report.json'), 'utf8')) as Report;

    const exampleFile = packagePath('profiles', 'examples', `${posture}.yaml`);
    const example = parseYaml(fs.readFileSync(exampleFile, 'utf8')) as Parameters<typeof pointExampleAt>[0] & { lab?: unknown };
    delete example.lab; // the audit probes are not run here; the draft has no lab either
    pointExampleAt(example, emulator, `no %s service`);
    const shipped = await runAssessment(profileFromObject(example, exampleFile, path.dirname(exampleFile)), {
      out: path.join(dir, `${posture}-example`), only: ONLY,
    });
    return { draftFile, draft, shipped: shipped.report };
  }

  function expectSameVerdicts(posture: 'weak' | 'hardened', draft: Report, shipped: Report) {
    const [a, b] = [verdictsOf(draft), verdictsOf(shipped)];
    const differing = Object.keys(b).filter((id) => a[id] !== b[id]).map((id) => `${id}: draft ${a[id]}, example ${b[id]}`);
    const named = Object.keys(INHERENT[posture]);
    expect(differing.filter((d) => !named.includes(d.split(':')[0])), 'verdicts that differ without a named reason').to.deep.equal([]);
    expect(named.filter((id) => a[id] === b[id]), 'named differences that no longer differ').to.deep.equal([]);
    expect(draft.attempts.filter((x) => x.status === 'error').map((x) => `${x.probe}@${x.target}`), 'probe errors on the draft').to.deep.equal([]);
  }

  it('weak: same services and ports as the example, same verdicts', async () => {
    const variables = ['ssh', 'http', 'opcua', 'mqtt'].map(passwordVariable);
    for (const v of variables) process.env[v] = 'admin'; // the weak device's admin password, set as the draft asks
    const emulator = await startEmulator('weak', { ephemeralPorts: true });
    try {
      const { draftFile, draft, shipped } = await compare('weak', emulator, ['--snmp-community']);
      expect(loadProfile(draftFile).component).to.include({ vendor: 'Example Automation', model: 'EPLC-1', firmware: '1.0.0' });
      // The one service the example leaves undeclared on purpose (ports.tcp's finding): the draft declares every open port.
      const debugAgent = emulator.services.find((s) => s.protocol === 'tcp')!;
      expect(services(draft)).to.deep.equal([...services(shipped), `tcp/${debugAgent.port} tcp`].sort());
      expectSameVerdicts('weak', draft, shipped);
    } finally {
      for (const v of variables) delete process.env[v];
      await emulator.close();
    }
  });

  it('hardened (Modbus/TLS, CIP Security, IEC 62351-3 on their registered ports): same services, same verdicts', async function () {
    requireRoot(this, 'the hardened services that require client certificates sit on their registered ports 802, 2221, 19998, 19999');
    const variables = ['ssh', 'http', 'opcua', 'mqtt'].map(passwordVariable);
    for (const v of variables) process.env[v] = 'not-the-password';
    const emulator = await startEmulator(hardenedOnRegisteredPorts(), { host: '127.0.0.1' });
    try {
      const { draftFile, draft, shipped } = await compare('hardened', emulator, []);
      expect(loadProfile(draftFile).component).to.include({ vendor: 'Example Automation', model: 'EPLC-1', firmware: '1.0.0' });
      const text = fs.readFileSync(draftFile, 'utf8');
      expect(text).to.match(/port: 802, protocol: modbus-tls \}\s+# guessed Modbus\/TCP Security/);
      expect(text).to.match(/port: 2221, protocol: tls, transport: udp, options: \{ cipSecurity: true \} \}\s+# guessed CIP Security \(DTLS\)/);
      expect(services(draft)).to.deep.equal(services(shipped));
      expectSameVerdicts('hardened', draft, shipped);
    } finally {
      for (const v of variables) delete process.env[v];
      await emulator.close();
    }
  });
});
