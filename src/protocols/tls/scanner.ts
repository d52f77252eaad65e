/**
 * The hello exchanges of a scan, made to hold up against slow and rate-limiting devices. Once the server has
 * answered TLS, a try that times out, is reset or closed without a TLS byte, or gets garbage is sent again
 * after a growing pause (never past the deadline). An exchange that stays unanswered is reported as such,
 * never as a refusal. A replay of a hello the server answered before, sent right after, tells a server that
 * cuts off this one hello every time (its way of refusing it: the replay is answered at once) from a rate
 * limiter (the replay is cut off too) and from a server that stopped answering (the rest is then not sent).
 */
import { ProtocolViolation, TargetTimeout, isAbort, sleep } from '../../sdk';
import { helloExchange, type HelloOutcome, type HelloRequest, type TlsEndpoint } from './hello';
import { PROTOCOLS, PROTOCOL_VERSION, TLS_EMPTY_RENEGOTIATION_INFO_SCSV, suiteName, type TlsProtocol } from './suites';
import { makeKeyShare, type KeyShare } from './tls13';
import { SIGNATURE_SCHEMES, groupName } from './wire';

export interface ScanOptions extends HelloPacing {
  readonly signal: AbortSignal;
  /** Epoch ms by which the scan must be over (the attempt's deadline). */
  readonly deadline: number;
  /** Budget for one hello exchange (default 5000 ms, never past the deadline). */
  readonly helloTimeoutMs?: number;
  /** Tries per exchange once the server has answered TLS (default 3; 1 turns retries off). */
  readonly tries?: number;
  /** Pause before the second try (default 500 ms), doubled before each further one. */
  readonly retryDelayMs?: number;
  /** Most suites offered in one ClientHello (default 128; some stacks fail on longer lists). */
  readonly chunkSize?: number;
  /** Protocols to test (default all). */
  readonly protocols?: readonly TlsProtocol[];
  /** Called after every try of every exchange, for the evidence transcript. */
  readonly onExchange?: (entry: ExchangeRecord) => void;
  /** The pause before a retry: a probe passes ctx.wait so that the pause is journaled (default: sleep on signal). */
  readonly wait?: (ms: number, why: string) => Promise<void>;
}

/** How hellos are paced, as the TLS probes take it from the profile (inputs of the same names). */
export interface HelloPacing {
  readonly helloTimeoutMs?: number;
  readonly tries?: number;
  readonly retryDelayMs?: number;
}

/** JSON Schema properties for HelloPacing, shared by the probes that send raw hellos. */
export const HELLO_PACING_SCHEMA = {
  helloTimeoutMs: { type: 'integer', minimum: 100, maximum: 60000, description: 'budget for one hello exchange (ms, default 5000)' },
  tries: { type: 'integer', minimum: 1, maximum: 6, description: 'tries per hello once the service has answered TLS (default 3; for slow or rate-limiting devices)' },
  retryDelayMs: { type: 'integer', minimum: 0, maximum: 30000, description: 'pause before the second try, doubled before each further one (ms, default 500)' },
} as const;

/** The pacing fields of a probe's inputs, without the others. */
export function helloPacing(inputs: HelloPacing): HelloPacing {
  const { helloTimeoutMs, tries, retryDelayMs } = inputs;
  return { helloTimeoutMs, tries, retryDelayMs };
}

export interface ExchangeRecord {
  readonly purpose: string;
  readonly protocol: TlsProtocol;
  /** 1 for the first try of an exchange, 2, 3 ... for the same hello sent again. */
  readonly try: number;
  readonly offered: number;
  /** "TLSv1.2 TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256 x25519", "alert handshake_failure", "closed", "reset",
   * "timeout", "not TLS", or a connection error code such as "ECONNREFUSED" */
  readonly result: string;
  readonly clientHello: string;
  readonly serverResponse: string;
}

/** An exchange without a usable answer: every try timed out, was cut off or got garbage, or it was never sent. */
export interface NoAnswer {
  readonly kind: 'unanswered';
  /** Tries sent; 0 when the exchange was not sent (the server had stopped answering, or time ran out). */
  readonly tries: number;
  /** "unanswered after 3 tries (timeout, reset, timeout)", or "not sent: <why>". */
  readonly why: string;
}

export type Answer = HelloOutcome | NoAnswer;

/** EC groups offered with TLS ≤ 1.2: strong first, then every legacy curve (FFDHE is left out on purpose:
 * RFC 7919 would make servers without it hide their DHE suites, or use a better group than real clients get). */
