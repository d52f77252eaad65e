import type { ActionKind, ActionLog } from '../../sdk';
import type { HeldSession, LoginChannel, LoginOutcome } from './types';

/**
 * The login layer tells the run's action log what each credential check and session did on the device, so
 * that every probe that logs in feeds the audit probes without doing anything itself.
 */
const KIND_OF: Record<LoginOutcome, ActionKind | undefined> = {
  accepted: 'login-succeeded',
  rejected: 'login-failed',
  refused: 'login-refused',
  unsupported: undefined, // the interface never checked the credential: nothing for the device to log
};

function recordingSession(session: HeldSession, actions: ActionLog, account: string, label: string): HeldSession {
  let closed = false;
  return {
    isAlive: (signal) => session.isAlive(signal),
    closedAt: () => session.closedAt(),
    ...(session.grantedIdleTimeoutMs !== undefined ? { grantedIdleTimeoutMs: session.grantedIdleTimeoutMs } : {}),
    close: async () => {
      await session.close();
      if (closed) return;
      closed = true;
      actions.record({ kind: 'session-closed', account, detail: label });
    },
  };
}

/** The channel, with every check and session recorded in the action log (user names only, never passwords). */
export function recordingChannel(channel: LoginChannel, actions: ActionLog): LoginChannel {
  const wrapped: LoginChannel = {
    kind: channel.kind,
    label: channel.label,
    get details() {
      return channel.details;
    },
    tryLogin: async (username, password, signal) => {
      const at = Date.now();
      const result = await channel.tryLogin(username, password, signal);
      const kind = KIND_OF[result.outcome];
      if (kind) actions.record({ kind, account: username, at, detail: `${channel.label}: ${result.response.status ?? result.outcome}` });
      return result;
    },
  };
  if (!channel.openSession) return wrapped;
  return {
    ...wrapped,
    tryLogin: wrapped.tryLogin,
    openSession: async (username, password, signal) => {
      const at = Date.now();
      const opening = await channel.openSession!(username, password, signal);
      if (!opening.opened) {
        actions.record({ kind: 'login-refused', account: username, at, detail: `${channel.label}: session refused (${opening.response.status ?? 'no status'})` });
        return opening;
      }
      actions.record({ kind: 'login-succeeded', account: username, at, detail: channel.label });
      actions.record({ kind: 'session-opened', account: username, detail: channel.label });
      return { ...opening, session: recordingSession(opening.session, actions, username, channel.label) };
    },
  };
}
