import { expect } from 'chai';
import * as net from 'node:net';
import probe from '../../probes/cleartext/telnet';
import { listenTestServer, type TestServer } from '../../fixtures/servers';
import { handleSnapshot } from '../helpers/leaks';
import { runProbe } from '../helpers/probe-harness';
import type { Attempt } from '../../src/runner/attempt';

/**
 * Deceptive telnet peers: devices that do offer a login, but in a way a naive reader misses (another
 * language, a ">" prompt, a prompt in pieces, negotiation first, a pause). The probe must never report
 * "no login offered" (a pass of CR 1.5) for them, nor an unauthenticated shell. Default probe inputs
 * throughout, except where a test says otherwise: the timing is part of what is checked.
 */

const IAC = 0xff;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** A peer that runs `script` for every connection; writes after the client left are dropped. */
async function peer(script: (send: (data: string | Buffer) => void, socket: net.Socket) => Promise<void>): Promise<TestServer> {
  const server = net.createServer((socket) => {
    socket.setNoDelay(true); // each send() leaves as its own TCP segment
    const send = (data: string | Buffer) => { if (!socket.destroyed) socket.write(data); };
    script(send, socket).catch(() => socket.destroy());
  });
  return listenTestServer(server);
}

const latin1 = (text: string) => Buffer.from(text, 'latin1');

/** The verdict a login-offering device must get: login seen, CR 1.5 and CR 4.1 failed, no shell claimed. */
function expectLoginOffered(attempt: Attempt): void {
  expect(attempt.status, `${attempt.message ?? ''} ${JSON.stringify(attempt.observations)}`).to.equal('fail');
  expect(attempt.observations).to.include({ loginPrompt: true, shellPrompt: false });
  expect(attempt.findings.map((f) => f.code)).to.deep.equal(['cleartext.telnet.login-offered']);
  expect(attempt.outcomes.map((o) => `${o.requirement}:${o.verdict}`)).to.deep.equal(['CR 1.5:fail', 'CR 4.1:fail']);
}

async function probeAgainst(server: TestServer, inputs: Record<string, number> = {}): Promise<Attempt> {
  try {
    return (await runProbe(probe, { service: { port: server.port, protocol: 'telnet' }, inputs })).attempt;
  } finally {
    await server.close();
  }
}