export const EC_GROUPS: readonly number[] = [29, 23, 30, 24, 25, 26, 27, 28, 22, 21, 20, 19, 18, 17, 16, 15, ...Array.from({ length: 14 }, (_, i) => i + 1)];
export const TLS13_GROUPS: readonly number[] = [29, 23, 30, 24, 25, 31, 32, 33, 256, 257, 258, 259, 260, 0x11ec, 0x11eb, 0x11ed];

/** Connection errors that, once the server has spoken TLS, mean "no answer this time" (overload, restart). */
const TRANSIENT_CODES = new Set(['ECONNREFUSED', 'ECONNRESET', 'EPIPE', 'ETIMEDOUT', 'EHOSTUNREACH', 'ENETUNREACH']);

function silence(err: unknown): string | undefined {
  if (err instanceof TargetTimeout) return 'timeout';
  if (err instanceof ProtocolViolation) return 'not TLS';
  const code = (err as NodeJS.ErrnoException | null)?.code;
  return typeof code === 'string' && TRANSIENT_CODES.has(code) ? code : undefined;
}

function describe(out: HelloOutcome): string {
  if (out.kind === 'alert') return `alert ${out.alert?.name ?? ''}`;
  if (out.kind === 'closed') return out.reset ? 'reset' : 'closed';
  const sh = out.serverHello;
  if (!sh) return 'hello';
  const parts = [`0x${sh.version.toString(16)}`, suiteName(sh.suite)];
  const v = PROTOCOLS.find((p) => PROTOCOL_VERSION[p] === sh.version);
  if (v) parts[0] = v;
  if (sh.helloRetryRequest) parts.push('HelloRetryRequest');
  if (sh.keyShareGroup !== undefined) parts.push(groupName(sh.keyShareGroup));
  if (out.keyExchange?.kind === 'ecdhe') parts.push(groupName(out.keyExchange.group));
  if (out.keyExchange?.kind === 'dhe') parts.push(`DH ${out.keyExchange.primeBits}`);
  return parts.join(' ');
}

type Try = { answer: HelloOutcome } | { failure: string; closed?: HelloOutcome };
type Tries = { answer: HelloOutcome; tried: number } | { failures: string[]; closed?: HelloOutcome };

/** Everything the exchanges of one scan share: counters, notes, what could not be determined. */
export class Scanner {
  exchanges = 0;
  /** Tries sent again because the one before got no answer. */
  retries = 0;
  sawTls = false;
  /** What stayed undetermined, by version or check name (filled by the scan), with why. */
  readonly incomplete: Record<string, string> = {};
  private readonly notes: string[] = [];
  private readonly shares: KeyShare[];
  private readonly tries: number;
  private readonly retryDelayMs: number;
  private readonly finishBy: number;
  /** Why exchanges are no longer sent. */
  private stopped?: string;
  private notSent = 0;
  private lastAnswered?: { protocol: TlsProtocol; request: HelloRequest };

  constructor(private readonly endpoint: TlsEndpoint, private readonly options: ScanOptions) {
    this.shares = [makeKeyShare(29), makeKeyShare(23)];
    this.tries = Math.max(1, Math.floor(options.tries ?? 3));
    this.retryDelayMs = Math.max(0, options.retryDelayMs ?? 500);
    // End a little before the attempt's deadline, so that what the scan learnt can still be judged and saved.
    this.finishBy = options.deadline - Math.min(1000, Math.max(0, (options.deadline - Date.now()) / 20));
  }

  /** Notes on exchanges that needed retries or stayed unanswered, and on those never sent. */
  get allNotes(): string[] {
    return this.notSent > 0 ? [...this.notes, `${this.notSent} exchange(s) not sent: ${this.stopped}`] : [...this.notes];
  }

  /** One exchange. Before the server has ever answered TLS, timeouts and garbage end the scan (it is not TLS,
   * or it hangs); afterwards the hello is tried again, and what stays unanswered is returned as such. */
  async exchange(purpose: string, protocol: TlsProtocol, request: HelloRequest, flight = true, decrypt = false): Promise<Answer> {
    if (this.stopped !== undefined) {
      this.notSent++;
      return { kind: 'unanswered', tries: 0, why: `not sent: ${this.stopped}` };
    }
    const got = await this.withRetries(purpose, protocol, request, flight, decrypt);
    if ('answer' in got) {
      if (got.answer.kind !== 'closed') this.lastAnswered = { protocol, request };
      return got.answer;
    }
    const label = `${purpose} (${protocol})`;
    if (got.failures.length === 0) {
      this.notSent++;
      return { kind: 'unanswered', tries: 0, why: `not sent: ${this.stopped}` };
    }
    const why = `unanswered after ${got.failures.length} ${got.failures.length === 1 ? 'try' : 'tries'} (${got.failures.join(', ')})`;
    const replay = this.stopped === undefined ? await this.replay() : 'no';
    // Cut off every time, while a known hello sent right after is answered at once: this hello is refused. A rate
    // limiter (an empty token bucket, a full connection table) would have cut off the replay as well.
    if (replay === 'at once' && got.closed) {
      this.notes.push(`${label}: closed without an alert on each of ${got.failures.length} tries while a hello it answered before, sent right after, was answered at once: taken as its refusal`);
      return got.closed;
    }
    this.notes.push(`${label}: ${why}`);
    if (replay === 'no') this.stopped ??= 'the server stopped answering (a hello it had answered before stayed unanswered too)';
    return { kind: 'unanswered', tries: got.failures.length, why };
  }

