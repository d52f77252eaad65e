/** UDP port scanning: protocol payloads that make a listening service answer, and a scanner that paces its
 * re-probes for devices that rate-limit ICMP errors. Every network call takes an AbortSignal. */
export * from './payloads';
export * from './scan';
