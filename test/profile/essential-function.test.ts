import { expect } from 'chai';
import { ProfileError, parseProfile } from '../../src/profile';
import { MONITOR_DEFAULTS } from '../../src/sdk';

const TARGETS = `targets:
  - host: 127.0.0.1
    services:
      - { port: 502, protocol: modbus, unitId: 1 }
      - { port: 4840, protocol: opcua }
      - { port: 443, protocol: https }
      - { port: 22, protocol: ssh }
`;
const profile = (block: string) => parseProfile(Buffer.from(`apiVersion: iacs-probe/v1
component: { name: PLC, types: [embedded], slTarget: 2 }
${TARGETS}essentialFunction:
${block}`), 'plc.yaml', process.cwd());

function issues(block: string): string[] {
  try {
    profile(block);
  } catch (err) {
    expect(err).to.be.instanceOf(ProfileError);
    return (err as ProfileError).issues.map((i) => `${i.line ?? '-'} ${i.field}: ${i.message}`);
  }
  throw new Error('the profile was accepted');
}

describe('profile: essentialFunction (the monitor block)', () => {
  it('keeps the original shape working, with our defaults', () => {
    const p = profile('  modbus: { unitId: 1, register: 0, kind: counter }\n');
    expect(p.essentialFunction).to.deep.equal({ modbus: { unitId: 1, register: 0, kind: 'counter' } });
    expect(p.monitor).to.deep.equal({
      periodMs: MONITOR_DEFAULTS.periodMs, latencyToleranceMs: 500, lossAfterMs: 5000, stopOnLoss: true, recoveryWindowMs: 30_000,
      modbus: { unitId: 1, register: 0, kind: 'counter' },
    });
  });

  it('takes every watch and parameter', () => {
    const p = profile(`  periodMs: 250
  latencyToleranceMs: 100
  lossAfterMs: 2000
  stopOnLoss: false
  recoveryWindowMs: 0
  modbus: { register: 7, table: input, kind: value, port: 502 }
  opcua: { nodeId: "ns=1;s=Counter", kind: counter, publishingIntervalMs: 200 }
  https: { path: /status, expectStatus: [200, 401] }
  tls: { port: 443 }
  tcp: { port: 22, awaitReply: true }
`);
    expect(p.monitor).to.include({ periodMs: 250, latencyToleranceMs: 100, lossAfterMs: 2000, stopOnLoss: false, recoveryWindowMs: 0 });
    expect(p.monitor!.opcua).to.deep.equal({ nodeId: 'ns=1;s=Counter', kind: 'counter', publishingIntervalMs: 200 });
    expect(p.monitor!.tcp).to.deep.equal({ port: 22, awaitReply: true });
  });

  it('refuses what cannot be monitored, each with its line and field', () => {
    expect(issues('  periodMs: 500\n')).to.deep.equal(['10 essentialFunction: names no watch: give at least one of modbus, opcua, tcp, tls, https, http']);
    expect(issues('  periodMs: 1000\n  lossAfterMs: 1500\n  https: {}\n')).to.deep.equal([
      '12 essentialFunction.lossAfterMs: lossAfterMs (1500) must be at least twice periodMs (1000): a loss must rest on more than one sample',
    ]);
    expect(issues('  latencyToleranceMs: 6000\n  https: {}\n')[0]).to.match(/latencyToleranceMs: latencyToleranceMs \(6000\) must be below lossAfterMs \(5000\)/);
    expect(issues('  tcp: { port: 23 }\n')).to.deep.equal(['11 essentialFunction.tcp.port: no target declares a TCP service on port 23']);
    expect(issues('  http: {}\n')).to.deep.equal(['11 essentialFunction.http: no target declares a service the http watch can use']);
    expect(issues('  opcua: { nodeId: "ns=1;s=X", samplingMs: 5 }\n')[0]).to.match(/essentialFunction\.opcua\.samplingMs: unknown field/);
    expect(issues('  modbus: { register: 0, kind: heartbeat }\n')[0]).to.match(/essentialFunction\.modbus\.kind: must be one of: counter, value/);
    expect(issues('  icmp: {}\n')[0]).to.match(/essentialFunction\.icmp: unknown field/);
  });
});