describe('integrity: telnet devices that offer a login in ways a naive reader misses', function () {
  this.timeout(20_000);

  const localized: [string, Buffer, string][] = [
    ['German "Benutzername: "', latin1('Steuerung S-400\r\n\r\nBenutzername: '), 'de.benutzername'],
    ['German password only, Latin-1 "Kennwort: "', latin1('Wartungszugang\r\nKennwort: '), 'de.passwort'],
    ['French "Nom d\'utilisateur : " in UTF-8 after negotiation', Buffer.concat([Buffer.from([IAC, 0xfb, 0x01, IAC, 0xfb, 0x03]), Buffer.from('Passerelle PX-2\r\nNom d’utilisateur : ', 'utf8')]), 'fr.utilisateur'],
    ['Spanish "Usuario: "', latin1('Pasarela Modbus MB-8\r\n\r\nUsuario: '), 'es.usuario'],
    ['Spanish "Contraseña: " in Latin-1', latin1('Acceso de mantenimiento\r\nContrase\xf1a: '), 'es.contrasena'],
    ['"Username> " (a login, not a shell)', latin1("Type HELP at the 'Local_2> ' prompt for assistance.\r\n\r\nUsername> "), 'en.username'],
  ];
  for (const [name, bytes, rule] of localized) {
    it(name, async () => {
      const attempt = await probeAgainst(await peer(async (send) => send(bytes)));
      expectLoginOffered(attempt);
      expect(attempt.observations.promptRule).to.equal(rule);
    });
  }

  it('a prompt split over several TCP segments, an IAC sequence and a UTF-8 character cut in half', async () => {
    const handles = await handleSnapshot();
    const attempt = await probeAgainst(await peer(async (send) => {
      const pieces = [latin1('Pasarela\r\n'), Buffer.from([IAC, 0xfd]), Buffer.from([0x18, IAC]), Buffer.from([0xfb, 0x01]),
        latin1('Contrase'), Buffer.from([0xc3]), Buffer.from([0xb1]), latin1('a'), latin1(': ')];
      for (const piece of pieces) { send(piece); await sleep(30); }
    }));
    expectLoginOffered(attempt);
    expect(attempt.observations).to.include({ promptLine: 'Contraseña:', encoding: 'utf-8' });
    expect(attempt.observations.negotiation).to.deep.equal(['DO terminal-type', 'WILL echo']);
    await handles.check();
  });

  it('negotiation first: the device waits for the answers before it prints the prompt', async () => {
    const attempt = await probeAgainst(await peer(async (send, socket) => {
      send(Buffer.from([IAC, 0xfd, 0x18, IAC, 0xfd, 0x1f, IAC, 0xfb, 0x01, IAC, 0xfb, 0x03]));
      // Like Cisco IOS, more options after the first answers; the prompt only once all four are refused.
      const answers: number[] = [];
      await new Promise<void>((resolve) => socket.on('data', (d) => { answers.push(...d); if (answers.length >= 12) resolve(); }));
      send(Buffer.from([IAC, 0xfa, 0x18, 0x01, IAC, 0xf0]));
      send('\r\n\r\nUser Access Verification\r\n\r\nUsername: ');
    }));
    expectLoginOffered(attempt);
    expect(attempt.observations.negotiation).to.deep.equal(['DO terminal-type', 'DO window-size', 'WILL echo', 'WILL suppress-go-ahead']);
  });

  it('options sent after the prompt (ncrack notes Cisco does this) do not hide it', async () => {
    const attempt = await probeAgainst(await peer(async (send) => {
      send('\r\nUser Access Verification\r\n\r\nPassword: ');
      await sleep(100);
      send(Buffer.from([IAC, 0xfb, 0x01, IAC, 0xfb, 0x03]));
    }));
    expectLoginOffered(attempt);
  });

  it('a device that sends nothing for 2 s, then the prompt', async () => {
    const attempt = await probeAgainst(await peer(async (send) => { await sleep(2000); send('login: '); }));
    expectLoginOffered(attempt);
  });

  it('a banner, a 2 s pause ("please wait"), then the prompt: the probe keeps reading past its quiet time', async () => {
    const attempt = await probeAgainst(await peer(async (send) => {
      send('Georgia SoftWorks Telnet Server\n\rPlease wait...\n\r');
      await sleep(2000);
      send('\n\rlogin: ');
    }));
    expectLoginOffered(attempt);
  });

  it('a device whose prompt comes after the probe gave up is not determined, never "no login offered"', async () => {
    const attempt = await probeAgainst(await peer(async (send) => {
      send('Booting controller firmware, please wait\r\n');
      await sleep(1500);
      send('login: ');
    }), { quietMs: 200, promptWaitMs: 500 });
    expect(attempt.outcomes).to.deep.equal([]);
    expect(attempt.status).to.equal('not_determined');
    expect(attempt.observations).to.include({ promptKind: 'unknown', loginPrompt: false, shellPrompt: false });
    expect(attempt.findings.map((f) => [f.code, f.severity])).to.deep.equal([['cleartext.telnet.prompt-unknown', 'info']]);
  });

  it('a device that prints a banner and hangs up is not determined either', async () => {
    const attempt = await probeAgainst(await peer(async (send, socket) => { send('Service unavailable\r\n'); socket.end(); }));
    expect(attempt.outcomes).to.deep.equal([]);
    expect(attempt.findings.map((f) => f.code)).to.deep.equal(['cleartext.telnet.prompt-unknown']);
  });

  it('a real unauthenticated shell is still reported as one', async () => {
    const attempt = await probeAgainst(await peer(async (send) => send("BusyBox v1.36.1 built-in shell (ash)\r\nEnter 'help' for a list of built-in commands.\r\n\r\n/ # ")));
    expect(attempt.findings.map((f) => [f.code, f.severity])).to.deep.equal([['cleartext.telnet.no-auth', 'critical']]);
    expect(attempt.outcomes.map((o) => `${o.requirement}:${o.verdict}`)).to.deep.equal(['CR 1.5:pass', 'CR 1.1:fail', 'CR 4.1:fail']);
  });
});
