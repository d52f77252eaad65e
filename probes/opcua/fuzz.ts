import { defineFuzzProbe, type FuzzInputs } from '../../src/protocols/fuzz/probe';
import { opcuaFuzzTarget } from '../../src/protocols/opcua/fuzz';

export interface OpcuaFuzzInputs extends FuzzInputs {
  /** Resource path of the endpoint URL in the Hello and the normal GetEndpoints ("/UA/Server"; default none). */
  path?: string;
}

export default defineFuzzProbe<OpcuaFuzzInputs>({
  id: 'opcua.fuzz',
  protocol: 'opcua',
  label: 'OPC UA',
  normalRequest: 'GetEndpoints request',
  title: 'OPC UA Hello and OpenSecureChannel fuzzing with essential-function checks',
  description:
    'Mutates a valid OPC UA TCP Hello and an OpenSecureChannel request with SecurityPolicy None (OPC 10000-6 §7.1.2, '
    + '§6.7): message type, chunk type and message size; protocol version, buffer sizes, maximum message size and chunk '
    + 'count, endpoint URL length of the Hello; secure channel id, policy URI, certificate and thumbprint lengths, '
    + 'sequence number, request id, the request\'s type id, handle, diagnostics, audit id, timeout hint, client protocol '
    + 'version, request type, security mode, nonce length and lifetime of the OpenSecureChannel, which is sent after a '
    + 'Hello the server acknowledged; truncations, consistent cuts, extensions and random mutations fill the budget. The '
    + 'seed fixes the cases. Each case goes on its own connection at a capped rate; after each one GetEndpoints (Hello, '
    + 'OpenSecureChannel, GetEndpoints through node-opcua) must be answered, and the run\'s essential-function monitor '
    + 'must not report a loss (CR 3.5). Every case is recorded (fuzz-cases.ndjson) and can be re-sent with `iacs-probe replay`.',
  appliesTo: ['opcua'],
  extraInputs: {
    properties: { path: { type: 'string', pattern: '^/', maxLength: 1024 } },
    defaults: {},
  },
  target: (ctx, service) => opcuaFuzzTarget(service, ctx.inputs.path ? { path: ctx.inputs.path } : {}),
});
