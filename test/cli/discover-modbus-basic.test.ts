import { expect } from 'chai';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { startEmulator, type Emulator } from '../../src/emulator';
import { inProcess } from '../helpers/cli';
import { postureWith } from '../helpers/postures';
import { requirePymodbus, startPymodbus } from '../helpers/pymodbus';

/*
 * discover asks Modbus 43/14 for the regular objects (the model name is one of them). A device with basic
 * identification only may refuse that (exception 03) instead of answering at its own level as the spec asks:
 * discover then asks once more for the basic objects, so the vendor and firmware are not lost.
 */
describe('discover: a Modbus device with basic identification only', function () {
  this.timeout(40_000);
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'iacs-discover-basic-'));
  const emulators: Emulator[] = [];
  after(async () => {
    await Promise.all(emulators.map((e) => e.close()));
    fs.rmSync(dir, { recursive: true, force: true });
  });

  async function discoverModbus(validation: 'strict' | 'lax', identification: unknown): Promise<string> {
    const base = postureWith('hardened', ['modbus']);
    const posture = { ...base, services: { modbus: { ...base.services.modbus, enabled: true, validation, identification } } };
    const emulator = await startEmulator(posture as typeof base, { ephemeralPorts: true });
    emulators.push(emulator);
    const out = path.join(dir, `${validation}-${emulators.length}.yaml`);
    const port = emulator.services.find((s) => s.protocol === 'modbus')!.port;
    const result = await inProcess(['discover', '127.0.0.1', '--ports', String(port), '--timeout', '1500', '--out', out]);
    expect(result.code, result.stderr).to.equal(0);
    return fs.readFileSync(out, 'utf8');
  }

  it('refusing the regular request (lax firmware): vendor and firmware from the basic objects, no model', async () => {
    const draft = await discoverModbus('lax', { conformity: 'basic' });
    expect(draft).to.match(/vendor: "Example Automation"\s+# from Modbus 43\/14/);
    expect(draft).to.match(/firmware: "[^"]+"\s+# from Modbus 43\/14/);
    expect(draft).not.to.match(/model: .*# from Modbus/);
    expect(draft).to.match(/protocol: modbus, unitId: 1/);
  });

  it('answering the regular request at its own level (strict, as the spec asks): the same basic objects', async () => {
    const draft = await discoverModbus('strict', { conformity: 'basic' });
    expect(draft).to.match(/vendor: "Example Automation"\s+# from Modbus 43\/14/);
    expect(draft).not.to.match(/model: .*# from Modbus/);
  });

  it('with regular identification the model comes from 43/14 too; without 43/14 (exception 01) no identity, still Modbus', async () => {
    expect(await discoverModbus('strict', true)).to.match(/model: "EPLC-1"\s+# from Modbus 43\/14/);
    const none = await discoverModbus('lax', false);
    expect(none).not.to.match(/# from Modbus 43\/14/);
    expect(none).to.match(/protocol: modbus, unitId: 1/);
  });

  it('against pymodbus (python3-pymodbus, not ours): its 43/14 objects name the vendor, model and firmware', async function () {
    const server = await startPymodbus(requirePymodbus(this));
    try {
      const out = path.join(dir, 'pymodbus.yaml');
      const result = await inProcess(['discover', '127.0.0.1', '--ports', String(server.port), '--timeout', '1500', '--out', out]);
      expect(result.code, result.stderr).to.equal(0);
      const draft = fs.readFileSync(out, 'utf8');
      expect(draft).to.match(/vendor: "pymodbus"\s+# from Modbus 43\/14/);
      expect(draft).to.match(/model: "fixture"\s+# from Modbus 43\/14/);
      expect(draft).to.match(/firmware: "3\.0\.0"\s+# from Modbus 43\/14/);
    } finally {
      await server.close();
    }
  });
});
