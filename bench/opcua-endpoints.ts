/**
 * Benchmark (not a test): opcua.endpoints against the weak emulator vs a bare node-opcua OPCUAClient
 * doing the same GetEndpoints with the library's default timeouts and retries, on the same device in
 * the same run. No independent OPC UA scanner is installable here (no Debian package, PyPI unreachable,
 * nmap 7.93 ships no OPC UA script), so the peer is the library alone: the ratio is the cost of the
 * probe's bounds, certificate analysis, attempt executor and evidence writing.
 *
 *   npx tsx bench/opcua-endpoints.ts [runs]
 *
 * Prints one JSON line: median wall time per run for each and the ratio ours/peer.
 */
import * as crypto from 'node:crypto';
import { OPCUAClient, StaticCertificateChainProvider } from 'node-opcua';
import probe from '../probes/opcua/endpoints';
import { harnessIdentity } from '../src/protocols/opcua';
import { runProbe } from '../test/helpers/probe-harness';
import { startOpcua } from '../test/helpers/opcua';
import { median, timeMs as time } from './timing';



async function main(): Promise<void> {
  const runs = Number(process.argv[2] ?? 20);
  const { emulator, port } = await startOpcua('weak');
  const identity = harnessIdentity();
  try {
    const ours = async () => {
      const { attempt } = await runProbe(probe, { service: { port, protocol: 'opcua' } });
      if (attempt.status !== 'fail') throw new Error(`probe: ${attempt.status} ${attempt.message ?? ''}`);
    };
    const peer = async () => {
      // Library defaults, except an in-memory certificate so that no PKI is written to ~/.config.
      const client = OPCUAClient.create({
        endpointMustExist: false,
        certificateKeyPairProvider: new StaticCertificateChainProvider([identity.certificate], { hidden: crypto.createPrivateKey(identity.privateKeyPem) }),
      });
      await client.connect(`opc.tcp://127.0.0.1:${port}`);
      const endpoints = await client.getEndpoints();
      await client.disconnect();
      if (endpoints.length !== 5) throw new Error(`peer saw ${endpoints.length} endpoints`);
    };
    await ours();
    await peer();
    const a: number[] = [];
    const b: number[] = [];
    for (let i = 0; i < runs; i++) {
      a.push(await time(ours));
      b.push(await time(peer));
    }
    console.log(JSON.stringify({
      bench: 'opcua.endpoints vs bare node-opcua OPCUAClient getEndpoints', runs, node: process.version, peer: 'node-opcua 2.182.2',
      oursMedianMs: Math.round(median(a)), peerMedianMs: Math.round(median(b)), ratio: Number((median(a) / median(b)).toFixed(3)),
    }));
  } finally {
    await emulator.close();
  }
}

main().catch((err: unknown) => {
  console.error(err);
  process.exitCode = 1;
});
