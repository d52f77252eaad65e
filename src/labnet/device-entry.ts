/**
 * One emulated device as a process of its own, so that it can run inside a labnet network namespace
 * (`ip netns exec <ns> node device-entry --posture weak --host 198.18.7.2`). Prints the line
 * `{"services":[...]}` when every service listens (the format of `iacs-probe emulate`), and stops on
 * SIGTERM / SIGINT or when its stdin closes (the labnet that started it has gone, even by a crash).
 * LabnetOptions.deviceCommand can run `iacs-probe emulate` instead. With `--connection-log FILE` it writes,
 * as it stops, how many TCP connections it held at once (ConnectionStats as JSON): the bench checks a
 * run's per-host budget with it, measured at the target.
 */
import * as fs from 'node:fs';
import { parseArgs } from 'node:util';
import { startEmulator } from '../emulator';

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      posture: { type: 'string', default: 'weak' },
      host: { type: 'string' },
      'ephemeral-ports': { type: 'boolean', default: false },
      'connection-log': { type: 'string' },
    },
    strict: true,
  });
  if (!values.host) throw new Error('--host is required');
  const emulator = await startEmulator(values.posture, { host: values.host, ephemeralPorts: values['ephemeral-ports'] });
  let stopping = false;
  const stop = () => {
    if (stopping) return;
    stopping = true;
    process.stdin.destroy();
    // Written before the services close: closing them ends the connections still open.
    if (values['connection-log']) fs.writeFileSync(values['connection-log'], `${JSON.stringify({ host: values.host, ...emulator.connections() })}\n`);
    emulator.close().then(() => process.off('SIGTERM', stop).off('SIGINT', stop), (err: Error) => {
      process.stderr.write(`device-entry: close failed: ${err.message}\n`);
      process.exitCode = 1;
    });
  };
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
  process.stdin.on('end', stop).on('error', stop).resume();
  process.stdout.write(`${JSON.stringify({ services: emulator.services })}\n`);
  for (const notice of emulator.notices) process.stderr.write(`device-entry: ${notice}\n`);
}

main().catch((err: Error) => {
  process.stderr.write(`device-entry: ${err.message}\n`);
  process.exitCode = 1;
  process.stdin.destroy();
});
