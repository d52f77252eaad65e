/**
 * Test fixture (not a test): runs robustness.network-storm against a deceptive Modbus device on loopback,
 * with the monitor, and prints the attempt as one JSON line. The storm test runs it as an unprivileged user
 * (no CAP_NET_RAW) to show that raw storms are then not sent and the row stays not determined.
 */
import probe from '../../../probes/robustness/network-storm';
import { runProbe } from '../../helpers/probe-harness';
import { FAST_MODBUS, countingModbusDevice } from './helpers';

async function main(): Promise<void> {
  const device = await countingModbusDevice();
  try {
    const { attempt } = await runProbe(probe, {
      service: { port: device.port, protocol: 'modbus' }, monitor: { ...FAST_MODBUS, modbus: { register: 0, kind: 'value' } },
      inputs: { storms: ['syn', 'icmp', 'arp'], rates: [100], stepSeconds: 1 },
    });
    process.stdout.write(`${JSON.stringify({ status: attempt.status, message: attempt.message, outcomes: attempt.outcomes, observations: attempt.observations })}\n`);
  } finally {
    await device.close();
  }
}

main().catch((err: Error) => {
  process.stderr.write(`${err.stack ?? err.message}\n`);
  process.exitCode = 1;
});
