import { expect } from 'chai';
import { execFileSync } from 'node:child_process';
import * as path from 'node:path';
import probe from '../../../probes/boundary/vlan-isolation';
import { ip } from '../../../src/labnet/netns';
import type { VlanCaseResult } from '../../../src/protocols/boundary';
import { runProbe, type ProbeRun } from '../../helpers/probe-harness';
import { createSwitchBench, requireSwitchBench, type SwitchBench, type SwitchPosture } from '../../helpers/vlan-switch';

type Case = Pick<VlanCaseResult, 'kind' | 'round' | 'from' | 'to' | 'vlan' | 'tags' | 'port' | 'sent' | 'arrivals'>;

const casesOf = (run: ProbeRun) => run.attempt.observations.cases as Case[];
const find = (cases: Case[], kind: string, from: string, to: string, tags: number[]) =>
  cases.find((c) => c.kind === kind && c.from === from && c.to === to && c.tags.join('/') === tags.join('/'))!;

/** tshark's reading of a capture (an independent decoder): the VLAN ids of each frame to `udpPort`. */
function tsharkVlans(run: ProbeRun, at: string, udpPort: number): string[] {
  const judged = `vlan-at-${at}${run.attempt.observations.retried ? '-retry' : ''}.pcap`; // the capture of the judged try
  const file = path.join(run.dir, run.attempt.evidence.find((e) => e.endsWith(judged))!);
  const out = execFileSync('tshark', ['-r', file, '-Y', `udp.dstport == ${udpPort}`, '-T', 'fields', '-e', 'frame.number', '-e', 'vlan.id'], { encoding: 'utf8', timeout: 20_000 });
  return out.split('\n').filter((l) => l.trim() !== '').map((l) => l.split('\t')[1] ?? '');
}

// The misbehaving-peer table (closed, stalling, resetting, garbage TCP peers) does not apply: this probe opens no
// connection to any service; it writes raw frames on the bench's own NICs. Its error case is the scope refusal.
describe('probe boundary.vlan-isolation (CR 5.1, switch bench: access ports and a trunk)', function () {
  this.timeout(30_000);
  let bench: SwitchBench;

  before(async function () {
    await requireSwitchBench(this);
    bench = await createSwitchBench();
  });
  after(async () => bench?.close());

  const isolate = async (posture: SwitchPosture, decl = bench.decl(posture)) => {
    await bench.configure(posture);
    return runProbe(probe, { vlans: decl, types: ['network'], allow: ['passive', 'active', 'intrusive'] });
  };

  it('weak switch (office port also in VLAN 20 tagged, trunk native VLAN = office VLAN): tagged and double-tagged frames hop (fail)', async () => {
    const run = await isolate('weak');
    expect(run.attempt.status, run.attempt.message).to.equal('fail');
    const cases = casesOf(run);
    const tagged = find(cases, 'tagged', 'office', 'control', [20]);
    expect(tagged.arrivals).to.deep.include({ at: 'control', vlan: 20, tags: [], packets: 3 });
    // The double-tagged frame loses its outer (native) tag on the trunk and leaves it in VLAN 20.
    const double = find(cases, 'double-tag', 'office', 'control', [10, 20]);
    expect(double.arrivals).to.deep.include({ at: 'uplink', vlan: 20, tags: [20], packets: 3 });
    expect(tsharkVlans(run, 'uplink', double.port)).to.deep.equal(['20', '20', '20']);
    const codes = new Set(run.attempt.findings.map((f) => f.code));
    expect([...codes]).to.include.members(['boundary.vlan-isolation.tagged-crossed', 'boundary.vlan-isolation.double-tag-crossed']);
    expect(run.attempt.outcomes.map((o) => `${o.requirement}:${o.verdict}`)).to.deep.equal(['CR 5.1:fail']);
  });

  it('hardened switch (access ports untagged only, trunk tags every VLAN, no native VLAN): nothing leaves its VLAN (pass)', async () => {
    const run = await isolate('hardened');
    expect(run.attempt.status, JSON.stringify(run.attempt.observations.undetermined)).to.equal('pass');
    const cases = casesOf(run);
    const judgedControls = cases.filter((c) => c.kind === 'control' && c.round !== 'warm-up');
    expect(judgedControls.every((c) => c.arrivals.some((a) => a.at === c.to && a.vlan === c.vlan)), JSON.stringify(judgedControls)).to.equal(true);
    // The double-tagged frame stays in VLAN 10: it leaves the trunk with both tags, as tshark reads it too.
    const double = find(cases, 'double-tag', 'office', 'control', [10, 20]);
    expect(double.arrivals).to.deep.equal([{ at: 'uplink', vlan: 10, tags: [10, 20], packets: 3 }]);
    expect(tsharkVlans(run, 'uplink', double.port)).to.deep.equal(['10,20', '10,20', '10,20']);
    expect(find(cases, 'tagged', 'office', 'control', [20]).arrivals).to.deep.equal([]);
    expect(run.attempt.outcomes.map((o) => `${o.requirement}:${o.verdict}:${o.coverage}`)).to.deep.equal(['CR 5.1:pass:partial']);
  });

  it('VLAN-unaware Linux bridge: plain frames reach the other VLAN too (fail, plain-crossed)', async () => {
    const run = await isolate('unaware');
    expect(run.attempt.status).to.equal('fail');
    const plain = find(casesOf(run), 'plain', 'office', 'control', []);
    expect(plain.arrivals).to.deep.include({ at: 'control', vlan: 20, tags: [], packets: 3 });
    expect(tsharkVlans(run, 'control', plain.port)).to.deep.equal(['', '', '']); // untagged, three frames
    expect(run.attempt.findings.map((f) => f.code)).to.include('boundary.vlan-isolation.plain-crossed');
  });

  it('without a trunk no same-VLAN control can arrive: nothing crossing is not a pass (not_determined)', async () => {
    const { trunk: _t, ...noTrunk } = bench.decl('hardened');
    const run = await isolate('hardened', noTrunk);
    expect(run.attempt.status).to.equal('not_determined');
    expect(run.attempt.observations.undetermined).to.include('tagged office->control VLAN 20');
  });

  it('an endpoint whose route to another reaches it through a gateway: refused before anything is sent (error, scope)', async () => {
    await bench.configure('hardened');
    await ip(['-n', bench.namespaces.office, 'route', 'add', '198.19.10.30/32', 'via', '198.19.10.20', 'dev', 'eth0']);
    try {
      const { attempt } = await runProbe(probe, { vlans: bench.decl('hardened'), types: ['network'], allow: ['passive', 'active', 'intrusive'] });
      expect(attempt.status).to.equal('error');
      expect(attempt.reason).to.equal('scope');
      expect(attempt.message).to.match(/198\.19\.10\.30 would leave through a gateway/);
      expect(attempt.evidence).to.deep.equal([]);
    } finally {
      await ip(['-n', bench.namespaces.office, 'route', 'del', '198.19.10.30/32']);
    }
  });
});
