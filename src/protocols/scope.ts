import * as dgram from 'node:dgram';
import * as dns from 'node:dns';
import * as net from 'node:net';
import { OutOfScope } from '../sdk';

/**
 * Process-wide scope guard (installed by the runner for a run, and by helper processes that talk to a
 * device on its behalf). While a run is active, every outgoing TCP connection and UDP datagram made
 * through Node's net/tls/dgram (including those made inside node-opcua, ssh2, modbus-serial, net-snmp)
 * is checked against the hosts the profile declares. Anything else fails with OutOfScope before a
 * packet leaves, and the attempt is recorded, so a library that follows a redirect or an OPC UA
 * endpoint URL to another host cannot reach outside the declared scope.
 */

export interface ScopeViolation {
  host: string;
  port?: number;
  at: string;
}

interface ActiveScope {
  readonly allowed: ReadonlySet<string>;
  readonly violations: ScopeViolation[];
}

const active = new Set<ActiveScope>();
let originals: {
  connect: typeof net.Socket.prototype.connect;
  send: typeof dgram.Socket.prototype.send;
  dconnect: typeof dgram.Socket.prototype.connect;
} | undefined;

/** Normalises host spellings so "127.0.0.1", "::ffff:127.0.0.1" and "[::1]" compare as expected. */
export function normalizeHost(host: string): string {
  let h = host.trim().toLowerCase();
  if (h.startsWith('[') && h.endsWith(']')) h = h.slice(1, -1);
  if (h.startsWith('::ffff:') && net.isIPv4(h.slice(7))) h = h.slice(7);
  return h;
}

function isAllowed(host: string): boolean {
  const h = normalizeHost(host);
  for (const scope of active) if (scope.allowed.has(h)) return true;
  return false;
}

function record(host: string, port: number | undefined): void {
  const v = { host, port, at: new Date().toISOString() };
  for (const scope of active) scope.violations.push(v);
}

/**
 * The hosts and addresses an active scope allows, when it allows `host`: what a helper process that talks to
 * `host` on this run's behalf must allow too (the plan-time addresses of a host name, not a fresh lookup).
 */
export function scopeOf(host: string): string[] | undefined {
  const h = normalizeHost(host);
  for (const scope of active) if (scope.allowed.has(h)) return [...scope.allowed];
  return undefined;
}

/** Records a refusal made on this run's behalf in a helper process (it has a guard of its own). */
export function recordScopeViolation(host: string, port?: number): void {
  record(host, port);
}

interface ConnectOptions { host?: string; path?: string; port?: number | string; lookup?: unknown }

function connectTarget(args: unknown[]): ConnectOptions {
  const first = Array.isArray(args[0]) ? (args[0] as unknown[])[0] : args[0]; // net.connect passes normalized args
  if (first !== null && typeof first === 'object') return first as ConnectOptions;
  if (typeof first === 'string' && !/^\d+$/.test(first)) return { path: first };
  return { port: first as number, host: typeof args[1] === 'string' ? args[1] : undefined };
}

/** A lookup that refuses names resolving to addresses outside the scope (DNS rebinding). */
function guardedLookup(hostname: string, options: dns.LookupOptions, callback: (...a: unknown[]) => void): void {
  dns.lookup(hostname, { ...options, all: true }, (err, addresses) => {
    if (err) return callback(err);
    const allowed = addresses.filter((a) => isAllowed(a.address));
    if (allowed.length === 0) {
      record(hostname, undefined);
      return callback(new OutOfScope(`${hostname} resolves to ${addresses.map((a) => a.address).join(', ')}, outside the declared scope`));
    }
    if (options.all) return callback(null, allowed);
    return callback(null, allowed[0].address, allowed[0].family);
  });
}

function isConnected(socket: dgram.Socket): boolean {
  try {
    socket.remoteAddress();
    return true;
  } catch {
    return false;
  }
}

function install(): void {
  if (originals) return;
  originals = {
    connect: net.Socket.prototype.connect,
    send: dgram.Socket.prototype.send,
    dconnect: dgram.Socket.prototype.connect,
  };
  const o = originals;
  net.Socket.prototype.connect = function guardedConnect(this: net.Socket, ...args: unknown[]) {
    const target = connectTarget(args);
    if (target.path === undefined) {
      const host = target.host ?? 'localhost';
      if (!isAllowed(host)) {
        record(host, Number(target.port));
        process.nextTick(() => this.destroy(new OutOfScope(`connection to ${host}:${String(target.port)} refused: not a host of the profile`)));
        return this;
      }
      if (!net.isIP(normalizeHost(host)) && target.lookup === undefined) {
        target.lookup = guardedLookup;
      }
    }
    return (o.connect as (...a: unknown[]) => net.Socket).apply(this, args);
  } as typeof net.Socket.prototype.connect;

  dgram.Socket.prototype.send = function guardedSend(this: dgram.Socket, ...args: unknown[]) {
    const address = args.slice(1).find((a): a is string => typeof a === 'string');
    if (!isConnected(this)) {
      const host = address ?? 'localhost';
      if (!isAllowed(host)) {
        record(host, undefined);
        const cb = args[args.length - 1];
        const err = new OutOfScope(`datagram to ${host} refused: not a host of the profile`);
        if (typeof cb === 'function') process.nextTick(() => (cb as (e: Error) => void)(err));
        else process.nextTick(() => this.emit('error', err));
        return;
      }
    }
    (o.send as (...a: unknown[]) => void).apply(this, args);
  } as typeof dgram.Socket.prototype.send;

  dgram.Socket.prototype.connect = function guardedDgramConnect(this: dgram.Socket, ...args: unknown[]) {
    const host = typeof args[1] === 'string' ? args[1] : 'localhost';
    if (!isAllowed(host)) {
      record(host, Number(args[0]));
      throw new OutOfScope(`UDP connect to ${host} refused: not a host of the profile`);
    }
    (o.dconnect as (...a: unknown[]) => void).apply(this, args);
  } as typeof dgram.Socket.prototype.connect;
}

function uninstall(): void {
  if (!originals) return;
  net.Socket.prototype.connect = originals.connect;
  dgram.Socket.prototype.send = originals.send;
  dgram.Socket.prototype.connect = originals.dconnect;
  originals = undefined;
}

export interface ScopeHandle {
  readonly violations: readonly ScopeViolation[];
  isAllowed(host: string): boolean;
  release(): void;
}

/** Activates a scope (the hosts and addresses of a profile) until `release()`. Scopes nest. */
export function enterScope(hosts: Iterable<string>): ScopeHandle {
  const scope: ActiveScope = { allowed: new Set([...hosts].map(normalizeHost)), violations: [] };
  active.add(scope);
  install();
  return {
    violations: scope.violations,
    isAllowed: (host) => scope.allowed.has(normalizeHost(host)),
    release: () => {
      active.delete(scope);
      if (active.size === 0) uninstall();
    },
  };
}
