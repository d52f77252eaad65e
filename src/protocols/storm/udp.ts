import * as dgram from 'node:dgram';
import { pause, type StepResult } from '../load';

const TICK_MS = 10;

/**
 * The Node generator for UDP storms (no raw socket needed): datagrams of `payloadBytes` zero bytes from one
 * connected socket, paced on a 10 ms tick like the request floods. It goes through dgram, so the run's scope
 * guard checks the destination. `sent` counts the datagrams the kernel accepted; ICMP port-unreachable answers
 * surface on a connected socket as ECONNREFUSED and are counted as replies.
 */
export async function udpStormStep(target: { address: string; port: number; payloadBytes: number }, rate: number, durationMs: number, budget: { left: number }, stop: AbortSignal, label: string): Promise<StepResult & { measuredBy: string }> {
  const socket = dgram.createSocket('udp4');
  const counts = { sent: 0, refusedByIcmp: 0, errors: 0 };
  const errorKinds: Record<string, number> = {};
  const note = (err: NodeJS.ErrnoException) => {
    if (err.code === 'ECONNREFUSED') counts.refusedByIcmp++;
    else {
      counts.errors++;
      errorKinds[err.code ?? err.message] = (errorKinds[err.code ?? err.message] ?? 0) + 1;
    }
  };
  socket.on('error', note);
  const payload = Buffer.alloc(target.payloadBytes);
  const started = Date.now();
  let pending = 0;
  let stoppedBy: string | undefined;
  try {
    await new Promise<void>((resolve, reject) => {
      socket.once('connect', resolve);
      socket.once('error', reject);
      socket.connect(target.port, target.address);
    });
    let issued = 0;
    const total = Math.ceil((rate * durationMs) / 1000);
    while (!stop.aborted) {
      const elapsed = Date.now() - started;
      if (elapsed >= durationMs || issued >= total) break;
      const due = Math.min(Math.floor((rate * elapsed) / 1000), total) - issued;
      for (let i = 0; i < due; i++, issued++) {
        if (budget.left <= 0) { stoppedBy = 'total cap'; break; }
        budget.left--;
        pending++;
        socket.send(payload, (err) => {
          pending--;
          if (err) note(err);
          else counts.sent++;
        });
      }
      if (stoppedBy) break;
      await pause(TICK_MS, stop);
    }
    if (stop.aborted) stoppedBy = 'aborted';
  } catch (err) {
    note(err as NodeJS.ErrnoException);
  } finally {
    // Let the kernel take what was handed over (at most 200 ms), so that `sent` is what it accepted.
    for (let waited = 0; pending > 0 && waited < 200; waited += TICK_MS) await pause(TICK_MS, AbortSignal.timeout(TICK_MS));
    await new Promise<void>((resolve) => socket.close(() => resolve()));
  }
  const durationMsTaken = Math.max(1, Date.now() - started);
  const perSecond = (n: number) => Math.round((n * 1000) / durationMsTaken);
  if (counts.refusedByIcmp > 0) errorKinds['ECONNREFUSED (ICMP port unreachable)'] = counts.refusedByIcmp;
  return {
    label, targetRate: rate, durationMs: durationMsTaken, sent: counts.sent, answered: counts.refusedByIcmp, refused: 0, errors: counts.errors, backlogged: 0,
    achievedRate: perSecond(counts.sent), answeredRate: perSecond(counts.refusedByIcmp), errorKinds, measuredBy: 'datagrams the kernel accepted (dgram send callbacks)',
    ...(stoppedBy ? { stoppedBy } : {}),
  };
}
