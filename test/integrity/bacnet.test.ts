import { expect } from 'chai';
import accessProbe from '../../probes/bacnet/access';
import {
  CONFIRMED_SERVICE, ERROR_CLASS, ERROR_CODE, PROPERTY, encodeComplexAck, encodeError, encodeSimpleAck, parsePropertyService, readPropertyAckBody,
  unicastDatagram, type Apdu,
} from '../../src/protocols/bacnet';
import { scriptedBacnetServer } from '../helpers/bacnet';
import { runProbe } from '../helpers/probe-harness';

// Deceptive BACnet devices for bacnet.access: refusals for another reason than authentication (service-request-denied,
// a password-failure code under the wrong error class, a value out of range) and a stray acknowledgement. Only
// security/password-failure and write-access-denied may pass CR 1.1/1.5/2.1, and only an ACK for our own invoke id fails them.

type Confirmed = Extract<Apdu, { type: 'confirmed' }>;
const reply = (apdu: Buffer) => unicastDatagram(apdu, false);

/** Reads answered from a one-object device 5 whose setpoint is 20.0; other services by `other`. */
function device(other: (a: Confirmed) => Buffer | null) {
  return scriptedBacnetServer(({ apdu }) => {
    if (apdu?.type !== 'confirmed') return null;
    if (apdu.service !== CONFIRMED_SERVICE.readProperty) return other(apdu);
    const ref = parsePropertyService(apdu.body);
    if (typeof ref === 'string') return null;
    if (ref.property === PROPERTY.objectIdentifier) return reply(encodeComplexAck(apdu.invokeId, apdu.service, readPropertyAckBody({ ...ref, instance: 5 }, [{ type: 'object-identifier', objectType: 8, instance: 5 }])));
    if (ref.property === PROPERTY.presentValue) return reply(encodeComplexAck(apdu.invokeId, apdu.service, readPropertyAckBody(ref, [{ type: 'real', value: 20 }])));
    return reply(encodeError(apdu.invokeId, apdu.service, ERROR_CLASS.property, ERROR_CODE.unknownProperty));
  });
}

async function withPeer(other: (a: Confirmed) => Buffer | null, fn: (port: number) => Promise<void>): Promise<void> {
  const peer = await device(other);
  try {
    await fn(peer.port);
  } finally {
    await peer.close();
  }
}

describe('integrity: BACnet access verdicts against deceptive devices', function () {
  this.timeout(20_000);
  const service = (port: number) => ({ port, protocol: 'bacnet' as const });
  const inputs = { requestTimeoutMs: 200, udpRetries: 0 };

  it('DCC and ReinitializeDevice refused with services/service-request-denied: no authentication seen; nothing passes', async () => {
    await withPeer((a) => reply(encodeError(a.invokeId, a.service, ERROR_CLASS.services, ERROR_CODE.serviceRequestDenied)), async (port) => {
      const { attempt } = await runProbe(accessProbe, { service: service(port), inputs });
      expect(attempt.status, attempt.message).to.equal('not_determined');
      expect(attempt.outcomes).to.deep.equal([]);
      expect(attempt.observations.notDetermined).to.match(/DeviceCommunicationControl enable without a password: Error services\/service-request-denied/);
    });
  });

  it('password-failure (26) under the device class instead of security: not the protocol\'s password refusal; nothing passes', async () => {
    await withPeer((a) => reply(encodeError(a.invokeId, a.service, ERROR_CLASS.device, ERROR_CODE.passwordFailure)), async (port) => {
      const { attempt } = await runProbe(accessProbe, { service: service(port), inputs });
      expect(attempt.status, attempt.message).to.equal('not_determined');
      expect(attempt.outcomes).to.deep.equal([]);
    });
  });

  it('a SimpleACK for another invoke id, then silence: never read as acceptance; the attempt times out', async () => {
    await withPeer((a) => reply(encodeSimpleAck((a.invokeId + 1) & 0xff, a.service)), async (port) => {
      const { attempt, read } = await runProbe(accessProbe, { service: service(port), timeoutMs: 3000, inputs });
      expect(attempt.status, attempt.message).to.equal('error');
      expect(attempt.reason).to.equal('timeout');
      expect(attempt.findings).to.deep.equal([]);
      expect(read(attempt.evidence.find((e) => e.endsWith('.txt'))!)).to.match(/not an answer to this request: ignored/);
    });
  });

  it('a destructive write answered value-out-of-range (not write-access-denied): CR 2.1 is not judged on it', async () => {
    await withPeer((a) => reply(encodeError(a.invokeId, a.service, a.service === CONFIRMED_SERVICE.writeProperty ? ERROR_CLASS.property : ERROR_CLASS.services,
      a.service === CONFIRMED_SERVICE.writeProperty ? ERROR_CODE.valueOutOfRange : ERROR_CODE.serviceRequestDenied)), async (port) => {
      const { attempt } = await runProbe(accessProbe, { service: service(port), allow: ['passive', 'active', 'destructive'], inputs: { ...inputs, testObject: { objectType: 'analog-value', instance: 1 } } });
      expect(attempt.status, attempt.message).to.equal('not_determined');
      expect(attempt.outcomes).to.deep.equal([]);
      expect(attempt.observations.write).to.include({ performed: true, writeAnswer: 'Error property/value-out-of-range', result: 'unclear', restored: true });
    });
  });
});
