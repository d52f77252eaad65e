/**
 * Makes the Docker kit's lab PKI (docs/docker.md, "Audit logging in the kit"): a lab CA certificate and the
 * collector's certificate and key for the harness container's bench address. The emulated PLCs trust the CA
 * (`emulate --syslog-ca`); the harness's lab collector presents the certificate (profiles/docker/eplc-*.yaml,
 * lab.tls). The key is public on purpose: it serves only the kit's internal bench network. The CA's key is not
 * kept, so nothing else can be issued under it. Valid for ten years; test/docker/kit.test.ts fails a year before
 * it ends. Run again with: npx tsx docker/lab/make-pki.ts
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { makeLabPki } from '../../src/protocols/lab';

/** The harness container's address on the bench network (docker/compose.yaml, services.harness). */
const KIT_LAB_ADDRESS = '172.29.62.250';

const dir = __dirname;
const pki = makeLabPki(dir, { address: KIT_LAB_ADDRESS, collectorName: 'harness', validDays: 3650 });
for (const file of [pki.files.senderCert, pki.files.senderKey]) fs.rmSync(file);
for (const file of [pki.files.caFile, pki.files.collectorCert, pki.files.collectorKey]) process.stdout.write(`${path.relative(process.cwd(), file)}\n`);
