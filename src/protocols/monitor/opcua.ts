import type { ClientSession, ClientSubscription, DataValue, OPCUAClient } from 'node-opcua';
import { MONITOR_DEFAULTS, type OpcuaWatchConfig } from '../../sdk';
import { discoverEndpoints, endpointPath, targetUrl, type DiscoveredEndpoint, type OpcuaTarget } from '../opcua/client';
import { clientForEndpoint, usableSecureEndpoints } from '../opcua/endpoints';
import type { ClientIdentity } from '../opcua/identity';
import { loadOpcua } from '../opcua/logging';
import { errorText, type Watch, type WatchResult } from './watch';

export interface OpcuaWatchOptions {
  readonly target: OpcuaTarget;
  readonly config: OpcuaWatchConfig;
  readonly identity: ClientIdentity;
  /** Used only on a secure endpoint that offers no Anonymous token. */
  readonly credential?: { readonly username: string; readonly password: string };
  readonly latencyToleranceMs: number;
  readonly name?: string;
}

type Login = { endpoint: DiscoveredEndpoint; token: 'anonymous' | 'username' };

/** Anonymous where offered (None first: reading a value needs no secure channel), else UserName on a secure endpoint. */
export function chooseLogin(endpoints: readonly DiscoveredEndpoint[], hasCredential: boolean): Login | string {
  const none = endpoints.find((e) => e.securityMode === 'None' && e.userTokens.includes('Anonymous'));
  if (none) return { endpoint: none, token: 'anonymous' };
  const { usable } = usableSecureEndpoints(endpoints);
  const anonymous = usable.find((e) => e.userTokens.includes('Anonymous'));
  if (anonymous) return { endpoint: anonymous, token: 'anonymous' };
  const username = usable.find((e) => e.userTokens.includes('UserName'));
  if (username && hasCredential) return { endpoint: username, token: 'username' };
  return username ? 'the device needs a UserName login: give credentials monitor.opcua (or opcua)' : 'no endpoint the monitor can open and log in on';
}

interface Live {
  client: OPCUAClient;
  session?: ClientSession;
  /** A CreateSession still under way when `open` gave up on it: teardown waits for it and closes what it made. */
  creating?: Promise<ClientSession>;
  subscription?: ClientSubscription;
  /** The longest a healthy server stays silent: revised publishing interval × max keep-alive count. */
  budgetMs: number;
  lastAt: number;
  value?: number | string;
  broken?: string;
}

/**
 * A subscription to one node (OPC UA Part 4 §5.13): each publication, a data change or a keep-alive, is due
 * within the budget the server granted (publishing interval × keep-alive count). A sample reads how late the
 * latest publication is beyond that budget: late by more than latencyToleranceMs is slow, by more than twice
 * that is a failure. A broken channel, session or subscription is replaced on the next sample.
 */
