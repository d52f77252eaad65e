import { expect } from 'chai';
import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { stringify } from 'yaml';
import { loadPosture, startEmulator, type Emulator, type Posture } from '../../src/emulator';
import { profileFromObject } from '../../src/profile';
import { findChromium } from '../../src/runner/pdf';
import { runAssessment, type RunOutcome } from '../../src/runner/run';
import { searchFolder, spellings, type SecretSearch } from '../helpers/secret-search';

/*
 * Secrets in artefacts (issue #23, item 4): a run against the weak emulator with a credential of every kind the
 * profile takes — from env, from a file and from the secrets file; SSH, OPC UA, HTTP (form login and Basic), MQTT
 * passwords, the SNMPv3 auth and privacy passphrases, an SNMP community, the lab NTP key, and the device CA's
 * private key handed to the client-certificate probes — each long, random and made for this run, on accounts of
 * their own. Then every file of the run folder (reports, PDF, xlsx entries, journal, action log, evidence, lab
 * captures) is searched for every secret in every spelling (test/helpers/secret-search.ts): none may be found.
 */

const random = (label: string) => `${label}-${randomBytes(18).toString('base64url')}+/`;

const SECRETS = {
  ssh: random('ssh'), opcua: random('opcua'), http: random('http'), mqtt: random('mqtt'), audit: random('audit'),
  snmpAuth: random('snmpauth'), snmpPriv: random('snmppriv'), community: random('community'), ntpKey: random('ntp'),
};

/** The weak device with an account per credential and SNMPv3 next to v1/v2c. */
function benchPosture(): Posture {
  const weak = loadPosture('weak');
  const snmp = weak.services.snmp as Record<string, unknown>;
  return {
    ...weak,
    accounts: [
      { username: 'sshop', password: SECRETS.ssh, role: 'admin' }, { username: 'uaop', password: SECRETS.opcua, role: 'admin' },
      { username: 'webop', password: SECRETS.http, role: 'admin' }, { username: 'mqttop', password: SECRETS.mqtt, role: 'admin' },
      { username: 'auditop', password: SECRETS.audit, role: 'admin' },
    ],
    services: {
      ...weak.services,
      snmp: {
        ...snmp, versions: ['v1', 'v2c', 'v3'], communities: { [SECRETS.community]: 'read-only' },
        users: [{ username: 'nms', level: 'authPriv', auth: 'sha', priv: 'aes', authPassword: SECRETS.snmpAuth, privPassword: SECRETS.snmpPriv }],
      },
    },
  } as Posture;
}

const PROTOCOLS = new Set(['ssh', 'opcua', 'https', 'http', 'mqtt', 'snmp', 'telnet', 'ftp', 'modbus']);
const ONLY = ['ssh', 'opcua', 'http', 'mqtt', 'snmp', 'cleartext', 'audit.log-access', 'tls.client-certificate', 'modbus.security'];

