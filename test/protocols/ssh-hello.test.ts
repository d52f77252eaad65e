import { expect } from 'chai';
import algorithms from '../../probes/ssh/algorithms';
import auth from '../../probes/ssh/auth';
import { startEmulator } from '../../src/emulator';
import { CLIENT_SOFTWARE, MSG, encodeKexInit, exchangeHello, fetchHostKey, tryNoneAuth } from '../../src/protocols/ssh';
import { sshString, uint32 } from '../../src/protocols/ssh/wire';
import { handleSnapshot } from '../helpers/leaks';
import { runProbe } from '../helpers/probe-harness';
import { LEGACY_LISTS, kexinitRewritingRelay, scriptedPeer, type Peer } from '../helpers/ssh-peers';

const hello = (port: number, ms = 3000) => exchangeHello({ host: '127.0.0.1', port, signal: AbortSignal.timeout(ms) });

async function withPeer<T>(start: Promise<Peer>, fn: (peer: Peer) => Promise<T>): Promise<T> {
  const peer = await start;
  try {
    return await fn(peer);
  } finally {
    await peer.close();
  }
}

describe('SSH identification and KEXINIT over a raw socket', function () {
  this.timeout(15_000);

  it('keeps text lines sent before the identification and skips IGNORE packets before KEXINIT', async () => {
    const ignore = Buffer.concat([Buffer.from([MSG.IGNORE]), sshString('padding')]);
    await withPeer(scriptedPeer(['Welcome to the bench', 'SSH-2.0-Bench_1.0 with comment'], [ignore, encodeKexInit(LEGACY_LISTS)]), async (peer) => {
      const h = await hello(peer.port);
      expect(h.preBanner).to.deep.equal(['Welcome to the bench']);
      expect(h.identification).to.deep.equal({ raw: 'SSH-2.0-Bench_1.0 with comment', protocol: '2.0', software: 'Bench_1.0', comments: 'with comment' });
      expect(h.kexinit?.ciphersS2C).to.deep.equal(['arcfour', 'blowfish-cbc', 'none']);
      expect(h.kexinitPayload?.[0]).to.equal(MSG.KEXINIT);
    });
  });

  it('an SSH-1-only server ("SSH-1.5-") has no KEXINIT: protocol-1 fails the three requirements', async () => {
    await withPeer(scriptedPeer(['SSH-1.5-Cisco-1.25']), async (peer) => {
      const h = await hello(peer.port);
      expect(h.ssh1Only).to.equal(true);
      expect(h.kexinit).to.equal(undefined);
      const { attempt } = await runProbe(algorithms, { service: { port: peer.port, protocol: 'ssh' }, timeoutMs: 5000 });
      expect(attempt.findings.map((f) => f.code)).to.deep.equal(['ssh.algorithms.protocol-1']);
      expect(attempt.outcomes.map((o) => o.verdict)).to.deep.equal(['fail', 'fail', 'fail']);
      expect(attempt.observations).to.include({ banner: 'SSH-1.5-Cisco-1.25', ssh1: true });
      const a = (await runProbe(auth, { service: { port: peer.port, protocol: 'ssh' }, timeoutMs: 5000 })).attempt;
      expect([a.status, a.reason]).to.deep.equal(['error', 'protocol']);
      expect(a.message).to.contain('SSH-1 only');
    });
  });

  it('SSH-1.99 with "none" cipher and MAC, RC4, Blowfish, DSA: every rule fires; host keys it cannot fetch are reported, not guessed', async () => {
    await withPeer(scriptedPeer(['SSH-1.99-OpenSSH_3.9p1'], [encodeKexInit(LEGACY_LISTS)], 100), async (peer) => {
      const { attempt } = await runProbe(algorithms, { service: { port: peer.port, protocol: 'ssh' }, timeoutMs: 5000, sl: 1 });
      expect(attempt.status, attempt.message).to.equal('fail');
      expect(attempt.findings.map((f) => f.code).sort()).to.deep.equal([
        'ssh.algorithms.cipher-64bit-block', 'ssh.algorithms.cipher-cbc', 'ssh.algorithms.cipher-none', 'ssh.algorithms.cipher-rc4',
        'ssh.algorithms.hostkey-dss', 'ssh.algorithms.kex-dh-1024', 'ssh.algorithms.kex-sha1', 'ssh.algorithms.mac-md5',
        'ssh.algorithms.mac-none', 'ssh.algorithms.protocol-1',
      ]);
      const keys = (attempt.observations as { hostKeys: { algorithm: string; error?: string; bits?: number }[] }).hostKeys;
      expect(keys.map((k) => k.algorithm)).to.deep.equal(['ssh-dss', 'ssh-rsa']);
      expect(keys.every((k) => k.error !== undefined && k.bits === undefined)).to.equal(true);
    });
  });

  it('chacha20-poly1305 without strict key exchange is flagged as Terrapin-exposed', async () => {
    const lists = { ...LEGACY_LISTS, kex: ['curve25519-sha256'], hostKey: [], ciphersC2S: ['chacha20-poly1305@openssh.com'], ciphersS2C: ['chacha20-poly1305@openssh.com'], macsC2S: ['hmac-sha2-256-etm@openssh.com'], macsS2C: ['hmac-sha2-256-etm@openssh.com'] };
    await withPeer(scriptedPeer(['SSH-2.0-Old_1'], [encodeKexInit(lists)], 100), async (peer) => {
      const { attempt } = await runProbe(algorithms, { service: { port: peer.port, protocol: 'ssh' }, timeoutMs: 5000 });
      expect(attempt.findings.map((f) => f.code)).to.deep.equal(['ssh.algorithms.terrapin']);
    });
  });

  it('a server that stalls after its KEXINIT: host key not determined (said so), auth ends as timeout; no socket or timer left', async () => {
    const handles = await handleSnapshot();
    const lists = { ...LEGACY_LISTS, kex: ['curve25519-sha256'], hostKey: ['ssh-ed25519'], ciphersC2S: ['aes128-ctr'], ciphersS2C: ['aes128-ctr'], macsC2S: ['hmac-sha2-256'], macsS2C: ['hmac-sha2-256'] };
    await withPeer(scriptedPeer(['SSH-2.0-Stuck_1'], [encodeKexInit(lists)]), async (peer) => {
      const a = (await runProbe(algorithms, { service: { port: peer.port, protocol: 'ssh' }, timeoutMs: 1200 })).attempt;
      expect((a.observations as { hostKeys: { error?: string }[] }).hostKeys[0].error).to.match(/did not finish within/);
      expect(a.outcomes.find((o) => o.requirement === 'CR 4.3')?.reason).to.contain('host key size not determined for ssh-ed25519');
      const b = (await runProbe(auth, { service: { port: peer.port, protocol: 'ssh' }, timeoutMs: 1200 })).attempt;
      expect([b.status, b.reason], b.message).to.deep.equal(['error', 'timeout']);
    });
    await handles.check();
  });

  it('aborting the signal ends an ssh2 exchange at once with the abort reason and closes its socket', async () => {
    const handles = await handleSnapshot();
    const lists = { ...LEGACY_LISTS, kex: ['curve25519-sha256'], hostKey: ['ssh-ed25519'], ciphersC2S: ['aes128-ctr'], ciphersS2C: ['aes128-ctr'], macsC2S: ['hmac-sha2-256'], macsS2C: ['hmac-sha2-256'] };
    await withPeer(scriptedPeer(['SSH-2.0-Stuck_1'], [encodeKexInit(lists)]), async (peer) => {
      for (const step of [
        (signal: AbortSignal) => fetchHostKey('ssh-ed25519', { host: '127.0.0.1', port: peer.port, signal, timeoutMs: 20_000 }),
        (signal: AbortSignal) => tryNoneAuth('x', { host: '127.0.0.1', port: peer.port, signal, timeoutMs: 20_000 }),
      ]) {
        const controller = new AbortController();
        const reason = new Error('cancelled by the test');
        setTimeout(() => controller.abort(reason), 100);
        const err = await step(controller.signal).then(() => undefined, (e: unknown) => e);
        expect(err).to.equal(reason);
      }
    });
    await handles.check();
  });

  it('a DISCONNECT instead of KEXINIT is a protocol error carrying the server\'s reason', async () => {
    const disconnect = Buffer.concat([Buffer.from([MSG.DISCONNECT]), uint32(2), sshString('Too many connections'), sshString('')]);
    await withPeer(scriptedPeer(['SSH-2.0-Busy_1'], [disconnect]), async (peer) => {
      const err = await hello(peer.port).then(() => undefined, (e: Error) => e);
      expect(err?.name).to.equal('ProtocolViolation');
      expect(err?.message).to.contain('Too many connections');
    });
  });

  it('announces itself as iacs_probe and disconnects cleanly after the KEXINIT', async () => {
    const emu = await startEmulator('hardened', { ephemeralPorts: true });
    try {
      const h = await hello(emu.endpoint('ssh').port);
      expect(h.kexinit?.kex).to.include('curve25519-sha256');
      expect(CLIENT_SOFTWARE).to.match(/^[\x21-\x2c\x2e-\x7e]+$/); // RFC 4253 §4.2: printable, no '-' or space
    } finally {
      await emu.close();
    }
  });

  it('ssh.auth: password login offered while the server lists the "none" cipher -> CR 1.5 fails', async () => {
    const emu = await startEmulator('hardened', { ephemeralPorts: true });
    // Our raw exchange sees a KEXINIT with "none" added; ssh2's own connections pass through untouched.
    const relay = await kexinitRewritingRelay(emu.endpoint('ssh').port, `SSH-2.0-${CLIENT_SOFTWARE}`, (l) => ({ ...l, ciphersC2S: [...l.ciphersC2S, 'none'], ciphersS2C: [...l.ciphersS2C, 'none'] }));
    try {
      const { attempt } = await runProbe(auth, { service: { port: relay.port, protocol: 'ssh' }, inputs: { checkRoot: false } });
      expect(attempt.findings.map((f) => f.code)).to.deep.equal(['ssh.auth.password-cleartext']);
      expect(attempt.outcomes.find((o) => o.requirement === 'CR 1.5')?.verdict).to.equal('fail');
    } finally {
      await relay.close();
      await emu.close();
    }
  });
});
