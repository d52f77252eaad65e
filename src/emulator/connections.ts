import type * as net from 'node:net';

/** How many TCP connections a device held at once, all its services together (see ConnectionMeter). */
export interface ConnectionStats {
  /** Connections accepted since the device started. */
  total: number;
  /** Connections open right now. */
  open: number;
  /** The most connections open at the same time, and when that level was first reached (ISO time). */
  peak: number;
  peakAt: string | null;
  /** The same per service (posture key, e.g. "ssh", "https", "https-plain"). */
  services: Record<string, { total: number; peak: number }>;
}

/**
 * Counts the TCP connections a device holds at once, at the device: a connection counts from the moment
 * the service accepts it until its socket closes. The bench uses it to check, at each target, that a run
 * kept its per-host budget. A connection the client has already closed still counts until the device reads
 * the FIN, as it would on a real device.
 */
export class ConnectionMeter {
  private total = 0;
  private open = 0;
  private peak = 0;
  private peakAt: string | null = null;
  private readonly perService = new Map<string, { total: number; open: number; peak: number }>();

  /** A listener for a server's 'connection' event (raw TCP sockets, also for TLS servers). */
  counter(service: string): (socket: net.Socket) => void {
    return (socket) => {
      const s = this.perService.get(service) ?? { total: 0, open: 0, peak: 0 };
      this.perService.set(service, s);
      this.total += 1;
      this.open += 1;
      s.total += 1;
      s.open += 1;
      s.peak = Math.max(s.peak, s.open);
      if (this.open > this.peak) {
        this.peak = this.open;
        this.peakAt = new Date().toISOString();
      }
      socket.once('close', () => {
        this.open -= 1;
        s.open -= 1;
      });
    };
  }

  stats(): ConnectionStats {
    return {
      total: this.total, open: this.open, peak: this.peak, peakAt: this.peakAt,
      services: Object.fromEntries([...this.perService].map(([k, v]) => [k, { total: v.total, peak: v.peak }])),
    };
  }
}
