import type { FrameTemplate } from './grammar';

/**
 * What a protocol gives the fuzz core: its templates, how one case is sent and the device's reaction read,
 * and the normal request that shows the device still works. `params` is enough for the factory to rebuild
 * the target when a case is replayed.
 */
export type ReactionKind = 'reply' | 'exception' | 'invalid' | 'close' | 'reset' | 'timeout' | 'connect-failed';
export interface DeviceReaction { kind: ReactionKind; hex: string; detail: string; elapsedMs: number }
export interface NormalCheck { ok: boolean; kind: ReactionKind; detail: string }
export interface FuzzTarget {
  protocol: string;
  transport: 'tcp' | 'udp';
  params: Record<string, unknown>;
  templates: FrameTemplate[];
  checkDescription: string;
  sendCase(c: { bytes: Buffer; template: string }, waitMs: number, signal: AbortSignal): Promise<DeviceReaction>;
  answersNormally(waitMs: number, signal: AbortSignal): Promise<NormalCheck>;
}
export type FuzzTargetFactory = (endpoint: { host: string; port: number }, params: Record<string, unknown>) => FuzzTarget;
