import { expect } from 'chai';
import { startEmulator, type Emulator } from '../../src/emulator';
import { encodeFrame, modbusAnswersNormally, modbusCheckRequest, sendModbusCase } from '../../src/protocols/modbus';
import { modbusPosture } from '../helpers/modbus';

/** FC16 write multiple registers at 100 with quantity 0 and byte count 0: the frame the weak stack crashes on. */
const ZERO_QUANTITY = encodeFrame({ transactionId: 1, unitId: 1, pdu: Buffer.from([0x10, 0x00, 0x64, 0x00, 0x00, 0x00]) });
const signal = () => AbortSignal.timeout(5000);

describe('emulator: the Modbus crash fault (crashOn)', function () {
  this.timeout(20_000);
  let device: Emulator | undefined;
  afterEach(async () => device?.close());
  const answers = async () => (await modbusAnswersNormally({ host: '127.0.0.1', port: device!.endpoint('modbus').port }, modbusCheckRequest(1, 0), 300, signal())).ok;

  it('weak: FC16 with quantity 0 drops the connection, the service refuses Modbus, and the watchdog restarts it', async () => {
    device = await startEmulator(modbusPosture('weak', { crashOn: { frame: 'fc16-zero-quantity', restartAfterMs: 800 }, counter: { periodMs: 50 } }), { ephemeralPorts: true });
    const endpoint = { host: '127.0.0.1', port: device.endpoint('modbus').port };
    expect(await answers()).to.equal(true);
    const reaction = await sendModbusCase(endpoint, ZERO_QUANTITY, 300, signal());
    expect(['close', 'reset']).to.include(reaction.kind);
    expect(await answers()).to.equal(false);
    await new Promise((r) => setTimeout(r, 1000));
    expect(await answers()).to.equal(true);
  });

  it('weak as shipped: stays down past a probe\'s default 5 s recovery (restart after 20 s)', async () => {
    const posture = modbusPosture('weak');
    expect(posture.services.modbus).to.deep.include({ crashOn: { frame: 'fc16-zero-quantity', restartAfterMs: 20000 } });
    device = await startEmulator(posture, { ephemeralPorts: true });
    await sendModbusCase({ host: '127.0.0.1', port: device.endpoint('modbus').port }, ZERO_QUANTITY, 300, signal());
    expect(await answers()).to.equal(false);
  });

  it('hardened (strict validation) with the same fault: exception 03, and it keeps answering', async () => {
    device = await startEmulator(modbusPosture('hardened', { crashOn: { frame: 'fc16-zero-quantity', restartAfterMs: null } }), { ephemeralPorts: true });
    const reaction = await sendModbusCase({ host: '127.0.0.1', port: device.endpoint('modbus').port }, ZERO_QUANTITY, 300, signal());
    expect(reaction).to.include({ kind: 'exception', detail: 'exception 3 (ILLEGAL DATA VALUE)' });
    expect(await answers()).to.equal(true);
  });
});
