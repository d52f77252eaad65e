import {
  AuthRejected, MissingInput, defineProbe, finding, judge, type Finding, type Judgement, type ProbeDefinition,
  inputsSchema,
} from '../../../sdk';
import { LoginBudget, type AuthProtocol, type HeldSession, type LoginResponse } from '..';
import { AUTH_LABELS, onEveryLoginService, PHASE, accountFor, accountLocks, channelOf, notDetermined } from './common';

export interface SessionsInputs {
  /** Extra time after the configured idle timeout before the session is checked (default max(2 s, 20 %): devices check idle sessions periodically, node-opcua once a second). */
  idleGraceSeconds?: number;
}

/**
 * `<protocol>.sessions` (intrusive): opens k+1 concurrent sessions for one user (k =
 * policy.sessions.maxConcurrent) and sees whether the limit holds (the last refused, or an earlier one
 * ended); holds one session idle for policy.sessions.idleTimeoutSeconds plus a grace and sees whether the
 * device ended it. An idle time beyond the attempt's budget is not determined.
 */
export function sessionsProbe(protocol: AuthProtocol): ProbeDefinition<SessionsInputs> {
  const id = `${protocol}.sessions`;
  return defineProbe<SessionsInputs>({
    id,
    ...onEveryLoginService(protocol),
    title: `${AUTH_LABELS[protocol]} concurrent-session limit and idle-session termination`,
    description:
      'With credentials.sessions.<protocol> (or the protocol\'s own) opens policy.sessions.maxConcurrent + 1 sessions at '
      + 'once and checks that the device refuses the last or ends an earlier one (CR 2.7); then holds one session without '
      + 'activity for policy.sessions.idleTimeoutSeconds plus a grace and checks that the device ended it (CR 2.6). '
      + 'Sessions: an authenticated SSH connection, an OPC UA session (the channel is kept up with session-less '
      + 'GetEndpoints), a web session cookie. HTTP basic authentication has no session to test.',
    requirements: ['CR 2.6', 'CR 2.7'],
    findings: {
      'limit-exceeded': 'more concurrent sessions of one user were open than the documented limit',
      'idle-not-closed': 'a session idle for longer than the documented timeout still worked',
    },
    safety: 'intrusive',
    timeoutMs: 600_000,
    phase: PHASE.sessions,
    inputs: {
      schema: inputsSchema({ idleGraceSeconds: { type: 'number', minimum: 0 } }),
      defaults: {},
    },
    locks: ({ host, service, credentials }) => {
      const user = accountFor(credentials, protocol, 'sessions')?.username;
      return user ? accountLocks(host, service, [user], 'exclusive') : [];
    },
    async run(ctx) {
      const account = accountFor(ctx.credentials, protocol, 'sessions');
      if (!account) throw new MissingInput(`the profile gives no account (credentials.sessions.${protocol} or credentials.${protocol}) for the session tests`);
      const channel = await channelOf(ctx);
      if ('unsupported' in channel) return notDetermined(channel.unsupported);
      const policy = ctx.policy.sessions ?? {};
      if (policy.maxConcurrent === undefined && policy.idleTimeoutSeconds === undefined) {
        throw new MissingInput('the profile documents no session policy (policy.sessions.maxConcurrent, policy.sessions.idleTimeoutSeconds)');
      }
      if (!channel.openSession) return notDetermined(`${channel.label} keeps no session (every request carries the credentials)`);
      const open = channel.openSession.bind(channel);
      const budget = new LoginBudget(ctx.ledger, ctx.policy, ctx.host.host);
      const held: HeldSession[] = [];
      const closeAll = async () => {
        await Promise.all(held.splice(0).map((s) => s.close()));
      };
      const log: string[] = [];
      const note = (line: string) => {
        log.push(line);
        ctx.evidence.append('sessions.log', line);
      };
      const observations: Record<string, unknown> = { interface: channel.label, account: account.username, policy };
      const findings: Finding[] = [];
      const judgements: Judgement[] = [];
      const path = () => ctx.evidence.save('sessions.json', { ...observations, details: channel.details, log });
      try {
        if (policy.maxConcurrent !== undefined) {
          const k = policy.maxConcurrent;
          const refusals: { index: number; response: LoginResponse }[] = [];
          for (let i = 1; i <= k + 1; i++) {
            if (i === k + 1 && held.length > 0) {
              // Just before session k+1: a use of each held session (on interfaces where a check is one), so that a
              // short idle timeout does not end one while the limit is being exercised.
              const aliveBefore = (await Promise.all(held.map((s) => s.isAlive(ctx.signal)))).filter(Boolean).length;
              note(`before session ${k + 1}: ${aliveBefore} of ${held.length} opened session(s) alive`);
            }
            const o = await open(account.username, account.password, ctx.signal);
            note(`session ${i}/${k + 1}: ${o.opened ? 'opened' : `refused (${o.response.status ?? ''} ${o.response.message ?? ''})`.trim()}`);
            if (o.opened) {
              held.push(o.session);
              budget.record(account.username, 'accepted');
            } else {
              // A refused session may count as a failed login on some devices.
              budget.record(account.username, 'rejected');
              refusals.push({ index: i, response: o.response });
            }
          }
          if (refusals.some((r) => r.index === 1)) throw new AuthRejected(`${account.source} (${account.username}) could not open a first session: ${refusals[0].response.status ?? 'refused'}`);
          const alive = await Promise.all(held.map((s) => s.isAlive(ctx.signal)));
          const aliveCount = alive.filter(Boolean).length;
          const openedCount = held.length;
          note(`${aliveCount} of ${openedCount} opened session(s) still alive`);
          // A refusal proves the limit only if it goes away with the limit: with one session closed, the same
          // login must open a session (a server error or a refusal for any other reason would not).
          let limitShown: boolean | undefined;
          if (refusals.length > 0 && aliveCount <= k && held.length > 0) {
            await held.shift()!.close();
            const retry = await open(account.username, account.password, ctx.signal);
            budget.record(account.username, retry.opened ? 'accepted' : 'rejected');
            note(`with one session closed, session ${k + 1} again: ${retry.opened ? 'opened' : `refused (${retry.response.status ?? ''})`}`);
            limitShown = retry.opened;
            if (limitShown) ctx.actions.record({ kind: 'session-limit-hit', account: account.username, detail: `${channel.label}: session ${k + 1} refused with ${k} open` });
            if (retry.opened) held.push(retry.session);
          }
          await closeAll();
          observations.concurrent = {
            limit: k, attempted: k + 1, opened: k + 1 - refusals.length, refused: refusals.map((r) => ({ index: r.index, status: r.response.status ?? null })),
            aliveAtEnd: aliveCount, ...(limitShown !== undefined ? { openedAfterOneClosed: limitShown } : {}),
          };
          if (aliveCount > k) {
            findings.push(finding({
              code: 'limit-exceeded', severity: 'medium', requirements: ['CR 2.7'], evidence: [path()],
              message: `${channel.label}: ${aliveCount} concurrent sessions for ${account.username} were open at once, more than the documented limit of ${k}`,
            }));
            judgements.push({ requirement: 'CR 2.7', coverage: 'full', passReason: '' });
          } else if (limitShown === false) {
            (observations.concurrent as Record<string, unknown>).notDetermined = `session ${k + 1} was refused (${refusals.at(-1)?.response.status ?? 'no status'}) and still is with one session closed: the refusal is not the session limit`;
          } else if (limitShown === undefined) {
            // Session k+1 opened while an earlier one had ended (an idle timeout, say): fewer than k+1 were ever open
            // at once, so the limit was not exercised; a device without any limit looks the same.
            (observations.concurrent as Record<string, unknown>).notDetermined = `session ${k + 1} opened, but only ${aliveCount} of the ${openedCount} opened sessions were still alive: an earlier one had ended, so ${k + 1} were never open at once and the limit was not exercised`;
          } else {
            judgements.push({
              requirement: 'CR 2.7', coverage: 'full',
              passReason: `${channel.label}: with ${k} session(s) open, session ${k + 1} was refused (${refusals.at(-1)?.response.status ?? 'no status'}), and opened once one was closed`,
            });
          }
        }
        if (policy.idleTimeoutSeconds !== undefined) {
          const idle = policy.idleTimeoutSeconds;
          const grace = ctx.inputs.idleGraceSeconds ?? Math.max(2, idle * 0.2);
          const needMs = (idle + grace) * 1000 + 5000;
          if (Date.now() + needMs > ctx.deadline) {
            observations.idle = { configuredSeconds: idle, notDetermined: `waiting ${idle + grace} s does not fit the attempt's budget (raise probes.${id}.timeoutMs)` };
          } else {
            const o = await open(account.username, account.password, ctx.signal);
            if (!o.opened) throw new AuthRejected(`${account.source} (${account.username}) could not open a session for the idle test: ${o.response.status ?? 'refused'}`);
            held.push(o.session);
            const openedAt = Date.now();
            note(`idle session opened${o.session.grantedIdleTimeoutMs !== undefined ? ` (server grants ${o.session.grantedIdleTimeoutMs / 1000} s idle timeout)` : ''}; waiting ${idle + grace} s`);
            await ctx.wait((idle + grace) * 1000, `sessions: keep a session idle for ${idle + grace} s (documented idle timeout ${idle} s)`);
            const alive = await o.session.isAlive(ctx.signal);
            const closedAt = o.session.closedAt();
            note(`after ${((Date.now() - openedAt) / 1000).toFixed(1)} s idle: ${alive ? 'still alive' : 'ended'}`);
            await closeAll();
            observations.idle = {
              configuredSeconds: idle, waitedSeconds: idle + grace, endedByDevice: !alive,
              closedAfterSeconds: closedAt !== undefined ? Number(((closedAt - openedAt) / 1000).toFixed(2)) : null,
              ...(o.session.grantedIdleTimeoutMs !== undefined ? { grantedIdleTimeoutSeconds: o.session.grantedIdleTimeoutMs / 1000 } : {}),
            };
            if (alive) {
              findings.push(finding({
                code: 'idle-not-closed', severity: 'medium', requirements: ['CR 2.6'], evidence: [path()],
                message: `${channel.label}: a session idle for ${idle + grace} s was still usable (documented idle timeout ${idle} s)`,
              }));
            }
            judgements.push({ requirement: 'CR 2.6', coverage: 'partial', passReason: `${channel.label}: the device ended a session idle for at most ${idle + grace} s (documented ${idle} s)` });
          }
        }
      } finally {
        await closeAll();
      }
      path();
      if (judgements.length === 0) {
        const why = [observations.concurrent, observations.idle].map((part) => (part as { notDetermined?: string } | undefined)?.notDetermined).filter(Boolean);
        return notDetermined(why.length > 0 ? why.join('; ') : 'nothing to test', observations);
      }
      return { observations, findings, outcomes: judge(judgements, findings) };
    },
  });
}
