import { format } from 'node:util';
import { setErrorLogger, setWarningLogger } from 'node-opcua';

let installed = false;

/**
 * node-opcua prints warnings and errors straight to the console (self-signed certificates, short keys,
 * rejected channels: exactly what a probe provokes). Route them away from the user's terminal; set
 * IACS_OPCUA_DEBUG=1 to see them on stderr. Process-wide and idempotent (the library's loggers are
 * global).
 */
export function quietOpcuaLogs(): void {
  if (installed) return;
  installed = true;
  const sink = (data?: unknown, ...rest: unknown[]) => {
    if (process.env.IACS_OPCUA_DEBUG) process.stderr.write(`[node-opcua] ${format(data, ...rest)}\n`);
  };
  setWarningLogger(sink);
  setErrorLogger(sink);
}

// node-opcua checks RSA PKCS#1 v1.5 asynchronously when it is first imported and warns on stdout when
// it is disabled (stdout carries JSON for `iacs-probe probes --json`): install the routing on import.
quietOpcuaLogs();
