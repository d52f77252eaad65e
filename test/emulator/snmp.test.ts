import { expect } from 'chai';
import { startEmulator } from '../../src/emulator';
import { EMULATOR_OIDS, messageVersion } from '../../src/emulator/services/snmp';
import { OIDS, discoverV3, tryAccess, withSnmp } from '../../src/protocols/snmp';
import { handleSnapshot } from '../helpers/leaks';

const opts = () => ({ timeoutMs: 300, retries: 0, signal: new AbortController().signal });
const OPERATOR = { name: 'operator', authProtocol: 'sha' as const, authKey: 'Op3rator!Bench-2026', privProtocol: 'aes' as const, privKey: 'Op3rator!Bench-2026' };

describe('emulator: SNMP agent', () => {
  it('weak posture: v1/v2c public (read-only) and private (read-write), no v3, and the socket is closed on close()', async () => {
    const handles = await handleSnapshot();
    const emu = await startEmulator('weak', { ephemeralPorts: true });
    const ep = emu.endpoint('snmp');
    for (const version of ['v1', 'v2c'] as const) {
      const pub = await tryAccess(ep, { version, community: 'public' }, opts());
      expect(pub.result, version).to.equal('response');
    }
    expect((await tryAccess(ep, { version: 'v2c', community: 'wrong' }, opts())).result).to.equal('no-answer');
    let v3Error: unknown;
    await discoverV3(ep, opts()).catch((e: unknown) => { v3Error = e; });
    expect(v3Error).to.have.property('name', 'TargetTimeout');
    const write = (community: string) => withSnmp(ep, { version: 'v2c', community }, opts(),
      (c) => c.set([{ oid: EMULATOR_OIDS.testValue, type: 'OctetString', value: `by-${community}` }]));
    expect((await write('public')).errorStatus).to.equal('NoAccess');
    expect((await write('private')).errorStatus).to.equal('NoError');
    const after = await withSnmp(ep, { version: 'v1', community: 'public' }, opts(), (c) => c.get([EMULATOR_OIDS.testValue, OIDS.sysDescr, OIDS.sysObjectID]));
    expect(after.varbinds.map((v) => v.value)).to.deep.equal(['by-private', 'Example Automation EPLC-1 firmware 1.0.0', EMULATOR_OIDS.sysObjectID]);
    await emu.close();
    await handles.check();
  });

  it('hardened posture: v3 only, operator at authPriv (SHA/AES) and read-only; engine ID carries the serial', async () => {
    const handles = await handleSnapshot();
    const emu = await startEmulator('hardened', { ephemeralPorts: true });
    const ep = emu.endpoint('snmp');
    expect((await tryAccess(ep, { version: 'v2c', community: 'public' }, opts())).result).to.equal('no-answer');
    const discovery = await discoverV3(ep, opts());
    expect(discovery.engine).to.include({ enterprise: 32473, format: 'text', data: 'SN-HARD-0001' });
    expect(discovery.unknownUser).to.equal('report-unknown-user');
    const at = async (level: 'noAuthNoPriv' | 'authNoPriv' | 'authPriv') => tryAccess(ep, { version: 'v3', user: { ...OPERATOR, level } }, opts());
    expect((await at('noAuthNoPriv')).result).to.equal('report');
    expect((await at('authNoPriv')).result).to.equal('report');
    expect((await at('authPriv')).result).to.equal('response');
    const set = await withSnmp(ep, { version: 'v3', user: { ...OPERATOR, level: 'authPriv' } }, opts(),
      (c) => c.set([{ oid: EMULATOR_OIDS.testValue, type: 'OctetString', value: 'x' }]));
    expect(set.errorStatus).to.equal('NoAccess');
    await emu.close();
    await handles.check();
  });

  it('entityMib: false removes ENTITY-MIB; sysUpTime advances', async () => {
    const emu = await startEmulator({ name: 'x', services: { snmp: { communities: { public: 'read-only' }, entityMib: false, sysName: 'bench-1' } } }, { ephemeralPorts: true });
    try {
      const ep = emu.endpoint('snmp');
      await withSnmp(ep, { version: 'v2c', community: 'public' }, opts(), async (c) => {
        expect((await c.walk(OIDS.entPhysicalEntry, 10)).values).to.deep.equal([]);
        expect((await c.get([OIDS.sysName])).varbinds[0].value).to.equal('bench-1');
        const t1 = (await c.get([OIDS.sysUpTime])).varbinds[0].value as number;
        await new Promise((r) => setTimeout(r, 50));
        const t2 = (await c.get([OIDS.sysUpTime])).varbinds[0].value as number;
        expect(t2).to.be.greaterThan(t1);
      });
    } finally {
      await emu.close();
    }
  });

  it('reads the message version from the BER header', () => {
    expect(messageVersion(Buffer.from('302902010004067075626c6963a01c', 'hex'))).to.equal(0);
    expect(messageVersion(Buffer.from('303a020103300f', 'hex'))).to.equal(3);
    expect(messageVersion(Buffer.from('3081ff020101', 'hex'))).to.equal(1);
    expect(messageVersion(Buffer.from('garbage'))).to.equal(undefined);
  });
});
