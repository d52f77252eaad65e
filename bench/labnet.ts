/**
 * Labnet glue for the rows that need devices at addresses of their own (ports, fleet): devices run from the
 * build (node dist/src/labnet/device-entry.js, not through tsx), commands run on the scanner side.
 */
import type { ChildProcess } from 'node:child_process';
import * as path from 'node:path';
import type { DeviceCommandInput, Labnet } from '../src/labnet/netns';
import { ROOT } from './ours';

/** The device command from the build; with `connectionLogDir`, each device writes `<address>.json` there as it stops. */
export function builtDeviceCommand(connectionLogDir?: string): (input: DeviceCommandInput) => string[] {
  const entry = path.join(ROOT, 'dist', 'src', 'labnet', 'device-entry.js');
  return (input) => [
    process.execPath, entry, '--posture', input.posture, '--host', input.host,
    ...(input.ephemeralPorts ? ['--ephemeral-ports'] : []),
    ...(connectionLogDir ? ['--connection-log', path.join(connectionLogDir, `${input.host}.json`)] : []),
  ];
}

/** Starts commands on the labnet's scanner side, output piped (for timeProcess). */
export function scannerSide(labnet: Labnet): (command: string, args: readonly string[]) => Promise<ChildProcess> {
  // Detached: a timeout or Ctrl-C kills the command's whole process group (iacs-probe and its nmap children).
  return (command, args) => labnet.spawn(command, args, { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'], detached: true });
}
