import { expect } from 'chai';
import * as net from 'node:net';
import {
  Client, utils, type Algorithms, type ConnectConfig, type KeyboardInteractiveAuthMethod, type KeyboardInteractiveCallback, type Prompt,
} from 'ssh2';
import { startEmulator, type Posture } from '../../src/emulator';
import { describeHostKey, passwordLogin, tryNoneAuth } from '../../src/protocols/ssh';
import { handleSnapshot } from '../helpers/leaks';
import { postureWith, useBothPostures } from '../helpers/postures';

/** Connects a real ssh2 client; resolves with what it saw once authenticated (or rejects with the error). */
function connect(port: number, config: Partial<ConnectConfig>): Promise<{ client: Client; hostKey?: Buffer; banner?: string }> {
  return new Promise((resolve, reject) => {
    const client = new Client();
    let hostKey: Buffer | undefined;
    let banner: string | undefined;
    client.on('banner', (b: string) => { banner = b; });
    client.on('ready', () => resolve({ client, hostKey, banner }));
    client.on('error', (err) => { client.end(); reject(err); });
    client.connect({
      host: '127.0.0.1', port, readyTimeout: 5000, username: 'nobody',
      hostVerifier: (key: Buffer) => { hostKey = key; return true; }, ...config,
    });
  });
}

function exec(client: Client, command: string): Promise<string> {
  return new Promise((resolve, reject) => {
    client.exec(command, (err, stream) => {
      if (err) return reject(err);
      let out = '';
      stream.on('data', (d: Buffer) => { out += d.toString(); });
      stream.on('close', () => resolve(out));
    });
  });
}

/** Resolves with `what` when the event comes, or with 'still waiting' after `ms` (so a broken knob fails, not hangs). */
async function within(emitter: { once(event: string, fn: () => void): unknown }, event: string, what: string, ms = 8000): Promise<string> {
  let bound: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([
      new Promise<string>((resolve) => emitter.once(event, () => resolve(what))),
      new Promise<string>((resolve) => { bound = setTimeout(() => resolve('still waiting'), ms); }),
    ]);
  } finally {
    clearTimeout(bound);
  }
}

const target = (port: number) => ({ host: '127.0.0.1', port, signal: AbortSignal.timeout(10_000), timeoutMs: 5000 });

