import { expect } from 'chai';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import { ProfileError, profileFromObject } from '../../src/profile';
import { runAssessment } from '../../src/runner/run';
import { defineProbe, type LabOutageSettings, type ProbeDefinition } from '../../src/sdk';

/** A fixture probe that takes the run's collector down and up again, and notes what it saw. */
const seen: { settings?: LabOutageSettings; refused?: string } = {};
const outageProbe = defineProbe({
  id: 'fixture.outage', protocol: 'fixture', title: 'suspends the lab collector', description: 'test only', requirements: ['CR 2.10'],
  findings: {}, safety: 'intrusive', scope: 'host', appliesTo: [], timeoutMs: 10_000,
  async run(ctx) {
    seen.settings = ctx.lab?.outage;
    const syslog = ctx.lab!.syslog!;
    await syslog.suspend({ maxMs: 5000, reason: 'fixture' });
    seen.refused = await new Promise<string>((resolve) => {
      const s = net.connect({ host: '127.0.0.1', port: syslog.ports.tcp! });
      s.once('connect', () => { s.destroy(); resolve('connected'); });
      s.once('error', (err: NodeJS.ErrnoException) => resolve(err.code ?? err.message));
    });
    await syslog.resume();
    return { observations: {}, findings: [], outcomes: [] };
  },
});

describe('runner: the lab collector outage (profile lab.outage)', function () {
  this.timeout(20_000);
  let dir: string;
  beforeEach(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'iacs-lab-outage-'));
    delete seen.settings;
    delete seen.refused;
  });
  afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

  const profile = (lab: Record<string, unknown>) => profileFromObject({
    apiVersion: 'iacs-probe/v1', component: { name: 'lab test', types: ['embedded'], slTarget: 2 },
    targets: [{ host: '127.0.0.1', services: [] }], lab, allow: ['passive', 'active', 'intrusive'],
  }, 'inline', dir);

  it('journals the outage in the run journal and the collector journal; the defaults apply without a lab.outage block', async () => {
    const out = path.join(dir, 'run');
    await runAssessment(profile({ address: '127.0.0.1', syslog: { tcp: 0 } }), { out, probes: [outageProbe as ProbeDefinition<unknown>] });
    expect(seen.refused).to.equal('ECONNREFUSED');
    expect(seen.settings).to.deep.equal({ durationMs: 20_000, reconnectMs: 30_000, provoke: true });
    const journal = fs.readFileSync(path.join(out, 'journal.ndjson'), 'utf8').trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(journal.find((j) => j.type === 'lab-outage-start')).to.deep.include({ transports: ['tcp'], reason: 'fixture', connectionsDestroyed: 0 });
    expect(journal.find((j) => j.type === 'lab-outage-end')).to.deep.include({ transports: ['tcp'] });
    expect(fs.readFileSync(path.join(out, 'lab', 'syslog.ndjson'), 'utf8')).to.include('"type":"outage-start"').and.to.include('"type":"outage-end"');
  });

  it('reads lab.outage: seconds, alarm (case-insensitive), provoke, reconnectSeconds, transports', async () => {
    await runAssessment(profile({
      address: '127.0.0.1', syslog: { tcp: 0 }, outage: { seconds: 5, alarm: 'audit_fail', provoke: false, reconnectSeconds: 2, transports: ['tcp'] },
    }), { out: path.join(dir, 'run'), probes: [outageProbe as ProbeDefinition<unknown>] });
    expect(seen.settings).to.deep.include({ durationMs: 5000, reconnectMs: 2000, provoke: false, transports: ['tcp'] });
    expect(seen.settings!.alarm!.test('<82>1 - plc audit - AUDIT_FAIL - x')).to.equal(true);
  });

  it('refuses an alarm that is not a regular expression, and unknown fields, as profile errors', () => {
    expect(() => profile({ address: '127.0.0.1', syslog: { tcp: 0 }, outage: { alarm: 'AUDIT_(FAIL' } })).to.throw(ProfileError, /not a regular expression/);
    expect(() => profile({ address: '127.0.0.1', syslog: { tcp: 0 }, outage: { minutes: 1 } })).to.throw(ProfileError);
  });
});
