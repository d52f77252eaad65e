import { startEmulator, loadPosture, type Emulator } from '../emulator';
import { parse, type Io } from './common';

export const EMULATE_USAGE = `usage: iacs-probe emulate [--posture weak|hardened|FILE] [--host H] [--ephemeral]

  Runs an emulated device until SIGINT/SIGTERM. Prints one JSON line when its services are up:
  {"services":[{"protocol":"telnet","host":"127.0.0.1","port":12323}, ...]}
  --posture    built-in posture or a posture YAML file (default weak)
  --host H     bind address (default the posture's, else 127.0.0.1)
  --ephemeral  let the OS choose every port instead of the posture's fixed ports`;

/** The JSON line `emulate` prints (ARCHITECTURE.md). */
export function servicesLine(emulator: Emulator): string {
  return JSON.stringify({ services: emulator.services.map((s) => ({ protocol: s.protocol, host: s.host, port: s.port, ...(s.tls ? { tls: true } : {}), ...(s.transport ? { transport: s.transport } : {}) })) });
}

export async function emulateCommand(args: string[], io: Io): Promise<number> {
  const { values } = parse(args, {
    posture: { type: 'string' }, host: { type: 'string' }, ephemeral: { type: 'boolean' },
  }, { min: 0, max: 0, names: '' });
  const posture = loadPosture(values.posture ?? 'weak');
  const emulator = await startEmulator(posture, { host: values.host, ephemeralPorts: values.ephemeral === true });
  io.out.write(`${servicesLine(emulator)}\n`);
  for (const notice of emulator.notices) io.err.write(`iacs-probe emulate: ${notice}\n`);
  await new Promise<void>((resolve) => {
    // A posture may start no listening service at all; keep the process alive until told to stop.
    const keepAlive = setInterval(() => undefined, 60_000);
    const stop = () => {
      clearInterval(keepAlive);
      resolve();
    };
    process.once('SIGINT', stop);
    process.once('SIGTERM', stop);
  });
  await emulator.close();
  return 0;
}
