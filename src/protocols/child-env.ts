/**
 * node-opcua-crypto (readPrivateKey) saves and restores process.env.OPENSSL_CONF around key parsing; when
 * the variable was unset, the restore writes the string "undefined", and every OpenSSL-linked child
 * started afterwards (nmap, openssl) fails to open a config file named "undefined". Call this before
 * starting such a child, and after node-opcua work.
 */
export function repairOpensslConf(): void {
  if (process.env.OPENSSL_CONF === 'undefined') delete process.env.OPENSSL_CONF;
}