describe('emulator: SSH service', function () {
  this.timeout(20_000);

  describe('weak and hardened postures as a real ssh2 client sees them', () => {
    const { weak, hardened } = useBothPostures();

    it('offered algorithms: a CBC/SHA-1-only client gets in on weak and is refused by hardened', async () => {
      const legacy = { kex: ['diffie-hellman-group14-sha1'], cipher: ['aes128-cbc'], hmac: ['hmac-sha1'], serverHostKey: ['ssh-rsa', 'ssh-ed25519'] } as Algorithms;
      const { client } = await connect(weak().endpoint('ssh').port, { algorithms: legacy });
      client.end();
      const err = await connect(hardened().endpoint('ssh').port, { algorithms: legacy }).then(() => undefined, (e: Error) => e);
      expect(err?.message).to.match(/no matching/i);
    });

    it('host key: 1024-bit RSA on weak, ed25519 on hardened', async () => {
      const w = await connect(weak().endpoint('ssh').port, {});
      w.client.end();
      expect(describeHostKey(w.hostKey!)).to.include({ keyType: 'ssh-rsa', bits: 1024 });
      const h = await connect(hardened().endpoint('ssh').port, { username: 'engineer', password: 'Eng1neer!Bench-2026' });
      h.client.end();
      expect(describeHostKey(h.hostKey!)).to.include({ keyType: 'ssh-ed25519', bits: 256 });
    });

    it('banner and "none": weak lets anyone in without a banner; hardened shows its banner and refuses "none"', async () => {
      const w = await tryNoneAuth('anyone', target(weak().endpoint('ssh').port));
      expect(w).to.include({ noneAccepted: true, banner: undefined });
      const h = await tryNoneAuth('anyone', target(hardened().endpoint('ssh').port));
      expect(h.noneAccepted).to.equal(false);
      expect(h.methods).to.deep.equal(['publickey', 'password', 'keyboard-interactive']);
      expect(h.banner).to.match(/^WARNING: This system belongs to the plant operator\.[^]*monitoring\.\r\n$/);
    });

    it('root: offered a password on weak, publickey only on hardened', async () => {
      expect((await tryNoneAuth('root', target(weak().endpoint('ssh').port))).noneAccepted).to.equal(true);
      expect((await tryNoneAuth('root', target(hardened().endpoint('ssh').port))).methods).to.deep.equal(['publickey']);
    });

    it('passwords come from the device accounts; keyboard-interactive answers the same check', async () => {
      const port = hardened().endpoint('ssh').port;
      expect((await passwordLogin('operator', 'Op3rator!Bench-2026', target(port))).outcome).to.equal('accepted');
      const kbd = await connect(port, {
        username: 'operator', tryKeyboard: true,
        authHandler: [{
          type: 'keyboard-interactive', username: 'operator',
          prompt: (_n: string, _i: string, _l: string, _p: Prompt[], finish: KeyboardInteractiveCallback) => finish(['Op3rator!Bench-2026']),
        } as KeyboardInteractiveAuthMethod],
      });
      kbd.client.end();
      expect(kbd.banner).to.match(/^WARNING/);
    });

    it('shell and exec echo, `show version` answers', async () => {
      const { client } = await connect(hardened().endpoint('ssh').port, { username: 'operator', password: 'Op3rator!Bench-2026' });
      try {
        expect(await exec(client, 'hello plc')).to.equal('hello plc\n');
        expect(await exec(client, 'show version')).to.equal('EPLC-1 firmware 1.0.0\n');
        const transcript = await new Promise<string>((resolve, reject) => {
          client.shell((err, stream) => {
            if (err) return reject(err);
            let out = '';
            stream.on('data', (d: Buffer) => {
              out += d.toString();
              if (out.endsWith('> ') && !out.includes('ping')) stream.write('ping\r');
              else if (out.includes('ping\r\n> ')) stream.write('exit\r');
            });
            stream.on('close', () => resolve(out));
          });
        });
        expect(transcript).to.contain('ping\r\n> ').and.to.contain('bye');
      } finally {
        client.end();
      }
    });
  });

  it('lockout threshold 3 (device-wide, per user): the 4th login is refused even with the right password', async () => {
    const emu = await startEmulator(postureWith('hardened', ['ssh']), { ephemeralPorts: true });
    try {
      const port = emu.endpoint('ssh').port;
      for (let i = 0; i < 3; i++) expect((await passwordLogin('operator', `wrong-${i}`, target(port))).outcome).to.equal('rejected');
      expect((await passwordLogin('operator', 'Op3rator!Bench-2026', target(port))).outcome).to.equal('rejected');
      expect((await passwordLogin('engineer', 'Eng1neer!Bench-2026', target(port))).outcome, 'other users are not locked').to.equal('accepted');
    } finally {
      await emu.close();
    }
  });

  it('the section lockout overrides the device one: per source, or none at all', async () => {
    const posture = (lockout: unknown): Posture => ({
      name: 'lk', accounts: [{ username: 'a', password: 'pa' }, { username: 'b', password: 'pb' }], lockout: { threshold: 3, durationSeconds: 60 },
      services: { ssh: { lockout, hostKeys: [{ type: 'ed25519' }] } },
    });
    const perSource = await startEmulator(posture({ threshold: 2, durationSeconds: 60, scope: 'source' }), { ephemeralPorts: true });
    const none = await startEmulator(posture(null), { ephemeralPorts: true });
    try {
      let port = perSource.endpoint('ssh').port;
      await passwordLogin('a', 'x', target(port));
      await passwordLogin('b', 'x', target(port));
      expect((await passwordLogin('b', 'pb', target(port))).outcome, 'the source is locked for every user').to.equal('rejected');
      port = none.endpoint('ssh').port;
      for (let i = 0; i < 5; i++) await passwordLogin('a', 'x', target(port));
      expect((await passwordLogin('a', 'pa', target(port))).outcome).to.equal('accepted');
    } finally {
      await Promise.all([perSource.close(), none.close()]);
    }
  });

  it('root login, publickey, session limit and idle timeout knobs', async () => {
    const userKey = utils.generateKeyPairSync('ed25519');
    const otherKey = utils.generateKeyPairSync('ed25519');
    const base = {
      name: 'knobs', accounts: [{ username: 'root', password: 'toor' }, { username: 'op', password: 'pw' }],
      services: {},
    };
    const open = await startEmulator({
      ...base, services: { ssh: { rootLogin: true, hostKeys: [{ type: 'ecdsa', bits: 384 }] } },
    }, { ephemeralPorts: true });
    const strict = await startEmulator({
      ...base,
      services: {
        ssh: {
          rootLogin: false, authMethods: ['publickey', 'password'], authorizedKeys: { op: [userKey.public] },
          maxSessionsPerUser: 1, idleTimeoutSeconds: 1, hostKeys: [{ type: 'ed25519' }],
        },
      },
    }, { ephemeralPorts: true });
    try {
      const o = open.endpoint('ssh').port;
      const s = strict.endpoint('ssh').port;
      expect((await passwordLogin('root', 'toor', target(o))).outcome).to.equal('accepted');
      expect((await passwordLogin('root', 'toor', target(s))).outcome, 'right root password refused').to.not.equal('accepted');
      const first = await connect(o, { username: 'op', password: 'pw' });
      first.client.end();
      expect(describeHostKey(first.hostKey!)).to.include({ keyType: 'ecdsa-sha2-nistp384', bits: 384 });

      const withKey = await connect(s, { username: 'op', privateKey: userKey.private });
      const wrongKey = await connect(s, { username: 'op', privateKey: otherKey.private }).then(() => 'accepted', () => 'refused');
      expect(wrongKey).to.equal('refused');
      expect((await passwordLogin('op', 'pw', target(s))).outcome, 'second concurrent session refused').to.equal('rejected');
      // Idle: the first session is closed by the server after 1 s without channel activity.
      expect(await within(withKey.client, 'close', 'closed by the server')).to.equal('closed by the server');
      expect((await passwordLogin('op', 'pw', target(s))).outcome, 'allowed again once the first is gone').to.equal('accepted');
    } finally {
      await Promise.all([open.close(), strict.close()]);
    }
  });

  it('loginGraceSeconds: a client that never authenticates is disconnected', async () => {
    const emu = await startEmulator({ name: 'grace', services: { ssh: { loginGraceSeconds: 1, hostKeys: [{ type: 'ed25519' }] } } }, { ephemeralPorts: true });
    try {
      const socket = net.connect(emu.endpoint('ssh').port, '127.0.0.1');
      let received = '';
      socket.on('data', (d: Buffer) => { received += d.toString('latin1'); });
      const outcome = await within(socket, 'close', 'closed by the server');
      socket.destroy();
      expect(outcome).to.equal('closed by the server');
      expect(received).to.match(/^SSH-2\.0-EPLC1_SSH_1\.0\.0\r\n/);
    } finally {
      await emu.close();
    }
  });

  it('rejects a posture naming an algorithm ssh2 does not implement', async () => {
    let err: Error | undefined;
    try {
      await startEmulator({ name: 'bad', services: { ssh: { algorithms: { cipher: ['arcfour256'] } } } }, { ephemeralPorts: true });
    } catch (e) {
      err = e as Error;
    }
    expect(err?.message).to.match(/arcfour256 not implemented by ssh2/);
  });

  it('close() with a client still connected leaves no socket or timer', async () => {
    const handles = await handleSnapshot();
    const emu = await startEmulator(postureWith('hardened', ['ssh']), { ephemeralPorts: true });
    const { client } = await connect(emu.endpoint('ssh').port, { username: 'operator', password: 'Op3rator!Bench-2026' });
    const closed = within(client, 'close', 'closed');
    await emu.close();
    expect(await closed).to.equal('closed');
    await handles.check();
  });
});
