import * as dgram from 'node:dgram';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as path from 'node:path';
import type { ActionLog, ActionRecord, SecurityAction } from '../sdk';

/** The run's action log file in the evidence folder. */
export const ACTIONS_FILE = 'actions.ndjson';

/** Where an attempt's actions come from: the probe and the interface it used. */
export interface ActionOrigin {
  readonly probe: string;
  readonly host: string;
  readonly port?: number;
  readonly interface: string;
}

/**
 * The run-wide action log: kept in memory for the audit probes and appended to actions.ndjson (synchronously:
 * the file survives a crash like the journal). `redact` is the store's value redaction (a detail never carries
 * a password, but the safety net applies here as everywhere in the folder).
 */
export class RunActionLog {
  private readonly records: ActionRecord[] = [];
  private readonly sources = new Map<string, string>();

  constructor(
    private readonly file?: string, private readonly redact: <T>(value: T) => T = (v) => v,
    /** Told of every record as it is added (the runner's lockout records follow failed logins). */
    private readonly onRecord?: (record: ActionRecord) => void,
  ) {}

  static inFolder(dir: string, redact?: <T>(value: T) => T, onRecord?: (record: ActionRecord) => void): RunActionLog {
    return new RunActionLog(path.join(dir, ACTIONS_FILE), redact, onRecord);
  }

  /**
   * Learns our source address toward each host (a UDP socket "connected" to it: the kernel picks the route;
   * no datagram is sent), so that actions name the address the device sees in its log.
   */
  async learnSources(hosts: readonly { host: string; addresses: readonly string[] }[]): Promise<void> {
    for (const h of hosts) {
      const address = h.addresses[0] ?? (net.isIP(h.host) ? h.host : undefined);
      if (!address) continue;
      const source = await localAddressToward(address).catch(() => undefined);
      if (source) this.sources.set(h.host, source);
    }
  }

  /** The API one attempt gets as `ctx.actions`. */
  forAttempt(origin: ActionOrigin): ActionLog {
    return { record: (action) => this.add(origin, action), list: () => this.records };
  }

  list(): readonly ActionRecord[] {
    return this.records;
  }

  private add(origin: ActionOrigin, action: SecurityAction): void {
    const atMs = action.at ?? Date.now();
    const source = this.sources.get(origin.host);
    const record: ActionRecord = this.redact({
      seq: this.records.length + 1, at: new Date(atMs).toISOString(), atMs, kind: action.kind, probe: origin.probe, host: origin.host,
      ...(action.via ? { port: action.via.port, interface: action.via.protocol } : {
        ...(origin.port !== undefined ? { port: origin.port } : {}), interface: origin.interface,
      }), ...(source ? { source } : {}),
      ...(action.account !== undefined ? { account: action.account } : {}), ...(action.detail ? { detail: action.detail } : {}),
    });
    this.records.push(record);
    if (this.file) fs.appendFileSync(this.file, JSON.stringify(record) + '\n');
    this.onRecord?.(record);
  }
}

/** The local address the kernel would use toward `address` (no packet leaves: UDP connect only sets the route). */
export function localAddressToward(address: string): Promise<string> {
  const socket = dgram.createSocket(net.isIPv6(address) ? 'udp6' : 'udp4');
  return new Promise<string>((resolve, reject) => {
    socket.once('error', (err) => {
      socket.close();
      reject(err);
    });
    socket.connect(9, address, () => {
      const local = socket.address().address;
      socket.close();
      resolve(local);
    });
  });
}
