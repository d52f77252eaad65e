import { spawn } from 'node:child_process';
import type { StepResult } from '../load';

/** What a packet generator said about one run: packets it sent and replies it counted, or why it said nothing. */
export interface ToolStatistics {
  sent: number;
  received: number;
}

/** hping3's closing lines (stderr): "5000 packets transmitted, 4990 packets received, 0% packet loss". */
export function parseHping3Statistics(text: string): ToolStatistics | undefined {
  const m = /(\d+) packets (?:transmitted|tramitted), (\d+) packets received/.exec(text);
  return m ? { sent: Number(m[1]), received: Number(m[2]) } : undefined;
}

/** nping's summary (stdout): "Raw packets sent: 2000 (84.000KB) | Rcvd: 2000 (56.000KB) | Lost: 0 (0.00%)". */
export function parseNpingStatistics(text: string): ToolStatistics | undefined {
  const m = /Raw packets sent: (\d+) .*?\| Rcvd: (\d+)/.exec(text);
  return m ? { sent: Number(m[1]), received: Number(m[2]) } : undefined;
}

/** After SIGINT (the tools print their statistics on it) a generator gets this long before SIGKILL. */
export const KILL_GRACE_MS = 400;
/** A run may last this much longer than its step before it is interrupted (process start, the last reply). */
const OVERRUN_MS = 100;

export interface ToolStepOptions {
  binary: string;
  argv: readonly string[];
  parse: (output: string) => ToolStatistics | undefined;
  durationMs: number;
  /** Aborts the run (Ctrl-C, the function lost): SIGINT at once, SIGKILL KILL_GRACE_MS later. */
  stop: AbortSignal;
  label: string;
  rate: number;
  /** Reads the sending interface's transmitted-packet counter, where it is the storm's own link (not loopback). */
  txPackets?: () => number | undefined;
}

/**
 * Runs a generator for one step and measures it: `sent` is the tool's own count (its statistics line), the
 * duration is the process's life, and the sending interface's transmit counter is recorded next to it where
 * there is one. The tool is interrupted when the step's time is up (its packet count should end it first),
 * and at once when `stop` aborts; either way it is dead within KILL_GRACE_MS of the interrupt.
 */
export function runToolStep(options: ToolStepOptions): Promise<StepResult & { measuredBy: string; interfaceTx?: number }> {
  const { binary, argv, stop } = options;
  return new Promise((resolve) => {
    const txBefore = options.txPackets?.();
    const started = Date.now();
    const child = spawn(binary, [...argv], { stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    child.stdout.on('data', (d: Buffer) => { output = (output + d.toString()).slice(-8000); });
    child.stderr.on('data', (d: Buffer) => { output = (output + d.toString()).slice(-8000); });
    let interruptedBy: string | undefined;
    let killTimer: NodeJS.Timeout | undefined;
    const interrupt = (why: string) => {
      if (interruptedBy || child.exitCode !== null || child.signalCode !== null) return;
      interruptedBy = why;
      child.kill('SIGINT');
      killTimer = setTimeout(() => child.kill('SIGKILL'), KILL_GRACE_MS);
    };
    const onStop = () => interrupt('aborted');
    const timeUp = setTimeout(() => interrupt('step time'), options.durationMs + OVERRUN_MS);
    if (stop.aborted) onStop();
    else stop.addEventListener('abort', onStop, { once: true });
    let finished = false;
    const finish = (spawnError?: string) => {
      if (finished) return;
      finished = true;
      clearTimeout(timeUp);
      clearTimeout(killTimer);
      stop.removeEventListener('abort', onStop);
      const durationMs = Math.max(1, Date.now() - started);
      const stats = options.parse(output);
      const txAfter = options.txPackets?.();
      const interfaceTx = txBefore !== undefined && txAfter !== undefined ? txAfter - txBefore : undefined;
      const sent = stats?.sent ?? interfaceTx ?? 0;
      const errorKinds: Record<string, number> = {};
      if (spawnError) errorKinds[spawnError] = 1;
      else if (!stats) errorKinds[`no statistics from ${binary.split('/').pop()} (${interruptedBy === 'aborted' ? 'killed' : `exit ${child.exitCode ?? child.signalCode}`})${output.trim() ? `: ${output.trim().split('\n').at(-1)}` : ''}`] = 1;
      const perSecond = (n: number) => Math.round((n * 1000) / durationMs);
      resolve({
        label: options.label, targetRate: options.rate, durationMs, sent, answered: stats?.received ?? 0, refused: 0, errors: stats ? 0 : 1, backlogged: 0,
        achievedRate: perSecond(sent), answeredRate: perSecond(stats?.received ?? 0), errorKinds,
        ...(interruptedBy === 'aborted' ? { stoppedBy: 'aborted' } : {}),
        measuredBy: stats ? `${binary.split('/').pop()} statistics` : interfaceTx !== undefined ? 'interface tx counter' : 'nothing',
        ...(interfaceTx !== undefined ? { interfaceTx } : {}),
      });
    };
    child.once('error', (err) => finish(`cannot run ${binary}: ${err.message}`));
    child.once('close', () => finish());
  });
}