  private async withRetries(purpose: string, protocol: TlsProtocol, request: HelloRequest, flight: boolean, decrypt: boolean): Promise<Tries> {
    const failures: string[] = [];
    let closed: HelloOutcome | undefined;
    const tries = this.sawTls ? this.tries : 1;
    for (let n = 1; n <= tries; n++) {
      const wait = n === 1 ? 0 : this.retryDelayMs * 2 ** (n - 2);
      if (Date.now() + wait >= this.finishBy) {
        if (!this.sawTls) throw new TargetTimeout(`TLS scan of ${this.endpoint.host}:${this.endpoint.port} ran out of time`);
        this.stopped ??= 'the attempt\'s time budget ran out';
        break;
      }
      if (n > 1) {
        const why = `tls: pause before try ${n} of ${purpose} (${protocol}) after ${failures.join(', ')}`;
        await (this.options.wait ? this.options.wait(wait, why) : sleep(wait, this.options.signal));
        this.retries++;
      }
      const got = await this.once(purpose, protocol, request, flight, decrypt, n);
      if ('answer' in got) {
        if (n > 1) this.notes.push(`${purpose} (${protocol}): answered on try ${n} (before: ${failures.join(', ')})`);
        return { answer: got.answer, tried: n };
      }
      failures.push(got.failure);
      closed = got.closed;
    }
    // Only a hello that is cut off every time may be the server's refusal; silence and garbage never are.
    const onlyClosed = failures.length > 0 && failures.every((f) => f === 'closed' || f === 'reset');
    return { failures, ...(onlyClosed ? { closed } : {}) };
  }

  private async once(purpose: string, protocol: TlsProtocol, request: HelloRequest, flight: boolean, decrypt: boolean, attempt: number): Promise<Try> {
    const { signal } = this.options;
    const record = (result: string, out?: HelloOutcome) => this.options.onExchange?.({
      purpose, protocol, try: attempt, offered: request.suites.length, result,
      clientHello: out?.sent.toString('hex') ?? '', serverResponse: out?.received.toString('hex') ?? '',
    });
    let out: HelloOutcome;
    try {
      const timeoutMs = Math.max(1, Math.min(this.options.helloTimeoutMs ?? 5000, this.finishBy - Date.now()));
      out = await helloExchange(this.endpoint, request, { signal, timeoutMs, flight, decrypt });
    } catch (err) {
      const why = isAbort(err, signal) || !this.sawTls ? undefined : silence(err);
      if (why === undefined) throw err;
      this.exchanges++;
      record(why);
      return { failure: why };
    }
    this.exchanges++;
    record(describe(out), out);
    if (out.kind === 'closed' && this.sawTls) return { failure: out.reset ? 'reset' : 'closed', closed: out };
    if (out.kind !== 'closed') this.sawTls = true;
    return { answer: out };
  }

  /** Replays the last hello the server answered: answered on the first try, after retries, or not at all. */
  private async replay(): Promise<'at once' | 'late' | 'no'> {
    const last = this.lastAnswered;
    if (!last) return 'no';
    const got = await this.withRetries('replay', last.protocol, last.request, false, false);
    if (!('answer' in got)) return 'no';
    return got.tried === 1 ? 'at once' : 'late';
  }

  request(protocol: TlsProtocol, suites: readonly number[], extra: Partial<HelloRequest> = {}): HelloRequest {
    const base = { signatureSchemes: SIGNATURE_SCHEMES, serverName: this.endpoint.serverName, statusRequest: true };
    if (protocol === 'TLSv1.3') {
      return { ...base, version: 0x0303, suites, supportedVersions: [0x0304], groups: TLS13_GROUPS, keyShares: this.shares, ...extra };
    }
    return {
      ...base, version: PROTOCOL_VERSION[protocol], suites: [...suites, TLS_EMPTY_RENEGOTIATION_INFO_SCSV], groups: EC_GROUPS,
      sessionId: Buffer.alloc(0), ...extra,
    };
  }
}
