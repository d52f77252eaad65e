import type { ModbusWatchConfig } from '../../sdk';
import { MONITOR_DEFAULTS } from '../../sdk';
import { ModbusClientSession } from '../modbus/client';
import type { ModbusEndpoint } from '../modbus/connect';
import { errorText, timed, type Watch, type WatchResult } from './watch';

/**
 * Cyclic read of one register over a connection kept open between samples (reopened after a failure, as a
 * SCADA master would). A counter's stall is judged from the series (src/sdk/monitor.ts), not here.
 */
export function modbusWatch(endpoint: ModbusEndpoint, config: ModbusWatchConfig, defaultUnitId: number, name = 'modbus'): Watch {
  const unitId = config.unitId ?? defaultUnitId;
  const table = config.table === 'input' ? 'input-registers' : 'holding-registers';
  const counter = config.kind === 'counter';
  let session: ModbusClientSession | undefined;
  const drop = async () => {
    const s = session;
    session = undefined;
    if (s) await s.close().catch(() => undefined);
  };
  return {
    spec: { name, counter, stallAfterMs: config.stallAfterMs ?? (config.periodMs ? 3 * config.periodMs : MONITOR_DEFAULTS.counterStallMs) },
    describe: `modbus ${endpoint.host}:${endpoint.port} unit ${unitId} ${config.table ?? 'holding'} ${config.register} (${counter ? 'counter' : 'value'})`,
    sample: (timeoutMs, signal) => timed(timeoutMs, signal, async (): Promise<Omit<WatchResult, 'latencyMs'>> => {
      try {
        if (!session || session.isBroken) {
          await drop();
          // The monitor's own signal: the session outlives this sample (each request is bounded by its timeout).
          session = await ModbusClientSession.open(endpoint, { signal, unitId, requestTimeoutMs: timeoutMs, connectTimeoutMs: timeoutMs });
        }
        const reply = await session.read(table, config.register, 1);
        if (reply.status === 'ok') return { ok: true, value: reply.value[0] };
        if (reply.status !== 'exception') await drop();
        return { ok: false, error: reply.status === 'exception' ? `exception ${reply.code} (${reply.name})` : reply.status };
      } catch (err) {
        await drop();
        return { ok: false, error: errorText(err) };
      }
    }),
    close: drop,
  };
}
