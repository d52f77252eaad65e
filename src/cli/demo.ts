import * as dgram from 'node:dgram';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import { parse as parseYaml } from 'yaml';
import { startEmulator, type AuditSink, type Emulator } from '../emulator';
import { makeLabPki } from '../protocols/lab';
import { loadProfile, profileFromObject } from '../profile';
import { formatPortSpec, parsePortSpec } from '../protocols/tcp';
import { packagePath } from '../paths';
import { UsageError, parse, type Io } from './common';
import { applySl, runOptions, runWithConsole, toRunOptions, withAttestations } from './run';

export const DEMO_USAGE = `usage: iacs-probe demo [--posture weak|hardened] [--out DIR] [run options]

  Starts the embedded emulated PLC on 127.0.0.1 (OS-chosen ports), assesses it with
  profiles/examples/<posture>.yaml, writes the evidence folder, and stops the emulator.
  Exits 0 when the assessment completed (the weak posture is meant to fail requirements);
  --strict uses the exit codes of \`run\` (1 when a requirement failed at the target).`;

interface ExampleLab {
  address: string;
  syslog?: { udp?: number; tcp?: number; tls?: number };
  ntp?: { port: number; offsetSeconds?: number };
  tls?: { ca: string; cert: string; key: string };
}

export interface ExampleProfile {
  targets: { host: string; services: { port: number; protocol: string }[] }[];
  allow?: string[];
  probes?: Record<string, Record<string, unknown>>;
  lab?: ExampleLab;
}

/**
 * A port free on 127.0.0.1 (the OS picks it), held until `release`: the emulator, started in between with
 * OS-chosen ports of its own, must not be given it too (it once was: the lab collector then could not listen).
 */
async function reservePort(kind: 'tcp' | 'udp', held: (() => Promise<void>)[]): Promise<number> {
  if (kind === 'udp') {
    const socket = dgram.createSocket('udp4');
    await new Promise<void>((resolve) => socket.bind(0, '127.0.0.1', resolve));
    held.push(() => new Promise<void>((resolve) => socket.close(() => resolve())));
    return socket.address().port;
  }
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  held.push(() => new Promise<void>((resolve) => server.close(() => resolve())));
  return (server.address() as net.AddressInfo).port;
}

/**
 * Points the example's lab block at free loopback ports (held in `held` until the emulator has started) and a lab
 * PKI made in `pkiDir`, and returns where the emulated device sends its security log (as a lab engineer configures
 * a real device's syslog and NTP).
 */
async function demoLab(lab: ExampleLab, pkiDir: string, held: (() => Promise<void>)[]): Promise<AuditSink> {
  lab.address = '127.0.0.1';
  const pki = makeLabPki(pkiDir, { address: lab.address });
  lab.tls = { ca: pki.files.caFile, cert: pki.files.collectorCert, key: pki.files.collectorKey };
  const syslog = lab.syslog ?? {};
  if (syslog.udp !== undefined) syslog.udp = await reservePort('udp', held);
  if (syslog.tcp !== undefined) syslog.tcp = await reservePort('tcp', held);
  if (syslog.tls !== undefined) syslog.tls = await reservePort('tcp', held);
  if (lab.ntp) lab.ntp.port = await reservePort('udp', held);
  return { address: lab.address, udpPort: syslog.udp, tcpPort: syslog.tcp, tlsPort: syslog.tls, caPem: pki.ca.pem, ntpPort: lab.ntp?.port };
}

/**
 * The example profile declares the posture's fixed ports; points each declared service at the port the OS gave
 * the emulator's service of the same protocol (in order). `missing` is the error text, %s the protocol.
 */
export function pointExampleAt(example: ExampleProfile, emulator: Pick<Emulator, 'services'>, missing: string): void {
  const byProtocol = new Map<string, number[]>();
  for (const s of emulator.services) byProtocol.set(s.protocol, [...(byProtocol.get(s.protocol) ?? []), s.port]);
  for (const t of example.targets) {
    t.host = emulator.services[0]?.host ?? t.host;
    for (const s of t.services) {
      const port = byProtocol.get(s.protocol)?.shift();
      if (port === undefined) throw new UsageError(missing.replace('%s', s.protocol));
      s.port = port;
    }
  }
}

