import { ProbeError } from '../sdk';
import { findCase, replayCase } from '../runner/replay';
import { EXIT, UsageError, cancelOnSignals, intOption, parse, safetyList, type Io } from './common';

export const REPLAY_USAGE = `usage: iacs-probe replay <run-dir> <case-id> --allow destructive [--host HOST] [--wait MS] [--recovery MS]
                                                          [--secret NAME=ENV_VAR]

  Re-sends exactly the bytes of one fuzz case of a run (evidence/**/fuzz-cases.ndjson, e.g. the case a
  modbus.fuzz, http.fuzz or snmp.fuzz finding names) to the host and port the run sent it to, on a new connection, prints the
  device's reaction, then checks with the run's normal request whether the device still answers.
  --allow destructive  required: a fuzz case is destructive (it may crash the device)
  --host HOST          send to another host of the run's profile (hosts outside it are refused)
  --wait MS            how long to wait for the reaction (default: the run's waitMs)
  --recovery MS        how long the device may take to answer the normal request again (default: the run's)
  --secret NAME=ENV    a secret the case carried, redacted in the run (snmp: community), read from the
                       environment variable ENV (checked against the SHA-256 the run recorded)
  Nothing is written to the run folder. Exit 0 when the device still answers afterwards, 1 when it does
  not (the case kills the function again), 2 when the device cannot be reached, 3 usage.`;

export async function replayCommand(args: string[], io: Io): Promise<number> {
  const { values, positionals } = parse(args, {
    allow: { type: 'string', multiple: true }, host: { type: 'string' }, wait: { type: 'string' }, recovery: { type: 'string' },
    secret: { type: 'string', multiple: true },
  }, { min: 2, max: 2, names: 'the run folder and the case id' });
  if (!safetyList(values.allow).includes('destructive')) throw new UsageError('a fuzz case is destructive: add --allow destructive');
  const [runDir, caseId] = positionals;
  const found = findCase(runDir, caseId);
  const secrets = secretsFromEnv(values.secret);
  const cancel = cancelOnSignals(io);
  try {
    const r = await replayCase(runDir, found, {
      signal: cancel.signal, host: typeof values.host === 'string' ? values.host : undefined,
      secrets, waitMs: intOption('wait', values.wait, 20, 60_000), recoveryMs: intOption('recovery', values.recovery, 0, 600_000),
    });
    const c = found.record;
    io.out.write(`case ${c.id} (${found.file}): ${c.template}: ${c.mutation}\n`);
    io.out.write(`sent to ${r.host}:${r.port}: ${r.sent}\n`);
    io.out.write(`reaction: ${r.reaction.kind} (${r.reaction.detail})${r.reaction.hex ? `: ${r.reaction.hex}` : ''}\n`);
    io.out.write(`in the run: ${c.reaction.kind} (${c.reaction.detail}); still answered afterwards: ${c.stillAnswers ? 'yes' : 'no'}\n`);
    io.out.write(r.stillAnswers
      ? `afterwards: the device answers the normal request${r.recoveredAfterMs !== undefined ? ` (after ${r.recoveredAfterMs} ms)` : ''}\n`
      : `afterwards: no normal answer within ${found.campaign.recoveryMs} ms: the case kills the function\n`);
    return r.stillAnswers ? EXIT.ok : EXIT.failed;
  } catch (err) {
    if (cancel.signal.aborted) {
      io.err.write('iacs-probe replay: cancelled\n');
      return EXIT.incomplete;
    }
    const code = (err as NodeJS.ErrnoException).code;
    if (err instanceof ProbeError || (code && /^(ECONNREFUSED|EHOSTUNREACH|ENETUNREACH|ECONNRESET|ETIMEDOUT)$/.test(code))) {
      io.err.write(`iacs-probe replay: cannot reach ${values.host ?? found.campaign.host}:${found.campaign.port}: ${(err as Error).message}\n`);
      return EXIT.incomplete;
    }
    throw err;
  } finally {
    cancel.dispose();
  }
}

/** `--secret NAME=ENV_VAR`: the value comes from the environment, so it is not on the command line. */
function secretsFromEnv(specs: unknown): Record<string, string> {
  const out: Record<string, string> = {};
  for (const spec of Array.isArray(specs) ? (specs as string[]) : []) {
    const m = /^([a-z][\w.-]*)=(\w+)$/i.exec(spec);
    if (!m) throw new UsageError(`--secret ${spec}: expected NAME=ENV_VAR`);
    const value = process.env[m[2]];
    if (value === undefined) throw new UsageError(`--secret ${spec}: the environment variable ${m[2]} is not set`);
    out[m[1]] = value;
  }
  return out;
}
