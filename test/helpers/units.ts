import type { Emulator } from '../../src/emulator';
import { profileFromObject, type Profile } from '../../src/profile';

/**
 * A profile for one unit of the emulated EPLC-1 model: every service the emulator runs, the unit's serial in
 * the component (compare-units tells units apart by it).
 */
export function unitProfile(emulator: Emulator, unit: { serial: string; credentials?: Record<string, unknown> }): Profile {
  return profileFromObject({
    apiVersion: 'iacs-probe/v1',
    component: { name: `EPLC-1 unit ${unit.serial}`, vendor: 'Example Automation', model: 'EPLC-1', firmware: '1.0.0', serial: unit.serial, types: ['embedded'], slTarget: 2 },
    targets: [{
      host: '127.0.0.1',
      services: emulator.services.map((s) => ({ port: s.port, protocol: s.protocol, ...(s.transport ? { transport: s.transport } : {}) })),
    }],
    ...(unit.credentials ? { credentials: unit.credentials } : {}),
    policy: { lockout: { threshold: 5, durationSeconds: 60, scope: 'user' } },
  }, `unit ${unit.serial} (test ports)`, process.cwd());
}
