import { pathToFileURL } from 'node:url';

/**
 * node-opcua-crypto (readPrivateKey) saves and restores process.env.OPENSSL_CONF around key parsing; when
 * the variable was unset, the restore writes the string "undefined", and every OpenSSL-linked child
 * started afterwards (nmap, openssl) fails to open a config file named "undefined". Call this before
 * starting such a child, and after node-opcua work.
 */
export function repairOpensslConf(): void {
  if (process.env.OPENSSL_CONF === 'undefined') delete process.env.OPENSSL_CONF;
}

/** The Node flag that re-enables RSA PKCS#1 v1.5 decryption (OPC UA Basic128Rsa15) in one process only. */
export const PKCS1V15_REVERT_FLAG = '--security-revert=CVE-2023-46809';

/**
 * Command-line arguments that start `entry` (a module of this package) in a new Node process with `flags`.
 * Sources (.ts, tests and unbuilt checkouts) run through tsx, located from this package, so the working
 * directory does not matter; a build runs as plain JavaScript.
 */
export function nodeChildArgs(entry: string, flags: readonly string[] = []): string[] {
  const loader = entry.endsWith('.ts') ? ['--import', pathToFileURL(require.resolve('tsx')).href] : [];
  return [...flags, ...loader, entry];
}
