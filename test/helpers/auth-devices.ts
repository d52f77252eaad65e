import { loadPosture, startEmulator, type Emulator, type Posture } from '../../src/emulator';
import type { DevicePolicy } from '../../src/sdk';
import type { ProbeRunOptions } from './probe-harness';
import { BENCH_CLIENT } from './opcua';

/**
 * Emulated devices for the authentication probes: the built-in weak and hardened postures with only the
 * service under test, and the hardened times shortened so lockout and idle tests stay fast (lockout 1 s,
 * idle sessions ended after 1 s).
 */

export type AuthService = 'ssh' | 'opcua' | 'https';

export const LOCKOUT_SECONDS = 1;
export const IDLE_SECONDS = 1;

const SHORT: Record<AuthService, Record<string, unknown>> = {
  ssh: { idleTimeoutSeconds: IDLE_SECONDS },
  opcua: { sessionTimeoutSeconds: IDLE_SECONDS },
  https: { sessionSeconds: IDLE_SECONDS },
};

export function authPosture(name: 'weak' | 'hardened', service: AuthService, patch: Record<string, unknown> = {}): Posture {
  const base = loadPosture(name);
  const hardened = name === 'hardened';
  return {
    ...base,
    ...(hardened ? { lockout: { threshold: 3, durationSeconds: LOCKOUT_SECONDS, scope: 'user' as const } } : {}),
    services: { [service]: { ...base.services[service], ...(hardened ? SHORT[service] : {}), ...patch } },
  };
}

export const WEAK_ADMIN = { username: 'admin', password: 'admin' };
export const OPERATOR = { username: 'operator', password: 'Op3rator!Bench-2026' };
export const ENGINEER = { username: 'engineer', password: 'Eng1neer!Bench-2026' };

/** What the profile documents for the test devices (the weak device does not do what it says). */
export const POLICY: DevicePolicy = {
  lockout: { threshold: 3, durationSeconds: LOCKOUT_SECONDS, scope: 'user' },
  sessions: { maxConcurrent: 2, idleTimeoutSeconds: IDLE_SECONDS },
};

export interface AuthDevices {
  weak(): Emulator;
  hardened(): Emulator;
}

/** Starts the weak and hardened device with one service once for the current describe. */
export function useAuthDevices(service: AuthService, patches: { weak?: Record<string, unknown>; hardened?: Record<string, unknown> } = {}): AuthDevices {
  let weak: Emulator | undefined;
  let hardened: Emulator | undefined;
  before(async () => {
    [weak, hardened] = await Promise.all([
      startEmulator(authPosture('weak', service, patches.weak), { ephemeralPorts: true }),
      startEmulator(authPosture('hardened', service, patches.hardened), { ephemeralPorts: true }),
    ]);
  });
  after(async () => {
    await Promise.all([weak?.close(), hardened?.close()]);
  });
  const get = (e: Emulator | undefined, n: string) => {
    if (!e) throw new Error(`the ${n} emulator did not start`);
    return e;
  };
  return { weak: () => get(weak, 'weak'), hardened: () => get(hardened, 'hardened') };
}

export type Interface = 'ssh' | 'opcua' | 'http-form' | 'http-basic';

/** The declared service for an interface of an emulator. */
export function serviceOf(emulator: Emulator, iface: Interface): NonNullable<ProbeRunOptions<unknown>['service']> {
  const hardened = emulator.posture.name === 'hardened';
  switch (iface) {
    case 'ssh': return { port: emulator.endpoint('ssh').port, protocol: 'ssh' };
    case 'opcua': return { port: emulator.endpoint('opcua').port, protocol: 'opcua', options: hardened ? BENCH_CLIENT : {} };
    case 'http-form': return { port: emulator.endpoint('https').port, protocol: 'https' };
    case 'http-basic': return { port: emulator.endpoint('https').port, protocol: 'https', options: { auth: { mode: 'basic', path: '/admin' } } };
  }
}

/** The credentials key of an interface ("http" for both HTTP modes). */
export function keyOf(iface: Interface): 'ssh' | 'opcua' | 'http' {
  return iface.startsWith('http') ? 'http' : (iface as 'ssh' | 'opcua');
}

/** What the lockout probes observe (names fixed by ARCHITECTURE.md, plus the probe's own). */
export interface LockoutObservations {
  attempts: number;
  lockedAfter: number | null;
  validLoginDeniedWhileLocked: boolean | null;
  unlockedAfterSeconds: number | null;
  scope: string | null;
  accountVerifiedAfter: boolean;
  interface: string;
}
