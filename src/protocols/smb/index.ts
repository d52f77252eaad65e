/** SMB adapters: direct-TCP frames, SMB1/SMB2 NEGOTIATE offers, anonymous and guest NTLMSSP logons. */
export * from './frames';
export * from './ntlm';
export * from './client';
