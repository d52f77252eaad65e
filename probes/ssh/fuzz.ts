import { defineFuzzProbe, type FuzzInputs } from '../../src/protocols/fuzz/probe';
import { sshFuzzTarget } from '../../src/protocols/ssh/fuzz';

export default defineFuzzProbe<FuzzInputs>({
  id: 'ssh.fuzz',
  protocol: 'ssh',
  label: 'SSH',
  normalRequest: 'SSH identification and KEXINIT exchange',
  title: 'SSH identification and KEXINIT fuzzing with essential-function checks',
  description:
    'Mutates the client\'s identification line and its SSH_MSG_KEXINIT (RFC 4253 §4.2, §6, §7.1): version digits, '
    + 'separators and line end of the identification, plus lines the spec forbids or the server may not expect (LF only, '
    + 'no line end, longer than 255 characters, empty or NUL software version, SSH-1.99, SSH-1.5, SSH-3.0, text before '
    + 'it); packet length, padding length, message code, cookie, the length and first character of each of the ten '
    + 'name-lists, first_kex_packet_follows and the reserved field of the KEXINIT, which is sent after a valid '
    + 'identification once the server\'s own has arrived; truncations, consistent cuts, extensions and random mutations '
    + 'fill the budget. The seed fixes the cases. Each case goes on its own connection at a capped rate; after each one '
    + 'the server must again send its identification and KEXINIT, and the run\'s essential-function monitor must not '
    + 'report a loss (CR 3.5). Every case is recorded (fuzz-cases.ndjson) and can be re-sent with `iacs-probe replay`.',
  appliesTo: ['ssh'],
  target: (_ctx, service) => sshFuzzTarget(service, {}),
});
