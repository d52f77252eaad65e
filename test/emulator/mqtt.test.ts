import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { expect } from 'chai';
import { startEmulator, type Emulator } from '../../src/emulator';
import { filterCovers } from '../../src/emulator/services/mqtt-broker';
import { findExecutable, requirePeer } from '../helpers/peers';
import { mqttPosture } from '../helpers/mqtt';

const run = promisify(execFile);

/** mosquitto_sub / mosquitto_pub (package mosquitto-clients): exit code, stdout and stderr, never throwing. */
async function client(ctx: Mocha.Context, tool: 'mosquitto_sub' | 'mosquitto_pub', args: string[]): Promise<{ code: number; out: string }> {
  const binary = requirePeer(ctx, tool, findExecutable(tool), 'package mosquitto-clients');
  try {
    const { stdout, stderr } = await run(binary, args, { timeout: 15_000 });
    return { code: 0, out: stdout + stderr };
  } catch (err) {
    const e = err as { code?: number; stdout?: string; stderr?: string };
    return { code: typeof e.code === 'number' ? e.code : -1, out: `${e.stdout ?? ''}${e.stderr ?? ''}` };
  }
}

describe('emulator: mqtt service (checked with mosquitto_sub and mosquitto_pub)', function () {
  this.timeout(60_000);
  let weak: Emulator;
  let hardened: Emulator;
  before(async () => {
    [weak, hardened] = await Promise.all([startEmulator(mqttPosture('weak'), { ephemeralPorts: true }), startEmulator(mqttPosture('hardened'), { ephemeralPorts: true })]);
  });
  after(async () => {
    await Promise.all([weak?.close(), hardened?.close()]);
  });

  const tlsArgs = () => ['-p', String(hardened.services.find((s) => s.tls)!.port), '--cafile', `${hardened.workDir}/pki/ca.crt`];

  it('weak: one plain listener; anonymous mosquitto_sub (3.1.1 and 5.0) reads the retained plant topics and $SYS/broker/version', async function () {
    expect(weak.services).to.deep.equal([{ protocol: 'mqtt', host: '127.0.0.1', port: weak.endpoint('mqtt').port }]);
    for (const version of ['mqttv311', 'mqttv5']) {
      const r = await client(this, 'mosquitto_sub', ['-h', '127.0.0.1', '-p', String(weak.endpoint('mqtt').port), '-V', version, '-t', '#', '-t', '$SYS/broker/version', '-v', '-C', '4', '-W', '5']);
      expect(r.code, r.out).to.equal(0);
      expect(r.out).to.include('plant/line1/status running').and.include('$SYS/broker/version EPLC-1 MQTT broker 1.0.0');
    }
  });

  it('weak: a message from mosquitto_pub reaches a mosquitto_sub subscriber (no ACL)', async function () {
    const port = String(weak.endpoint('mqtt').port);
    const sub = client(this, 'mosquitto_sub', ['-h', '127.0.0.1', '-p', port, '-t', 'plant/line1/command', '-C', '1', '-W', '5']);
    await new Promise((r) => setTimeout(r, 500)); // let the subscription reach the broker first
    const pub = await client(this, 'mosquitto_pub', ['-h', '127.0.0.1', '-p', port, '-t', 'plant/line1/command', '-m', 'stop']);
    expect(pub.code, pub.out).to.equal(0);
    expect((await sub).out.trim()).to.equal('stop');
  });

  it('hardened: the plain port refuses anonymous clients and valid users ("not authorised")', async function () {
    const port = String(hardened.endpoint('mqtt').port);
    const anonymous = await client(this, 'mosquitto_sub', ['-h', '127.0.0.1', '-p', port, '-t', '#', '-C', '1', '-W', '3']);
    expect(anonymous.code).to.not.equal(0);
    expect(anonymous.out).to.match(/not authori[sz]ed/i);
    const user = await client(this, 'mosquitto_sub', ['-h', '127.0.0.1', '-p', port, '-u', 'operator', '-P', 'Op3rator!Bench-2026', '-t', 'plant/#', '-C', '1', '-W', '3']);
    expect(user.out).to.match(/not authori[sz]ed/i);
  });

  it('hardened TLS: the operator reads plant/# but is refused # (SUBACK failure) and may not write plant/line1/status', async function () {
    const base = ['-h', '127.0.0.1', ...tlsArgs(), '-u', 'operator', '-P', 'Op3rator!Bench-2026'];
    const plant = await client(this, 'mosquitto_sub', [...base, '-t', 'plant/#', '-v', '-C', '3', '-W', '5']);
    expect(plant.code, plant.out).to.equal(0);
    expect(plant.out).to.include('plant/line1/setpoint 70.0');
    const all = await client(this, 'mosquitto_sub', [...base, '-V', 'mqttv5', '-t', '#', '-C', '1', '-W', '3', '-d']);
    expect(all.out).to.include('Subscribed (mid: 1): 135').and.include('All subscription requests were denied');
    // QoS 1 in MQTT 5.0: PUBACK carries the broker's refusal (0x87).
    const write = await client(this, 'mosquitto_pub', [...base, '-V', 'mqttv5', '-q', '1', '-t', 'plant/line1/status', '-m', 'stopped', '-d']);
    expect(write.out).to.include('received PUBACK (Mid: 1, RC:135)').and.match(/Publish 1 failed: Not authorized/);
  });

  it('hardened TLS: a wrong password is refused and, after three, the right one too (shared lockout)', async function () {
    const base = ['-h', '127.0.0.1', ...tlsArgs(), '-t', 'plant/#', '-C', '1', '-W', '3', '-u', 'engineer'];
    for (let i = 0; i < 3; i++) expect((await client(this, 'mosquitto_sub', [...base, '-P', 'wrong'])).out).to.match(/not authori[sz]ed|bad user name or password/i);
    const locked = await client(this, 'mosquitto_sub', [...base, '-P', 'Eng1neer!Bench-2026']);
    expect(locked.code).to.not.equal(0);
    expect(locked.out).to.match(/not authori[sz]ed|bad user name or password/i);
  });

  it('ACL filters: an ACL filter covers a requested one only when it matches every topic the requested one does', () => {
    expect(filterCovers('plant/#', 'plant/line1/+')).to.equal(true);
    expect(filterCovers('plant/+/status', 'plant/line1/status')).to.equal(true);
    expect(filterCovers('plant/#', '#')).to.equal(false);
    expect(filterCovers('plant/+/status', 'plant/#')).to.equal(false);
    expect(filterCovers('#', '$SYS/#')).to.equal(false);
    expect(filterCovers('$SYS/#', '$SYS/broker/version')).to.equal(true);
  });
});
