import { AuthRejected, TargetTimeout, TargetUnreachable } from '../../sdk';
import { OIDS, SnmpClient, type SnmpAccess, type SnmpEndpoint } from '../snmp';
import type { LoadGenerator, RequestOutcome } from './steps';

export interface SnmpFloodOptions {
  readonly endpoint: SnmpEndpoint;
  /** The profile's community (v1/v2c), else its v3 user. */
  readonly access: SnmpAccess;
  /** The object each GetRequest asks for (default sysUpTime.0). */
  readonly oid?: string;
  /** A request not answered within this long counts as unanswered (UDP loss or a silent agent). */
  readonly requestTimeoutMs: number;
  /** Requests waiting at most: UDP does not push back, so this bounds only the client's memory. */
  readonly maxInFlight?: number;
}

/** Error statuses an agent answers when it sheds work (RFC 3416: tooBig, genErr; v1 agents answer genErr). */
const SHEDDING = new Set(['TooBig', 'GeneralError']);

/**
 * SNMP GetRequests over one UDP socket, answers matched by request id (net-snmp's session, no retries): a
 * GetResponse with noError is an answer, tooBig/genErr a refusal, anything else or no answer in time an error.
 * On a connected socket an ICMP port-unreachable fails the rest of the flood at once ("ECONNREFUSED").
 */
export function snmpGetFlood(options: SnmpFloodOptions): LoadGenerator {
  const kinds: Record<string, number> = {};
  const fail = (kind: string) => { kinds[kind] = (kinds[kind] ?? 0) + 1; };
  const controller = new AbortController();
  const client = new SnmpClient(options.endpoint, options.access, { timeoutMs: options.requestTimeoutMs, retries: 0, signal: controller.signal }, { cancelledByBatch: true });
  const oid = options.oid ?? OIDS.sysUpTime;
  let inFlight = 0;
  const send = async (): Promise<RequestOutcome> => {
    if (controller.signal.aborted) return 'error';
    inFlight++;
    try {
      const res = await client.get([oid]);
      if (res.errorStatus === 'NoError') return 'answered';
      fail(`errorStatus ${res.errorStatus}`);
      return SHEDDING.has(res.errorStatus) ? 'refused' : 'error';
    } catch (err) {
      fail(controller.signal.aborted ? 'stopped' : describeFailure(err));
      return 'error';
    } finally {
      inFlight--;
    }
  };
  return {
    maxInFlight: options.maxInFlight ?? 8192,
    inFlight: () => inFlight,
    send,
    close: () => {
      if (controller.signal.aborted) return;
      controller.abort();
      client.cancel(new Error('flood stopped'));
    },
    errorKinds: () => ({ ...kinds }),
  };
}

function describeFailure(err: unknown): string {
  if (err instanceof TargetTimeout) return 'unanswered (timeout)';
  if (err instanceof TargetUnreachable) return 'port unreachable (ICMP)';
  if (err instanceof AuthRejected) return 'USM report';
  return err instanceof Error ? err.message.slice(0, 80) : String(err);
}
