import type { MqttEndpoint } from './connection';
import type { ProtocolLevel } from './frames';
import { connectSession, type Credentials, type SessionEnd, type SessionOptions } from './session';

/** What happened when a second connection presented the client identifier of a connected one. */
export interface TakeoverResult {
  clientId: string;
  /** CONNACK of the second connection. */
  second: string;
  /** The first connection was ended by the broker (MQTT 3.1.1 §3.1.4, 5.0 §3.1.4: "session taken over"). */
  taken: boolean;
  /** How the first session ended, when it did. */
  firstEnded?: SessionEnd;
  /** When the first session was not ended: it still answered PINGREQ. */
  firstAlive?: boolean;
  /** Why the test could not be made (the first connection was refused). */
  notTested?: string;
}

/**
 * Connects twice with one client identifier (anonymous, or with the credentials given) and watches the
 * first connection for `takeoverWaitMs`: a broker that ends it on the second CONNECT lets whoever knows (or
 * guesses) a client identifier push that client off and take its session.
 */
export async function clientIdTakeover(
  endpoint: MqttEndpoint, options: SessionOptions & { clientId: string; level: ProtocolLevel; credentials?: Credentials; takeoverWaitMs: number },
): Promise<TakeoverResult> {
  const base = { signal: options.signal, waitMs: options.waitMs, transcript: options.transcript, connectTimeoutMs: options.connectTimeoutMs, clientId: options.clientId, level: options.level, credentials: options.credentials };
  const first = await connectSession(endpoint, { ...base, label: 'A' });
  if (first.status !== 'accepted') return { clientId: options.clientId, second: '', taken: false, notTested: `the first connection was not accepted (${first.status === 'refused' ? first.text : 'closed'})` };
  try {
    const second = await connectSession(endpoint, { ...base, label: 'B' });
    try {
      if (second.status !== 'accepted') {
        return { clientId: options.clientId, second: second.status === 'refused' ? second.text : 'closed without CONNACK', taken: false, firstAlive: await first.session.ping() };
      }
      const ended = await first.session.endedWithin(options.takeoverWaitMs);
      if (ended) return { clientId: options.clientId, second: second.text, taken: true, firstEnded: ended };
      return { clientId: options.clientId, second: second.text, taken: false, firstAlive: await first.session.ping() };
    } finally {
      if (second.status === 'accepted') second.session.close();
    }
  } finally {
    first.session.close();
  }
}
