import { expect } from 'chai';
import * as fs from 'node:fs';
import * as path from 'node:path';
import probe from '../../../probes/boundary/spoof-fragment';
import type { BoundaryBench } from '../../../src/labnet/boundary-bench';
import { intrusiveArgs, readPcap } from '../../../src/protocols/boundary';
import { OutOfScope } from '../../../src/sdk';
import { declOf, requireBoundaryBench, routerBench } from '../../helpers/boundary';
import { configureRouter, type RouterPosture } from '../../helpers/nft-router';
import { runProbe } from '../../helpers/probe-harness';

interface Case { kind: string; port: number; sent: number; seen: number; spoofedSource?: string }

describe('probe boundary.spoof-fragment (intrusive, two-sided bench, nftables router)', function () {
  this.timeout(30_000);
  let bench: BoundaryBench;

  before(async function () {
    await requireBoundaryBench(this);
    bench = await routerBench('hardened');
  });
  after(async () => bench?.close());

  const send = async (posture: RouterPosture) => {
    await configureRouter(bench, posture, declOf(bench).conduits);
    return runProbe(probe, { boundary: declOf(bench), types: ['network'], allow: ['passive', 'active', 'intrusive'] });
  };

  it('weak router (no anti-spoofing, no reassembly, options forwarded): every case crosses (fail)', async () => {
    const { attempt, dir } = await send('weak');
    expect(attempt.status).to.equal('fail');
    const cases = attempt.observations.cases as Case[];
    expect(cases.map((c) => `${c.kind}:${c.seen > 0}`)).to.deep.equal(['spoofed-source:true', 'fragmented:true', 'tiny-fragment:true', 'record-route:true']);
    expect(cases[0]).to.include({ port: 8443, spoofedSource: '198.19.1.20' }); // aimed at the declared historian conduit
    expect(attempt.findings.map((f) => f.code)).to.deep.equal(['spoofed-source', 'fragmented', 'tiny-fragment', 'record-route'].map((k) => `boundary.spoof-fragment.${k}`));
    // The trusted endpoint's capture holds the forged source and the fragments.
    const pcap = attempt.evidence.find((e) => e.endsWith('intrusive-trusted-from-untrusted.pcap'))!;
    const packets = readPcap(fs.readFileSync(path.join(dir, pcap)));
    expect(packets.some((p) => p.src === '198.19.1.20' && p.dport === 8443)).to.equal(true);
    expect(packets.filter((p) => p.fragment).length).to.be.greaterThan(3);
    expect(packets.some((p) => p.ipOptions)).to.equal(true);
  });

  it('hardened router (rp_filter + fib anti-spoof, conntrack reassembly, IP options dropped): nothing crosses (pass)', async () => {
    const { attempt } = await send('hardened');
    expect(attempt.status, attempt.message).to.equal('pass');
    const cases = attempt.observations.cases as Case[];
    expect(cases.every((c) => c.sent === 3 && c.seen === 0), JSON.stringify(cases)).to.equal(true);
    expect(attempt.outcomes.map((o) => `${o.requirement}:${o.verdict}`)).to.deep.equal(['NDR 5.2:pass']);
  });

  it('the argument builder refuses addresses outside the declared zones (spoofed source, destination)', () => {
    const decl = declOf(bench);
    const base = { destination: '198.19.1.10', port: 8443, ipId: 1, count: 1 };
    expect(intrusiveArgs(decl, { ...base, kind: 'spoofed-source', spoofedSource: '198.19.1.20' })).to.include.members(['-a', '198.19.1.20']);
    expect(() => intrusiveArgs(decl, { ...base, kind: 'spoofed-source', spoofedSource: '10.0.0.1' })).to.throw(OutOfScope, /10\.0\.0\.1 is not an address of a declared zone/);
    expect(() => intrusiveArgs(decl, { ...base, kind: 'spoofed-source', spoofedSource: '198.19.1.255' })).to.throw(OutOfScope);
    expect(() => intrusiveArgs(decl, { ...base, kind: 'fragmented', destination: '8.8.8.8' })).to.throw(OutOfScope, /destination 8\.8\.8\.8/);
  });

  it('an untrusted endpoint whose gateway is not the device: refused before anything is sent (error, scope)', async () => {
    const decl = declOf(bench);
    const outside = { ...decl, zones: [decl.zones[0], { ...decl.zones[1], endpoint: { ...decl.zones[1].endpoint, gateway: '198.19.2.99' } }] };
    const { attempt } = await runProbe(probe, { boundary: outside, types: ['network'], allow: ['passive', 'active', 'intrusive'] });
    expect(attempt.status).to.equal('error');
    expect(attempt.reason).to.equal('scope');
    expect(attempt.evidence).to.deep.equal([]);
  });
});
