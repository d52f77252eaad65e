/** The algorithm tables of ssh2 (not covered by @types/ssh2): what this ssh2 build can negotiate. */
declare module 'ssh2/lib/protocol/constants' {
  export const SUPPORTED_KEX: readonly string[];
  export const SUPPORTED_SERVER_HOST_KEY: readonly string[];
  export const SUPPORTED_CIPHER: readonly string[];
  export const SUPPORTED_MAC: readonly string[];
  export const SUPPORTED_COMPRESSION: readonly string[];
}