export function opcuaWatch(options: OpcuaWatchOptions): Watch {
  const { target, config } = options;
  const publishingIntervalMs = config.publishingIntervalMs ?? MONITOR_DEFAULTS.opcuaPublishingIntervalMs;
  let live: Live | undefined;
  const teardown = async () => {
    const l = live;
    live = undefined;
    if (!l) return;
    const quiet = (p: Promise<unknown> | undefined) => (p ? bounded(p, 2000).catch(() => undefined) : undefined);
    await quiet(l.subscription?.terminate());
    await quiet(l.session?.close());
    // A session created after `open` timed out would stay on the device until its timeout and take one of its
    // per-user slots (seen on the hardened emulator, 2 per user): wait for it a little and close it.
    if (!l.session && l.creating) {
      const late = await bounded(l.creating, 2000).catch(() => undefined);
      await quiet(late?.close());
    }
    await quiet(l.client.disconnect());
  };
  const open = async (timeoutMs: number, signal: AbortSignal): Promise<Live> => {
    const endpoints = await discoverEndpoints(target, { signal, timeoutMs });
    const login = chooseLogin(endpoints, options.credential !== undefined);
    if (typeof login === 'string') throw new Error(login);
    const lib = await loadOpcua();
    const client = clientForEndpoint(lib, login.endpoint, options.identity, timeoutMs, 60_000);
    const l: Live = { client, budgetMs: publishingIntervalMs, lastAt: Date.now() };
    live = l;
    const broke = (why: string) => () => { l.broken ??= why; };
    client.on('connection_lost', broke('connection lost'));
    client.on('close', broke('connection closed'));
    await bounded(client.connect(targetUrl(target, endpointPath(login.endpoint.endpointUrl))), timeoutMs);
    l.creating = client.createSession(login.token === 'anonymous'
      ? { type: lib.UserTokenType.Anonymous }
      : { type: lib.UserTokenType.UserName, userName: options.credential!.username, password: options.credential!.password });
    l.session = await bounded(l.creating, timeoutMs);
    l.session.on('session_closed', broke('session closed'));
    const sub = await bounded(l.session.createSubscription2({
      requestedPublishingInterval: publishingIntervalMs, requestedMaxKeepAliveCount: 2, requestedLifetimeCount: 60,
      maxNotificationsPerPublish: 0, publishingEnabled: true, priority: 1,
    }), timeoutMs);
    l.subscription = sub;
    l.budgetMs = sub.publishingInterval * Math.max(1, sub.maxKeepAliveCount);
    sub.on('keepalive', () => { l.lastAt = Date.now(); });
    sub.on('terminated', broke('subscription terminated'));
    const item = await bounded(sub.monitor(
      { nodeId: config.nodeId, attributeId: lib.AttributeIds.Value },
      { samplingInterval: Math.max(10, Math.floor(publishingIntervalMs / 2)), queueSize: 1, discardOldest: true },
      lib.TimestampsToReturn.Both,
    ), timeoutMs);
    item.on('changed', (dv: DataValue) => {
      l.lastAt = Date.now();
      if (dv.statusCode.isGood()) l.value = typeof dv.value.value === 'number' ? dv.value.value : String(dv.value.value);
      else l.broken ??= `${config.nodeId}: ${dv.statusCode.name}`;
    });
    return l;
  };
  return {
    spec: {
      name: options.name ?? 'opcua', counter: config.kind === 'counter',
      stallAfterMs: config.stallAfterMs ?? MONITOR_DEFAULTS.counterStallMs,
    },
    describe: `opcua ${target.host}:${target.port} subscription to ${config.nodeId} every ${publishingIntervalMs} ms (${config.kind ?? 'value'})`,
    async sample(timeoutMs, signal): Promise<WatchResult> {
      const started = Date.now();
      try {
        if (live?.broken) {
          const why = live.broken;
          await teardown();
          return { ok: false, latencyMs: Date.now() - started, error: why };
        }
        if (!live) {
          await teardown();
          const l = await open(timeoutMs, signal);
          // The first publication after CreateSubscription carries the initial value.
          await waitFor(() => l.value !== undefined || l.broken !== undefined, Math.max(0, timeoutMs - (Date.now() - started)), signal);
          if (l.value === undefined) throw new Error(l.broken ?? `no publication of ${config.nodeId} within ${timeoutMs} ms`);
          return { ok: true, latencyMs: 0, value: l.value };
        }
        const lateness = Math.max(0, Date.now() - live.lastAt - live.budgetMs);
        const ok = lateness <= 2 * options.latencyToleranceMs;
        return { ok, latencyMs: lateness, ...(live.value !== undefined ? { value: live.value } : {}), ...(ok ? {} : { error: `no publication for ${Date.now() - live.lastAt} ms (budget ${live.budgetMs} ms)` }) };
      } catch (err) {
        await teardown();
        return { ok: false, latencyMs: Date.now() - started, error: errorText(err) };
      }
    },
    close: teardown,
  };
}

/** Settles with `work`, or rejects after `ms` (the work is left to settle on its own). */
export function bounded<T>(work: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const limit = new Promise<never>((_r, reject) => { timer = setTimeout(() => reject(new Error(`no answer within ${ms} ms`)), ms); });
  work.catch(() => undefined);
  return Promise.race([work, limit]).finally(() => clearTimeout(timer));
}

async function waitFor(done: () => boolean, ms: number, signal: AbortSignal): Promise<void> {
  const until = Date.now() + ms;
  while (!done() && Date.now() < until && !signal.aborted) await new Promise((r) => setTimeout(r, 20));
}
