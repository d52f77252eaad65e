import { randomBytes } from 'node:crypto';
import { defineProbe, finding, judge } from '../../src/sdk';
import { tftpReadRequest } from '../../src/protocols/cleartext';

interface Inputs {
  requestTimeoutMs: number;
  retries: number;
}

export default defineProbe<Inputs>({
  id: 'cleartext.tftp',
  protocol: 'cleartext',
  title: 'TFTP: whether an unauthenticated cleartext file service answers',
  description: 'Sends one TFTP read request (RFC 1350, octet mode) for a random file name that cannot exist and waits for '
    + 'the answer. Any TFTP answer (normally ERROR "File not found") shows a file transfer service without identification, '
    + 'authentication or encryption (TFTP has none): it fails CR 2.1 and CR 4.1. If the file somehow exists, the transfer is '
    + 'cancelled after the first block. Never writes.',
  requirements: ['CR 2.1', 'CR 4.1'],
  findings: {
    answers: 'the declared TFTP service answers a read request: file transfer without authentication or encryption',
  },
  safety: 'passive',
  scope: 'service',
  appliesTo: ['tftp'],
  timeoutMs: 15_000,
  inputs: {
    schema: {
      type: 'object', additionalProperties: false,
      properties: { requestTimeoutMs: { type: 'integer', minimum: 50 }, retries: { type: 'integer', minimum: 0, maximum: 5 } },
    },
    defaults: { requestTimeoutMs: 2000, retries: 2 },
  },
  async run(ctx) {
    const service = ctx.service!;
    const filename = `iacs-probe-${randomBytes(6).toString('hex')}.txt`;
    const answer = await tftpReadRequest(service.host, service.port, filename, {
      timeoutMs: ctx.inputs.requestTimeoutMs, retries: ctx.inputs.retries, signal: ctx.signal,
    });
    const evidence = [ctx.evidence.save('tftp.json', { request: { opcode: 'RRQ', filename, mode: 'octet' }, answer })];
    const what = answer.kind === 'error' ? `ERROR ${answer.code} "${answer.message}"` : `DATA block ${answer.block} (${answer.bytes} bytes; cancelled)`;
    const findings = [finding({
      code: 'answers', severity: 'high', requirements: ['CR 2.1', 'CR 4.1'], evidence,
      message: `${service.name} answers TFTP (${what}): a file transfer service with no authentication and no encryption`,
    })];
    return {
      observations: { filename, answer },
      findings,
      outcomes: judge([
        { requirement: 'CR 2.1', coverage: 'partial', passReason: '' },
        { requirement: 'CR 4.1', coverage: 'partial', passReason: '' },
      ], findings),
    };
  },
});
