import { format } from 'node:util';
import type * as NodeOpcua from 'node-opcua';

let installed = false;

/**
 * node-opcua prints warnings and errors straight to the console (self-signed certificates, short keys,
 * rejected channels: exactly what a probe provokes). Route them away from the user's terminal; set
 * IACS_OPCUA_DEBUG=1 to see them on stderr. Process-wide and idempotent (the library's loggers are
 * global).
 */
export function quietOpcuaLogs(lib: Pick<typeof NodeOpcua, 'setErrorLogger' | 'setWarningLogger'>): void {
  if (installed) return;
  installed = true;
  const sink = (data?: unknown, ...rest: unknown[]) => {
    if (process.env.IACS_OPCUA_DEBUG) process.stderr.write(`[node-opcua] ${format(data, ...rest)}\n`);
  };
  lib.setWarningLogger(sink);
  lib.setErrorLogger(sink);
}

let loading: Promise<typeof NodeOpcua> | undefined;

/**
 * node-opcua, loaded on first use: it takes a second or more to load, which only a run that talks OPC UA
 * should pay. Its loggers are routed at once: it checks RSA PKCS#1 v1.5 asynchronously when first imported
 * and warns on stdout when that is disabled (stdout carries JSON for `iacs-probe probes --json`).
 */
export function loadOpcua(): Promise<typeof NodeOpcua> {
  // require(), not import(): node-opcua is CommonJS, and its named exports must come through whole.
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  loading ??= Promise.resolve().then(() => require('node-opcua') as typeof NodeOpcua).then((lib) => {
    quietOpcuaLogs(lib);
    return lib;
  });
  return loading;
}
