import { expect } from 'chai';
import accessProbe from '../../probes/dnp3/access';
import securityProbe from '../../probes/dnp3/security';
import { FUNCTION, LINK, authErrorObject, encodeLinkFrame, encodeResponse, header, segment } from '../../src/protocols/dnp3';
import { scriptedDnp3Server } from '../helpers/dnp3';
import { runProbe } from '../helpers/probe-harness';

const service = (port: number) => ({ port, protocol: 'dnp3' as const, options: { outstationAddress: 1024 } });
const DATA = Buffer.concat([header(1, 2, 0, [0, 1]), Buffer.from([0x81, 0x01])]);

/** Answers a DNP3 master would misread if it trusted the shape of a reply rather than what it says. */
describe('integrity: dnp3 answers that are not what they look like', () => {
  it('an authentication response carrying an error (g120v7) to the critical write is no challenge: CR 1.2 not passed', async () => {
    const peer = await scriptedDnp3Server((r) => (r.fn === FUNCTION.write
      ? { fn: FUNCTION.authResponse, objects: authErrorObject({ sequence: 1, user: 1, association: 0, code: 1, timeMs: 0 }) }
      : { fn: FUNCTION.authResponse, objects: Buffer.alloc(0) }));
    try {
      const { attempt } = await runProbe(securityProbe, { service: service(peer.port), services: [service(peer.port)] });
      expect(attempt.observations.sav5).to.deep.equal({ keyStatusAnswered: false, criticalChallenged: false });
      expect(attempt.outcomes.find((o) => o.requirement === 'CR 1.2')).to.equal(undefined);
      expect((attempt.observations.criticalRequest as { answer: string }).answer).to.equal('authentication response: error');
    } finally {
      await peer.close();
    }
  });

  it('an authentication response without group 120 objects to the poll is no refusal: not determined', async () => {
    const peer = await scriptedDnp3Server(() => ({ fn: FUNCTION.authResponse }));
    try {
      const { attempt } = await runProbe(accessProbe, { service: service(peer.port) });
      expect(attempt.status).to.equal('not_determined');
      expect((attempt.observations.poll as { answer: string }).answer).to.match(/^unexpected: an authentication response without group 120/);
    } finally {
      await peer.close();
    }
  });

  it('an unsolicited response and an answer to another sequence number are not the poll\'s answer: a timeout', async () => {
    const frames = (seq: number, fn: number, uns: boolean) => segment(encodeResponse({ seq, fn, iin: 0, objects: DATA, uns }), 0)
      .map((s) => encodeLinkFrame({ control: LINK.prm | LINK.unconfirmedUserData, destination: 1, source: 1024, userData: s }));
    const peer = await scriptedDnp3Server((r) => Buffer.concat([...frames(r.seq, FUNCTION.unsolicitedResponse, true), ...frames((r.seq + 5) & 0x0f, FUNCTION.response, false)]));
    try {
      const { attempt, read } = await runProbe(accessProbe, { service: service(peer.port), inputs: { requestTimeoutMs: 400 }, timeoutMs: 5000 });
      expect(attempt.status).to.equal('error');
      expect(attempt.reason).to.equal('timeout');
      expect(read(attempt.evidence.find((e) => e.endsWith('dnp3-access.txt'))!)).to.match(/skipped a response with seq 5/);
    } finally {
      await peer.close();
    }
  });

  it('frames addressed to another master are ignored, not taken for the answer', async () => {
    const peer = await scriptedDnp3Server((r) => Buffer.concat(segment(encodeResponse({ seq: r.seq, iin: 0, objects: DATA }), 0)
      .map((s) => encodeLinkFrame({ control: LINK.prm | LINK.unconfirmedUserData, destination: 2, source: 1024, userData: s }))));
    try {
      const { attempt } = await runProbe(accessProbe, { service: service(peer.port), inputs: { requestTimeoutMs: 400 }, timeoutMs: 5000 });
      expect(attempt.status).to.equal('error');
      expect(attempt.reason).to.equal('timeout');
    } finally {
      await peer.close();
    }
  });
});