export async function demoCommand(args: string[], io: Io): Promise<number> {
  const { values } = parse(args, { ...runOptions, posture: { type: 'string' }, strict: { type: 'boolean' } }, { min: 0, max: 0, names: '' });
  const { strict, posture: _p, ...runValues } = values;
  const posture = values.posture ?? 'weak';
  if (posture !== 'weak' && posture !== 'hardened') throw new UsageError('--posture must be weak or hardened');
  const exampleFile = packagePath('profiles', 'examples', `${posture}.yaml`);
  loadProfile(exampleFile); // an edited example with a mistake gets the located profile errors (exit 3)
  const example = parseYaml(fs.readFileSync(exampleFile, 'utf8')) as ExampleProfile;
  // The device is the demo's own throw-away emulator: `--allow destructive` is consent enough (a shipped profile
  // never allows destructive probes, and `run` still needs both).
  if (runValues.allow?.includes('destructive')) example.allow = [...new Set([...(example.allow ?? ['passive', 'active']), 'destructive'])];
  const pkiDir = fs.mkdtempSync(path.join(os.tmpdir(), 'iacs-demo-lab-'));
  const held: (() => Promise<void>)[] = [];
  const release = () => Promise.all(held.splice(0).map((free) => free()));
  let emulator: Emulator;
  try {
    const auditSink = example.lab ? await demoLab(example.lab, pkiDir, held) : undefined;
    emulator = await startEmulator(posture, { ephemeralPorts: true, ...(auditSink ? { auditSink } : {}) });
  } catch (err) {
    fs.rmSync(pkiDir, { recursive: true, force: true });
    throw err;
  } finally {
    await release(); // the run's lab services bind them next
  }
  try {
    pointExampleAt(example, emulator, `${exampleFile} declares a %s service, but the ${posture} emulator runs none`);
    // On loopback the services sit on OS-chosen ports outside any default scan list, so the scan covers
    // the emulator's own ports as well (an undeclared one among them is still judged undeclared).
    const options = toRunOptions(runValues);
    const scanPorts = options.probeInputs?.['ports.tcp']?.ports as string | undefined;
    if (scanPorts === undefined) {
      const defaults = (parseYaml(fs.readFileSync(packagePath('profiles', 'baselines', 'ports.yaml'), 'utf8')) as { levels: { 1: { defaultPorts: Record<string, string> } } }).levels[1].defaultPorts;
      const ports = [...parsePortSpec(Object.values(defaults).join(',')), ...emulator.services.map((s) => s.port)];
      options.probeInputs = { ...options.probeInputs, 'ports.tcp': { ports: formatPortSpec(ports) } };
    }
    // A lab gets a test CA from the vendor to check client-certificate validation; the demo uses the
    // emulated device's own CA for that.
    const ca = { trustedCaCertFile: path.join(emulator.workDir, 'pki', 'ca.crt'), trustedCaKeyFile: path.join(emulator.workDir, 'pki', 'ca.key') };
    if (fs.existsSync(ca.trustedCaCertFile)) {
      for (const probe of ['tls.client-certificate', 'modbus.security']) options.probeInputs = { ...options.probeInputs, [probe]: { ...ca, ...options.probeInputs?.[probe] } };
    }
    const profile = applySl(profileFromObject(example, `${path.relative(process.cwd(), exampleFile)} (demo ports)`, path.dirname(exampleFile)), runValues.sl);
    const withManual = withAttestations(options, values.attest, profile, io);
    io.err.write(`Emulated PLC (${posture} posture) on ${emulator.services.map((s) => `${s.protocol}:${s.port}`).join(', ')}\n`);
    const code = await runWithConsole(profile, { ...withManual, commandLine: { command: 'demo', posture, ...options.commandLine } }, io);
    if (code === 1 && strict !== true) {
      io.err.write('Requirements failed as expected for this posture (`iacs-probe run` would exit 1; --strict to get that here).\n');
      return 0;
    }
    return code;
  } finally {
    await emulator.close();
    fs.rmSync(pkiDir, { recursive: true, force: true });
  }
}
