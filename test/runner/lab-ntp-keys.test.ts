import { expect } from 'chai';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { ProfileError, profileFromObject } from '../../src/profile';
import { queryNtp } from '../../src/protocols/ntp';
import { runAssessment } from '../../src/runner/run';
import { defineProbe, ntpKeyMaterial, type NtpKey, type ProbeDefinition } from '../../src/sdk';

const KEY_TEXT = 'HEX:0f1e2d3c4b5a69788796a5b4c3d2e1f001234567';
const KEY: NtpKey = { id: 7, type: 'SHA1', secret: ntpKeyMaterial(KEY_TEXT) };
const seen: { mac?: string; withoutKey?: string } = {};

/** Plays a device configured with the lab key: asks the run's NTP server with and without it. */
const keyedClient = defineProbe({
  id: 'fixture.ntp-key', protocol: 'fixture', title: 'asks the lab NTP server with a key', description: 'test only', requirements: ['CR 2.8'],
  findings: {}, safety: 'passive', scope: 'host', appliesTo: [], timeoutMs: 5000,
  async run(ctx) {
    const ntp = ctx.lab!.ntp!;
    seen.mac = (await queryNtp(ctx.lab!.address, ntp.port, { timeoutMs: 2000, signal: ctx.signal, key: KEY })).mac;
    seen.withoutKey = (await queryNtp(ctx.lab!.address, ntp.port, { timeoutMs: 2000, signal: ctx.signal })).mac;
    ctx.evidence.save('note.txt', `asked with ${KEY_TEXT}`); // a probe that leaks the key: the store must redact it
    return { observations: {}, findings: [], outcomes: [] };
  },
});

describe('runner: lab.ntp.keys (CR 2.11 RE(2)) resolved like credentials, never in the evidence', function () {
  this.timeout(20_000);
  let dir: string;
  beforeEach(() => { dir = fs.mkdtempSync(path.join(os.tmpdir(), 'iacs-lab-keys-')); });
  afterEach(() => {
    delete process.env.IACS_TEST_NTP_KEY;
    fs.rmSync(dir, { recursive: true, force: true });
  });

  const profile = (keys: unknown[]) => profileFromObject({
    apiVersion: 'iacs-probe/v1', component: { name: 'lab keys', types: ['embedded'], slTarget: 2 },
    targets: [{ host: '127.0.0.1', services: [] }], lab: { address: '127.0.0.1', ntp: { port: 0, keys } },
  }, 'inline', dir);

  it('the run\'s NTP server signs answers with the key from the environment; the folder never holds it', async () => {
    process.env.IACS_TEST_NTP_KEY = KEY_TEXT;
    const out = path.join(dir, 'run');
    await runAssessment(profile([{ id: 7, type: 'SHA1', secret: { env: 'IACS_TEST_NTP_KEY' } }]), { out, probes: [keyedClient as ProbeDefinition<unknown>] });
    expect(seen).to.deep.equal({ mac: 'valid', withoutKey: 'none' });
    const journal = fs.readFileSync(path.join(out, 'journal.ndjson'), 'utf8').trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
    expect((journal.find((j) => j.type === 'lab-start')!.ntp as Record<string, unknown>).keys).to.deep.equal([{ id: 7, type: 'SHA1' }]);
    const files = fs.readdirSync(out, { recursive: true, withFileTypes: true }).filter((f) => f.isFile()).map((f) => path.join(f.parentPath, f.name));
    expect(files.length).to.be.greaterThan(3);
    for (const f of files) {
      const bytes = fs.readFileSync(f, 'latin1');
      expect(bytes, f).not.to.include(KEY_TEXT.slice(4));
    }
    expect(fs.readFileSync(path.join(out, 'evidence', 'fixture.ntp-key', '127.0.0.1', 'note.txt'), 'utf8')).to.include('[redacted]');
  });

  it('refuses an inline key, an AES key of the wrong length and a key id listed twice, located in the profile', () => {
    const issues = (keys: unknown[]) => {
      try {
        profile(keys);
        return [];
      } catch (err) {
        expect(err).to.be.instanceOf(ProfileError);
        return (err as ProfileError).issues.map((i) => `${i.field}: ${i.message}`);
      }
    };
    expect(issues([{ id: 1, type: 'SHA1', secret: 'inline' }])).to.deep.equal(['lab.ntp.keys[0].secret: NTP keys are never written inline: use { env: NAME }, { file: path } or { secret: key }']);
    process.env.IACS_TEST_NTP_KEY = 'HEX:00112233';
    expect(issues([{ id: 1, type: 'AES128CMAC', secret: { env: 'IACS_TEST_NTP_KEY' } }])).to.deep.equal(['lab.ntp.keys[0]: key 1 (AES128CMAC) must be 16 bytes (32 hex digits after HEX:), not 4']);
    expect(issues([{ id: 1, type: 'SHA1', secret: { env: 'IACS_TEST_NTP_KEY' } }, { id: 1, type: 'MD5', secret: { env: 'IACS_TEST_NTP_KEY' } }])).to.deep.equal(['lab.ntp.keys[1]: key id 1 is listed twice']);
    expect(issues([{ id: 1, type: 'SHA1', secret: { env: 'IACS_TEST_NO_SUCH_VARIABLE' } }])).to.deep.equal(['lab.ntp.keys[0].secret: environment variable IACS_TEST_NO_SUCH_VARIABLE is not set']);
  });
});
