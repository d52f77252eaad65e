import { expect } from 'chai';
import accessProbe from '../../probes/enip/access';
import securityProbe from '../../probes/enip/security';
import { COMMANDS, encodeCipReply, sendRRDataPayload } from '../../src/protocols/enip';
import { scriptedEnipServer } from '../helpers/enip';
import { runProbe } from '../helpers/probe-harness';

// Deceptive EtherNet/IP adapters for enip.access and enip.security: devices that refuse for a reason other than
// access control (no memory for a session, a busy object, a foreign length error) or hang up. Only the protocol's
// own refusals (0x0001/0x006A on RegisterSession, privilege violation on the object) may pass CR 1.1/2.1, and
// only 0x0064 on a foreign session handle may pass CR 3.5.

type Reply = ReturnType<Parameters<typeof scriptedEnipServer>[0]>;
const requirementsOf = (a: { outcomes: { requirement: string }[] }) => a.outcomes.map((o) => o.requirement).sort();
/** The CIP service byte of a SendRRData request (after interface handle, timeout, item count, null item, 0xB2 header). */
const cipService = (data: Buffer) => data[16];

async function withPeer(answer: Parameters<typeof scriptedEnipServer>[0], fn: (port: number) => Promise<void>): Promise<void> {
  const peer = await scriptedEnipServer(answer);
  try {
    await fn(peer.port);
  } finally {
    await peer.close();
  }
}

/** A session for anyone (handle 0x11); SendRRData answered by `cip` with the request's service. */
const sessionThen = (cip: (service: number, session: number) => Reply) => (r: { command: number; session: number; data: Buffer }): Reply => {
  if (r.command === COMMANDS.registerSession) return { session: 0x11, data: r.data };
  if (r.command === COMMANDS.sendRRData) return cip(cipService(r.data), r.session);
  return { status: 0x0001 };
};

describe('integrity: EtherNet/IP access verdicts against deceptive adapters', function () {
  this.timeout(20_000);
  const service = (port: number) => ({ port, protocol: 'enip' as const });
  // The profile claims CIP Security (a declared TLS service the probe never contacts).
  const claimed = [{ port: 1, protocol: 'tls' as const, options: { cipSecurity: true } }];

  it('RegisterSession refused with 0x0002 (insufficient memory): no session is no evidence of access control; nothing passes', async () => {
    await withPeer(() => ({ status: 0x0002 }), async (port) => {
      const { attempt } = await runProbe(accessProbe, { service: service(port), inputs: { requestTimeoutMs: 300 } });
      expect(attempt.status, attempt.message).to.equal('not_determined');
      expect(attempt.outcomes).to.deep.equal([]);
      expect(attempt.observations.access).to.deep.equal({ result: 'unclear', reason: 'RegisterSession refused with encapsulation status 0x0002 (insufficient memory resources)' });
      const { attempt: security } = await runProbe(securityProbe, { service: service(port), services: claimed, inputs: { requestTimeoutMs: 300 } });
      expect(security.status, security.message).to.equal('not_determined');
      expect(security.outcomes).to.deep.equal([]);
    });
  });

  it('a session, then the Identity object answered "resource unavailable" (0x02): not a refusal of the peer; nothing passes', async () => {
    await withPeer(sessionThen((s) => ({ data: sendRRDataPayload(encodeCipReply(s, 0x02)) })), async (port) => {
      const { attempt } = await runProbe(accessProbe, { service: service(port), inputs: { requestTimeoutMs: 300 } });
      expect(attempt.status, attempt.message).to.equal('not_determined');
      expect(attempt.outcomes).to.deep.equal([]);
      expect(attempt.observations.access).to.deep.equal({ result: 'unclear', reason: 'Get_Attributes_All answered resource unavailable' });
      const { attempt: security } = await runProbe(securityProbe, { service: service(port), services: claimed, inputs: { requestTimeoutMs: 300 } });
      expect(security.status, security.message).to.equal('not_determined');
    });
  });

  it('a session, then a hang-up on the first explicit message: an error, never a refusal', async () => {
    await withPeer(sessionThen(() => 'close'), async (port) => {
      const { attempt } = await runProbe(accessProbe, { service: service(port), timeoutMs: 3000, inputs: { requestTimeoutMs: 300 } });
      expect(attempt.status, attempt.message).to.equal('error');
      expect(attempt.reason).to.equal('protocol');
      const { attempt: security } = await runProbe(securityProbe, { service: service(port), services: claimed, timeoutMs: 3000, inputs: { requestTimeoutMs: 300 } });
      expect(security.status, security.message).to.equal('error');
    });
  });

  it('a foreign session handle answered with 0x0065 (invalid length) instead of 0x0064: CR 3.5 is not judged', async () => {
    await withPeer((r) => (r.command === COMMANDS.sendRRData && r.session !== 0x11 ? { status: 0x0065 } : sessionThen((s) => ({ data: sendRRDataPayload(encodeCipReply(s, 0x0f)) }))(r)), async (port) => {
      const { attempt } = await runProbe(accessProbe, { service: service(port), inputs: { requestTimeoutMs: 300 } });
      expect(attempt.status, attempt.message).to.equal('pass'); // privilege violation on the Identity object: the device's own refusal
      expect(requirementsOf(attempt)).to.deep.equal(['CR 1.1', 'CR 2.1']);
      expect(attempt.observations.sessionCheck).to.include({ refused: false, served: false });
    });
  });
});
