import { expect } from 'chai';
import { ProfileError, parseProfile } from '../../src/profile';

const profile = (block: string, services = '      - { port: 502, protocol: modbus, unitId: 1 }\n      - { port: 443, protocol: https }\n') => parseProfile(Buffer.from(`apiVersion: iacs-probe/v1
component: { name: PLC, types: [embedded], slTarget: 2 }
targets:
  - host: 127.0.0.1
    services:
${services}essentialFunction:
${block}`), 'plc.yaml', process.cwd());

function issues(block: string, services?: string): string[] {
  try {
    profile(block, services);
  } catch (err) {
    expect(err).to.be.instanceOf(ProfileError);
    return (err as ProfileError).issues.map((i) => `${i.line ?? '-'} ${i.field}: ${i.message}`);
  }
  throw new Error('the profile was accepted');
}

const COIL = '{ coil: 8, safeValue: 0, activeValue: 1, timeoutMs: 1000, heartbeat: { register: 20, periodMs: 250 } }';

describe('profile: essentialFunction.outputs (CR 3.6, modbus.fail-safe)', () => {
  it('outputs alone start no monitor; next to a watch the monitor does not carry them', () => {
    const alone = profile(`  outputs:\n    - ${COIL}\n`);
    expect(alone.monitor).to.equal(undefined);
    expect(alone.essentialFunction.outputs).to.deep.equal([{ coil: 8, safeValue: 0, activeValue: 1, timeoutMs: 1000, heartbeat: { register: 20, periodMs: 250 } }]);
    const both = profile(`  https: {}\n  outputs:\n    - { holdingRegister: 40, safeValue: 0, activeValue: 500, restoreValue: 7, timeoutMs: 2000, heartbeat: { anyTraffic: true, periodMs: 500 }, port: 502 }\n`);
    expect(both.monitor).to.not.have.property('outputs');
    expect(both.monitor?.https).to.deep.equal({});
  });

  it('refuses an output that cannot be tested, each with its line and field', () => {
    expect(issues('  outputs:\n    - { coil: 8, holdingRegister: 3, safeValue: 0, activeValue: 0, timeoutMs: 100, heartbeat: { periodMs: 100 } }\n')).to.deep.equal([
      '10 essentialFunction.outputs[0]: give exactly one of coil or holdingRegister: the output the device must set to its safe state',
      '10 essentialFunction.outputs[0].heartbeat: give exactly one of register (the master writes it every periodMs) or anyTraffic: true (any request keeps the watchdog alive)',
      '10 essentialFunction.outputs[0].activeValue: must differ from safeValue (0): otherwise a change to the safe state cannot be seen',
      '10 essentialFunction.outputs[0].heartbeat.periodMs: must be below timeoutMs (100): a master this slow would trip the watchdog itself',
    ]);
    expect(issues('  outputs:\n    - { coil: 8, safeValue: 0, activeValue: 2, timeoutMs: 1000, heartbeat: { register: 20, periodMs: 250 } }\n'))
      .to.deep.equal(['10 essentialFunction.outputs[0].activeValue: a coil is 0 or 1, not 2']);
    expect(issues('  outputs:\n    - { holdingRegister: 20, safeValue: 0, activeValue: 1, timeoutMs: 1000, heartbeat: { register: 20, periodMs: 250 } }\n'))
      .to.deep.equal(['10 essentialFunction.outputs[0].heartbeat.register: is the output itself: the heartbeat needs a register of its own']);
    expect(issues('  outputs:\n    - { coil: 8, safeValue: 0, activeValue: 1, timeoutMs: 1000, heartbeat: { register: 20, periodMs: 250 }, port: 1502 }\n'))
      .to.deep.equal(['10 essentialFunction.outputs[0].port: no target declares a modbus service on port 1502']);
    expect(issues(`  outputs:\n    - ${COIL}\n`, '      - { port: 443, protocol: https }\n'))
      .to.deep.equal(['9 essentialFunction.outputs[0]: no target declares a modbus service to reach the output on']);
  });

  it('the schema refuses unknown fields and missing values at their line', () => {
    const found = issues('  outputs:\n    - { coil: 8, safeValue: 0, timeoutMs: 1000, heartbeat: { register: 20, periodMs: 250, every: 1 } }\n');
    expect(found.join('\n')).to.match(/^10 essentialFunction\.outputs\[0].*activeValue/m).and.to.match(/heartbeat.*every/);
  });
});
