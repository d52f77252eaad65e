import { loadPosture, startEmulator, type Emulator, type Posture } from '../../src/emulator';

/**
 * Registers before/after hooks in the current `describe` that start the weak and the hardened emulator
 * once (ephemeral ports) and close them afterwards; read them inside tests with `weak()` / `hardened()`.
 */
export function useBothPostures(): { weak(): Emulator; hardened(): Emulator } {
  let weak: Emulator | undefined;
  let hardened: Emulator | undefined;
  let starting: Promise<Emulator[]> | undefined;
  before(async function () {
    this.timeout(60_000); // both full postures, each with an OPC UA helper process: slow on a busy machine
    starting = Promise.all([startEmulator('weak', { ephemeralPorts: true }), startEmulator('hardened', { ephemeralPorts: true })]);
    [weak, hardened] = await starting;
  });
  after(async function () {
    this.timeout(60_000);
    // Also when before() timed out: the emulators it was still starting must not keep mocha's process alive.
    const started = await starting?.catch(() => [] as Emulator[]);
    await Promise.all((started ?? []).map((e) => e.close()));
  });
  const get = (e: Emulator | undefined, name: string) => {
    if (!e) throw new Error(`the ${name} emulator did not start`);
    return e;
  };
  return { weak: () => get(weak, 'weak'), hardened: () => get(hardened, 'hardened') };
}

/**
 * A built-in posture with only some of its services (the rest off): a test starts what it talks to. The
 * weak posture's OPC UA server, for one, runs in a helper process that loads node-opcua (seconds on a busy
 * machine), which an SNMP or TLS test has no use for.
 */
export function postureWith(name: 'weak' | 'hardened', services: readonly string[], patch: Partial<Posture> = {}): Posture {
  const base = loadPosture(name);
  const missing = services.filter((s) => !base.services[s]);
  if (missing.length > 0) throw new Error(`the ${name} posture has no ${missing.join(', ')} service`);
  return { ...base, ...patch, services: Object.fromEntries(services.map((s) => [s, base.services[s]])) };
}
