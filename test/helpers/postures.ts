import { startEmulator, type Emulator } from '../../src/emulator';

/**
 * Registers before/after hooks in the current `describe` that start the weak and the hardened emulator
 * once (ephemeral ports) and close them afterwards; read them inside tests with `weak()` / `hardened()`.
 */
export function useBothPostures(): { weak(): Emulator; hardened(): Emulator } {
  let weak: Emulator | undefined;
  let hardened: Emulator | undefined;
  before(async () => {
    [weak, hardened] = await Promise.all([startEmulator('weak', { ephemeralPorts: true }), startEmulator('hardened', { ephemeralPorts: true })]);
  });
  after(async () => {
    await Promise.all([weak?.close(), hardened?.close()]);
  });
  const get = (e: Emulator | undefined, name: string) => {
    if (!e) throw new Error(`the ${name} emulator did not start`);
    return e;
  };
  return { weak: () => get(weak, 'weak'), hardened: () => get(hardened, 'hardened') };
}
