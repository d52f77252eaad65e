import type * as Ssh2Constants from 'ssh2/lib/protocol/constants';
import type { Algorithms } from 'ssh2';
import { lazyModule } from '../lazy';
import { runSsh2Client } from './client';
import { describeHostKey, hostKeyFamily, type HostKeyInfo } from './keys';

const ssh2 = lazyModule<typeof Ssh2Constants>('ssh2/lib/protocol/constants');

/** What ssh2 (the library our key exchanges use) can negotiate, for callers that must filter (read on use). */
export const SSH2_SUPPORTED = {
  get kex() { return ssh2.SUPPORTED_KEX; },
  get serverHostKey() { return ssh2.SUPPORTED_SERVER_HOST_KEY; },
  get cipher() { return ssh2.SUPPORTED_CIPHER; },
  get mac() { return ssh2.SUPPORTED_MAC; },
  get compress() { return ssh2.SUPPORTED_COMPRESSION; },
};

export interface HostKeyResult {
  /** The host-key algorithm the server offered. */
  algorithm: string;
  /** Present when the key was obtained. */
  key?: HostKeyInfo;
  /** True when the key exchange completed, i.e. the server proved possession with this algorithm. */
  signatureVerified?: boolean;
  /** Host-key algorithm it was obtained through (differs for rsa-sha2-* sharing one RSA key). */
  via?: string;
  /** Why the key could not be obtained. */
  error?: string;
}

export interface HostKeyOptions {
  host: string;
  port: number;
  signal: AbortSignal;
  /** Per connection. */
  timeoutMs: number;
}

/**
 * Obtains the host key behind one host-key algorithm: a key exchange restricted to that algorithm,
 * with a verifier that records the key the server sends. The exchange is allowed to finish (so the
 * server's signature is checked) and the connection is closed before authentication.
 */
export async function fetchHostKey(algorithm: string, opts: HostKeyOptions): Promise<HostKeyResult> {
  let blob: Buffer | undefined;
  const algorithms = {
    serverHostKey: [algorithm], kex: [...ssh2.SUPPORTED_KEX], cipher: [...ssh2.SUPPORTED_CIPHER], hmac: [...ssh2.SUPPORTED_MAC],
    compress: [...ssh2.SUPPORTED_COMPRESSION],
  } as Algorithms; // ssh2's typed unions lag behind the names it supports at run time
  return runSsh2Client<HostKeyResult>({
    host: opts.host, port: opts.port, signal: opts.signal, timeoutMs: opts.timeoutMs,
    config: {
      username: 'iacs-probe', algorithms,
      hostVerifier: (key: Buffer) => {
        blob = Buffer.from(key);
        return true;
      },
      authHandler: (_methods, _partial, next) => next(false as never),
    },
  }, (client, ctl) => {
    client.on('handshake', () => {
      ctl.finish({ algorithm, key: blob ? describeHostKey(blob) : undefined, signatureVerified: true, via: algorithm });
    });
    // A failure after the key arrived (e.g. a bad signature) still tells us the key.
    ctl.onError = (err) => {
      if (!blob) return false;
      ctl.finish({ algorithm, key: describeHostKey(blob), signatureVerified: false, via: algorithm, error: err.message });
      return true;
    };
  });
}

/**
 * Host key of every offered host-key algorithm, one key exchange per key (the RSA signature variants
 * share a key). Algorithms ssh2 cannot negotiate (certificates, ssh-ed448, ...) are reported with an
 * error rather than guessed. Runs sequentially: embedded devices often allow few parallel connections.
 */
export async function fetchHostKeys(offered: readonly string[], opts: HostKeyOptions): Promise<HostKeyResult[]> {
  const byFamily = new Map<string, HostKeyResult>();
  const results: HostKeyResult[] = [];
  for (const algorithm of offered) {
    const family = hostKeyFamily(algorithm);
    const known = byFamily.get(family);
    if (known?.key) {
      results.push({ ...known, algorithm, signatureVerified: known.via === algorithm ? known.signatureVerified : undefined });
      continue;
    }
    if (!ssh2.SUPPORTED_SERVER_HOST_KEY.includes(algorithm)) {
      results.push({ algorithm, error: 'not supported by the SSH library the probe uses (ssh2); size not determined' });
      continue;
    }
    opts.signal.throwIfAborted();
    let result: HostKeyResult;
    try {
      result = await fetchHostKey(algorithm, opts);
    } catch (err) {
      if (opts.signal.aborted) throw err;
      result = { algorithm, error: err instanceof Error ? err.message : String(err) };
    }
    byFamily.set(family, result);
    results.push(result);
  }
  return results;
}
