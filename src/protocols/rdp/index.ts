/** RDP adapters: the X.224 security negotiation and the TLS handshake that follows it. */
export * from './negotiation';
