/**
 * Modbus identification row: `iacs-probe run --only modbus.identification` against nmap's modbus-discover
 * NSE script (Report Slave ID + 43/14 basic objects), whole processes, on the emulator's Modbus/TCP service
 * (hardened settings: unit 1, 43/14) on 127.0.0.1. The same work: both report the device's vendor name.
 */
import { startEmulator } from '../src/emulator';
import { modbusPosture } from '../test/helpers/modbus';
import { findExecutable } from '../test/helpers/peers';
import { ProcessFailed, timeChecked } from './process';
import { attemptOf, oneHostProfile, phasesText, timeRun, versionOf, type BenchContext, type Phases } from './ours';
import { comparison, notMeasured, type Row } from './table';
import { alternate } from './timing';

export async function modbusIdentificationRows(ctx: BenchContext): Promise<Row[]> {
  const work = 'modbus.identification on the emulator';
  const nmap = findExecutable('nmap');
  if (!nmap) return [notMeasured(work, 'needs nmap')];
  const emulator = await startEmulator(modbusPosture('hardened'), { ephemeralPorts: true });
  try {
    const { port } = emulator.endpoint('modbus');
    const vendor = 'Example Automation';
    const profile = oneHostProfile(ctx.tmp, 'modbus', '127.0.0.1', [{ port, protocol: 'modbus', unitId: 1 }]);
    const phases: Phases[] = [];
    ctx.log(`modbus: ${ctx.runs} rounds against 127.0.0.1:${port}`);
    const m = await alternate({
      ours: async (run) => {
        const { result, report, phases: p } = await timeRun(ctx, profile, ['--only', 'modbus.identification']);
        const identity = (attemptOf(report, 'modbus.identification').observations as { identity?: Record<string, string> }).identity;
        if (identity?.vendorName !== vendor) throw new ProcessFailed(`modbus.identification read vendor ${identity?.vendorName}`);
        if (run >= 0) phases.push(p);
        return result;
      },
      nmap: async () => {
        const r = await timeChecked({ argv: [nmap, '-Pn', '-n', '-sT', '-p', String(port), '--script', '+modbus-discover', '127.0.0.1'] });
        if (!r.stdout.includes(vendor)) throw new ProcessFailed(`nmap modbus-discover did not report the vendor:\n${r.stdout}`);
        return r;
      },
    }, ctx.runs);
    return [comparison(work, m.ours, `nmap ${versionOf([nmap, '--version'], /Nmap version ([\d.]+)/)} modbus-discover`, m.nmap, undefined, [
      `Same work checked on every run: both read the vendor name "${vendor}" (ours: 43/14 basic and regular objects; nmap: Report Slave ID and 43/14 basic objects).`,
      `iacs-probe: ${phasesText(phases)}.`,
    ])];
  } finally {
    await emulator.close();
  }
}
