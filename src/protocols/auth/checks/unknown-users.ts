import type { ActionLog, ProbeContext, ServiceUnderTest } from '../../../sdk';
import { authProtocolOf, isUnsupported, openLoginChannel, type LoginOutcome } from '..';
import { recordingChannel } from '../actions';
import { wrongPassword } from './common';

/**
 * Failed logins that lock no real account: user names no device has (`<prefix><n>`), each through the
 * login layer of a declared service of the host, recorded in the action log as that service's events
 * (`via`), so the audit probes can look for them in the device's log. Used by host-scope probes that need
 * security events of their own (audit.outage provokes them while the lab collector is unreachable).
 */
export interface UnknownUserLogin {
  readonly service: string;
  readonly account: string;
  readonly at: number;
  readonly outcome: LoginOutcome;
}

/** The host's declared services that have a login interface this harness speaks. */
export function loginServices(services: readonly ServiceUnderTest[]): ServiceUnderTest[] {
  return services.filter((s) => authProtocolOf(s) !== undefined);
}

/** The action log with every action attributed to `service` instead of the attempt. */
function via(actions: ActionLog, service: ServiceUnderTest): ActionLog {
  return { record: (a) => actions.record({ ...a, via: { protocol: service.protocol, port: service.port } }), list: () => actions.list() };
}

/**
 * `count` failed logins on `service`, user names `<prefix><first>`, `<prefix><first+1>`, ... with random
 * wrong passwords. An interface without a usable login returns the reason instead. Transport problems throw
 * the SDK's typed errors (the device must answer: that is part of what is watched). `beforeEach` (optional)
 * runs before each login with the logins done so far, to pace them or stop early (false: stop).
 */
export async function failLoginsWithUnknownUsers(
  ctx: ProbeContext<unknown>, service: ServiceUnderTest,
  o: { prefix: string; first: number; count: number; beforeEach?: (done: readonly UnknownUserLogin[]) => Promise<boolean> },
): Promise<UnknownUserLogin[] | { unsupported: string }> {
  const channel = await openLoginChannel(service, { signal: ctx.signal, deadline: ctx.deadline, resolvePath: ctx.resolvePath });
  if (isUnsupported(channel)) return channel;
  const recording = recordingChannel(channel, via(ctx.actions, service));
  const done: UnknownUserLogin[] = [];
  for (let n = o.first; n < o.first + o.count; n++) {
    if (o.beforeEach && !(await o.beforeEach(done))) break;
    const account = `${o.prefix}${n}`;
    const at = Date.now();
    const result = await recording.tryLogin(account, wrongPassword(), ctx.signal);
    done.push({ service: service.name, account, at, outcome: result.outcome });
  }
  return done;
}
