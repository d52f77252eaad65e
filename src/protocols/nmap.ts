import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { XMLParser } from 'fast-xml-parser';
import { ProtocolViolation, TargetUnreachable } from '../sdk';
import { repairOpensslConf } from './child-env';

export interface NmapPort {
  port: number;
  protocol: 'tcp' | 'udp';
  state: string;
  service?: string;
  product?: string;
  version?: string;
  /** How nmap named the service: "table" (port number convention) or "probed" (-sV). */
  method?: string;
}

export interface NmapScan {
  version: string;
  args: string;
  xml: string;
  hostUp: boolean;
  ports: NmapPort[];
}

/** The nmap binary on PATH, if installed. */
export function findNmap(): string | undefined {
  for (const dir of (process.env.PATH ?? '').split(path.delimiter).concat(['/usr/bin', '/usr/local/bin'])) {
    const candidate = path.join(dir, 'nmap');
    try {
      fs.accessSync(candidate, fs.constants.X_OK);
      return candidate;
    } catch {
      // not here
    }
  }
  return undefined;
}

const parser = new XMLParser({ ignoreAttributes: false, attributeNamePrefix: '', isArray: (name) => ['host', 'port', 'address', 'extraports'].includes(name) });

interface XmlPort { protocol: string; portid: string; state?: { state: string }; service?: { name?: string; product?: string; version?: string; method?: string } }
interface XmlRun { nmaprun?: { version?: string; args?: string; host?: { status?: { state: string }; ports?: { port?: XmlPort[] } }[] } }

/** Parses nmap's -oX output (one host). */
export function parseNmapXml(xml: string): Omit<NmapScan, 'xml'> {
  const doc = parser.parse(xml) as XmlRun;
  const run = doc.nmaprun;
  if (!run) throw new ProtocolViolation('nmap produced no <nmaprun> document');
  const host = run.host?.[0];
  return {
    version: run.version ?? 'unknown',
    args: run.args ?? '',
    hostUp: host?.status?.state === 'up',
    ports: (host?.ports?.port ?? []).map((p) => ({
      port: Number(p.portid),
      protocol: p.protocol === 'udp' ? 'udp' : 'tcp',
      state: p.state?.state ?? 'unknown',
      service: p.service?.name,
      product: p.service?.product,
      version: p.service?.version,
      method: p.service?.method,
    })),
  };
}

/**
 * Runs nmap against one host with the given arguments and `-oX -`, killing it when the signal aborts.
 * The host is the last argument; callers pass only hosts of the profile (the scope guard does not see
 * child processes).
 */
export function runNmap(binary: string, args: readonly string[], host: string, signal: AbortSignal): Promise<NmapScan> {
  return new Promise((resolve, reject) => {
    if (signal.aborted) return reject(signal.reason);
    const fullArgs = [...args, '-oX', '-', '--', host];
    repairOpensslConf();
    const child = spawn(binary, fullArgs, { stdio: ['ignore', 'pipe', 'pipe'] });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    child.stdout.on('data', (d: Buffer) => out.push(d));
    child.stderr.on('data', (d: Buffer) => err.push(d));
    let killTimer: NodeJS.Timeout | undefined;
    const onAbort = () => {
      child.kill('SIGTERM');
      killTimer = setTimeout(() => child.kill('SIGKILL'), 2000);
    };
    signal.addEventListener('abort', onAbort, { once: true });
    child.once('error', (e) => {
      signal.removeEventListener('abort', onAbort);
      reject(e);
    });
    child.once('close', (code) => {
      clearTimeout(killTimer);
      signal.removeEventListener('abort', onAbort);
      if (signal.aborted) return reject(signal.reason);
      const xml = Buffer.concat(out).toString('utf8');
      const stderr = Buffer.concat(err).toString('utf8').trim();
      if (code !== 0) {
        const msg = `nmap exited with ${code}: ${stderr.split('\n')[0] ?? ''}`;
        return reject(/resolve|Failed to resolve/i.test(stderr) ? new TargetUnreachable(msg) : new ProtocolViolation(msg));
      }
      try {
        resolve({ ...parseNmapXml(xml), xml });
      } catch (e) {
        reject(e);
      }
    });
  });
}
