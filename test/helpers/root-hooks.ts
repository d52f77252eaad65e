import { repairOpensslConf } from '../../src/protocols/child-env';

/** Mocha root hooks for the whole suite. */
export const mochaHooks = {
  // node-opcua leaves OPENSSL_CONF="undefined" in process.env after reading a key (see child-env.ts);
  // tests that start openssl, sshd or snmpd afterwards would inherit it.
  beforeEach(): void {
    repairOpensslConf();
  },
  afterEach(): void {
    repairOpensslConf(); // before the next describe's before() hooks too
  },
};
