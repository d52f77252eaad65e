import { repairOpensslConf } from '../../src/protocols/child-env';

/**
 * Listener leaks show as Node's MaxListenersExceededWarning (more than 10 'abort' listeners on one signal:
 * a listener added per request and never removed). Any test during which one is emitted fails.
 */
const leakWarnings: string[] = [];
process.on('warning', (warning) => {
  if (warning.name === 'MaxListenersExceededWarning') leakWarnings.push(warning.message);
});

/** Mocha root hooks for the whole suite. */
export const mochaHooks = {
  // node-opcua leaves OPENSSL_CONF="undefined" in process.env after reading a key (see child-env.ts);
  // tests that start openssl, sshd or snmpd afterwards would inherit it.
  beforeEach(): void {
    repairOpensslConf();
    leakWarnings.length = 0;
  },
  afterEach(this: Mocha.Context): void {
    repairOpensslConf(); // before the next describe's before() hooks too
    if (leakWarnings.length > 0) {
      const found = leakWarnings.splice(0);
      (this.test as Mocha.Hook | undefined)?.error(new Error(`listener leak during this test: ${found.join("; ")}`));
    }
  },
};
