import { startEmulator, loadPosture, type AuditSink, type Emulator } from '../emulator';
import { InputFileError, formatIssues, readInputText } from '../sdk/input-file';
import { UsageError, parse, type Io } from './common';

export const EMULATE_USAGE = `usage: iacs-probe emulate [--posture weak|hardened|FILE] [--host H] [--ephemeral]
                          [--log-host H [--syslog-udp P] [--syslog-tcp P] [--syslog-tls P --syslog-ca FILE] [--ntp P]]

  Runs an emulated device until SIGINT/SIGTERM. Prints one JSON line when its services are up:
  {"services":[{"protocol":"telnet","host":"127.0.0.1","port":12323}, ...]}
  --posture    built-in posture or a posture YAML file (default weak)
  --host H     bind address (default the posture's, else 127.0.0.1)
  --ephemeral  let the OS choose every port instead of the posture's fixed ports
  The device's log and time settings, as a lab engineer configures a real device to use the lab services of a
  profile's lab: block (without --log-host the device sends no log and keeps its own clock):
  --log-host H        the lab collector's and NTP server's address or name
  --syslog-udp P, --syslog-tcp P, --syslog-tls P   the collector's ports (the posture's audit.transport picks one)
  --syslog-ca FILE    the lab CA (PEM) the device trusts for the collector's certificate (with --syslog-tls)
  --ntp P             the lab NTP server's port`;

const PORT_OPTIONS = ['syslog-udp', 'syslog-tcp', 'syslog-tls', 'ntp'] as const;

function portOption(name: string, value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  const port = Number(value);
  if (!/^\d+$/.test(value) || port < 1 || port > 65535) throw new UsageError(`--${name}: ${value} is not a port (1-65535)`);
  return port;
}

/** The device's log destination from the --log-host options, or undefined when none is given. */
export function auditSinkOption(values: Partial<Record<'log-host' | 'syslog-ca' | (typeof PORT_OPTIONS)[number], string>>): AuditSink | undefined {
  const host = values['log-host'];
  const given = PORT_OPTIONS.filter((o) => values[o] !== undefined);
  if (host === undefined) {
    const stray = [...given, ...(values['syslog-ca'] !== undefined ? ['syslog-ca'] : [])];
    if (stray.length > 0) throw new UsageError(`--${stray[0]} needs --log-host (the lab address the device sends to)`);
    return undefined;
  }
  if (given.length === 0) throw new UsageError('--log-host needs at least one of --syslog-udp, --syslog-tcp, --syslog-tls, --ntp');
  const [udpPort, tcpPort, tlsPort, ntpPort] = PORT_OPTIONS.map((o) => portOption(o, values[o]));
  if (tlsPort !== undefined && values['syslog-ca'] === undefined) throw new UsageError('--syslog-tls needs --syslog-ca (the lab CA the device trusts for the collector)');
  let caPem: string | undefined;
  if (values['syslog-ca'] !== undefined) {
    try {
      caPem = readInputText(values['syslog-ca']);
    } catch (err) {
      if (err instanceof InputFileError) throw new UsageError(`--syslog-ca: ${formatIssues(err.issues)}`);
      throw err;
    }
    if (!caPem.includes('-----BEGIN CERTIFICATE-----')) throw new UsageError(`--syslog-ca: ${values['syslog-ca']} holds no PEM certificate`);
  }
  return {
    address: host,
    ...(udpPort !== undefined ? { udpPort } : {}), ...(tcpPort !== undefined ? { tcpPort } : {}), ...(tlsPort !== undefined ? { tlsPort } : {}),
    ...(ntpPort !== undefined ? { ntpPort } : {}), ...(caPem !== undefined ? { caPem } : {}),
  };
}

/** The JSON line `emulate` prints (ARCHITECTURE.md). */
export function servicesLine(emulator: Emulator): string {
  return JSON.stringify({ services: emulator.services.map((s) => ({ protocol: s.protocol, host: s.host, port: s.port, ...(s.tls ? { tls: true } : {}), ...(s.transport ? { transport: s.transport } : {}) })) });
}

export async function emulateCommand(args: string[], io: Io): Promise<number> {
  const { values } = parse(args, {
    posture: { type: 'string' }, host: { type: 'string' }, ephemeral: { type: 'boolean' },
    'log-host': { type: 'string' }, 'syslog-udp': { type: 'string' }, 'syslog-tcp': { type: 'string' }, 'syslog-tls': { type: 'string' },
    'syslog-ca': { type: 'string' }, ntp: { type: 'string' },
  }, { min: 0, max: 0, names: '' });
  const auditSink = auditSinkOption(values);
  const posture = loadPosture(values.posture ?? 'weak');
  const emulator = await startEmulator(posture, { host: values.host, ephemeralPorts: values.ephemeral === true, ...(auditSink ? { auditSink } : {}) });
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
