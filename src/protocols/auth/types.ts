/**
 * One authentication layer over every interface that logs users in: SSH passwords, OPC UA UserName
 * tokens, HTTP basic authentication and HTTP login forms. A probe gets a LoginChannel for a declared
 * service and checks credentials through it, one check per call, without knowing the protocol.
 */

export type ChannelKind = 'ssh' | 'opcua' | 'http-basic' | 'http-form' | 'mqtt';

/**
 * What the interface answered to one credential check, as features an attacker could compare (never the
 * password): protocol status, visible text, size and time.
 */
export interface LoginResponse {
  /** HTTP status ("401", "303 -> /admin"), OPC UA StatusCode name, SSH methods left ("methods publickey,password"). */
  status?: string;
  /** Visible text of the answer (HTTP body as text, at most 300 characters). */
  message?: string;
  /** Body size in bytes (HTTP). */
  bodyLength?: number;
  /** Milliseconds from sending the credential to the verdict (connection set-up excluded where possible). */
  durationMs: number;
  /** The submitted password came back in the answer (HTTP). */
  echoesPassword?: boolean;
}

/**
 * accepted / rejected: the interface checked the credential and said so in its own terms (SSH
 * USERAUTH_FAILURE, OPC UA BadUserAccessDenied / BadIdentityTokenRejected / BadIdentityTokenInvalid, HTTP 401
 * or 403, a login form answered like a failed login). refused: it answered, but not with an authentication
 * verdict (a server error, a session or rate limit, an answer unlike a failed login): the attempt proves
 * nothing about the credential, yet it may count as a failure on the device. unsupported: it never checked
 * the credential (no password method offered), so the attempt proves nothing and counts against no lockout.
 */
export type LoginOutcome = 'accepted' | 'rejected' | 'refused' | 'unsupported';

export interface LoginResult {
  outcome: LoginOutcome;
  response: LoginResponse;
}

/** An authenticated session held open (for concurrent-session and idle-timeout checks). */
export interface HeldSession {
  /** Whether the session still works. HTTP and OPC UA send one request (which is activity); SSH looks at the connection. */
  isAlive(signal: AbortSignal): Promise<boolean>;
  /** When the peer ended the session on its own (connection-based sessions), epoch ms. */
  closedAt(): number | undefined;
  /** Idle timeout the server granted when the session was made (OPC UA revisedSessionTimeout), ms. */
  readonly grantedIdleTimeoutMs?: number;
  /** Ends the session (logout where the interface has one) and releases its connection. Never throws. */
  close(): Promise<void>;
}

export type SessionOpening =
  | { opened: true; session: HeldSession; response: LoginResponse }
  | { opened: false; response: LoginResponse };

export interface LoginChannel {
  readonly kind: ChannelKind;
  /** One line for evidence: "SSH password", "HTTP form POST /login", "OPC UA SignAndEncrypt/Basic256Sha256 UserName". */
  readonly label: string;
  /** What was detected or configured (paths, field names, endpoint), for evidence. */
  readonly details: Readonly<Record<string, unknown>>;
  /** One credential check. Transport problems throw the SDK's typed errors. */
  tryLogin(username: string, password: string, signal: AbortSignal): Promise<LoginResult>;
  /** Logs in and keeps the session; absent where the interface has no session (HTTP basic auth). */
  openSession?(username: string, password: string, signal: AbortSignal): Promise<SessionOpening>;
}

/** A declared service that has no usable login interface, and why. */
export interface NoLoginInterface {
  readonly unsupported: string;
}

/** Bounds for one channel: the attempt's deadline and signal, and the profile's file resolver. */
export interface ChannelEnvironment {
  readonly signal: AbortSignal;
  readonly deadline: number;
  /** Profile-relative files (OPC UA client certificate). */
  readonly resolvePath: (file: string) => string;
  /** Upper bound for one login (default 10 s). */
  readonly stepTimeoutMs?: number;
  /** The profile's own account for this interface, where a channel must tell "takes no logins" from a wrong password (MQTT). */
  readonly knownAccount?: { readonly username: string; readonly password: string };
}

/** Time left for one step: at most `cap`, never past the deadline (minus a margin), at least 250 ms. */
export function stepTimeout(env: Pick<ChannelEnvironment, 'deadline' | 'stepTimeoutMs'>): number {
  return Math.max(250, Math.min(env.stepTimeoutMs ?? 10_000, env.deadline - Date.now() - 200));
}