describe('secrets in artefacts: every credential kind, every file, every spelling', function () {
  this.timeout(180_000);
  let emulator: Emulator;
  let dir: string;
  let outcome: RunOutcome;
  let search: SecretSearch;
  let caKey: string;

  before(async function () {
    const started = Date.now();
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'iacs-secrets-'));
    emulator = await startEmulator(benchPosture(), { ephemeralPorts: true });
    caKey = path.join(emulator.workDir, 'pki', 'ca.key');
    fs.writeFileSync(path.join(dir, 'opcua.pw'), `${SECRETS.opcua}\n`);
    fs.writeFileSync(path.join(dir, 'snmp-auth.pw'), SECRETS.snmpAuth);
    fs.writeFileSync(path.join(dir, 'audit.pw'), SECRETS.audit);
    fs.writeFileSync(path.join(dir, 'secrets.yaml'), stringify({ http: SECRETS.http, priv: SECRETS.snmpPriv, community: SECRETS.community, ntp: SECRETS.ntpKey }));
    process.env.IACS_TEST_SSH_SECRET = SECRETS.ssh;
    process.env.IACS_TEST_MQTT_SECRET = SECRETS.mqtt;
    const profile = profileFromObject({
      apiVersion: 'iacs-probe/v1',
      component: { name: 'Secrets bench', vendor: 'Example', model: 'EPLC-1', firmware: '1.0.0', types: ['embedded'], slTarget: 2 },
      targets: [{
        host: '127.0.0.1',
        services: emulator.services.filter((s) => PROTOCOLS.has(s.protocol)).map((s) => ({ port: s.port, protocol: s.protocol })),
      }],
      secretsFile: 'secrets.yaml',
      credentials: {
        ssh: { username: 'sshop', password: { env: 'IACS_TEST_SSH_SECRET' } },
        opcua: { username: 'uaop', password: { file: 'opcua.pw' } },
        http: { username: 'webop', password: { secret: 'http' } },
        mqtt: { username: 'mqttop', password: { env: 'IACS_TEST_MQTT_SECRET' } },
        snmp: { username: 'nms', password: { file: 'snmp-auth.pw' } },
        'snmp.priv': { username: 'nms', password: { secret: 'priv' } },
        'snmp.community': { username: 'community', password: { secret: 'community' } },
        'audit.reader': { username: 'auditop', password: { file: 'audit.pw' } },
      },
      policy: { auditLog: { http: { path: '/api/audit-log', format: 'syslog' } }, sessions: { maxConcurrent: 2 } },
      lab: { address: '127.0.0.1', ntp: { port: 0, keys: [{ id: 1, type: 'SHA1', secret: { secret: 'ntp' } }] } },
    }, 'secrets bench', dir);
    const ca = { trustedCaCertFile: path.join(emulator.workDir, 'pki', 'ca.crt'), trustedCaKeyFile: caKey };
    const pdf = findChromium();
    outcome = await runAssessment(profile, {
      out: path.join(dir, 'run'), only: ONLY, stateDir: path.join(dir, 'state'), ...(pdf.ok ? { pdf } : {}),
      probeInputs: { 'tls.client-certificate': ca, 'modbus.security': ca },
    });
    search = searchFolder(outcome.dir, { ...SECRETS, caKey: pemBody(fs.readFileSync(caKey, 'utf8')) });
    console.log(`      secrets: ${search.files} files (${search.contents} contents opened) × ${Object.keys(SECRETS).length + 1} secrets`
      + ` × ${search.spellingsPerSecret} spellings in ${((Date.now() - started) / 1000).toFixed(0)} s; pdf ${outcome.pdf?.written ? 'written' : 'not written'}`);
  });

  after(async () => {
    delete process.env.IACS_TEST_SSH_SECRET;
    delete process.env.IACS_TEST_MQTT_SECRET;
    await emulator?.close();
    if (dir) fs.rmSync(dir, { recursive: true, force: true });
  });

  it('the secrets were used: logins succeeded with them on every protocol', () => {
    const ran = outcome.report.attempts.filter((a) => a.status !== 'skipped' && a.status !== 'error');
    for (const probe of ['ssh.auth', 'opcua.user-login', 'mqtt.access', 'snmp.v3', 'audit.log-access']) {
      expect(ran.map((a) => a.probe), `${probe} ran`).to.include(probe);
    }
    expect(outcome.report.attempts.filter((a) => a.status === 'error').map((a) => `${a.probe}: ${a.reason}`)).to.deep.equal([]);
  });

  it('the search finds what it looks for (a planted secret in each spelling is found, also inside a zip)', () => {
    const plant = path.join(dir, 'plant');
    fs.mkdirSync(plant, { recursive: true });
    const forms = spellings(SECRETS.http);
    fs.writeFileSync(path.join(plant, 'a.bin'), Buffer.concat([Buffer.from('x'), forms.utf16le, Buffer.from(`Basic ${Buffer.from(`webop:${SECRETS.http}`).toString('base64')}`)]));
    const found = searchFolder(plant, { http: SECRETS.http }).found;
    expect(found.some((f) => f.includes('utf16le'))).to.equal(true);
    expect(found.some((f) => f.includes('as base64@'))).to.equal(true);
  });

  it('found = 0: no secret in any file, in any spelling', () => {
    expect(search.files).to.be.greaterThan(20);
    expect(search.found).to.deep.equal([]);
  });
});

/** The base64 body of a PEM (the key's DER, which is what a leak would contain in any form). */
function pemBody(pem: string): string {
  return pem.replace(/-----[^-]+-----/g, '').replace(/\s+/g, '');
}
