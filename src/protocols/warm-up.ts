import { harnessIdentity } from './opcua/identity';
import { loadOpcua } from './opcua/logging';

/**
 * One-time costs of a protocol that are slow enough to matter, measured on a quiet 2-core machine (seconds on a busy
 * one): OPC UA loads node-opcua (0.6–0.9 s) and makes the harness's client certificate (0.3 s, an RSA key). ssh2,
 * net-snmp, modbus-serial and node-forge load in under 50 ms and are left to load on first use.
 */
const WARM_UPS: Partial<Record<string, () => Promise<unknown>>> = {
  opcua: async () => {
    await loadOpcua();
    harnessIdentity();
  },
};

/**
 * Pays a protocol's one-time costs before an attempt's clock starts, so they are not charged to whichever attempt
 * of that protocol comes first (with a short `timeoutMs` a closed port would read `timeout`, not `unreachable`).
 * A warm-up that fails is left for the attempt to meet and report.
 */
export async function warmUpProtocol(protocol: string | undefined): Promise<void> {
  const warmUp = protocol === undefined ? undefined : WARM_UPS[protocol];
  await warmUp?.().catch(() => undefined);
}
