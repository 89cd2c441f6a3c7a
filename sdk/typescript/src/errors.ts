/**
 * Errors as typed exceptions, each with a stable code: the node's own code for an answer it
 * gave (`TX_BAD_SIGNATURE`, `NOT_FOUND`, `TXPOOL_FULL`, …), or one of this SDK's.
 */

/** What every error of this SDK is. */
export class CovenantError extends Error {
  /** Stable code: the node's, or one of this SDK's (`NODE_UNREACHABLE`, `BAD_RESPONSE`, …). */
  readonly code: string;
  /** The HTTP status of the node's answer, if there was one. */
  readonly status: number | undefined;
  /** For "busy" answers: when the node asked to be tried again. */
  readonly retryAfterMs: number | undefined;

  constructor(code: string, message: string, opts: { status?: number; retryAfterMs?: number } = {}) {
    super(message);
    this.name = new.target.name;
    this.code = code;
    this.status = opts.status;
    this.retryAfterMs = opts.retryAfterMs;
  }
}

/** The node answered with an error body. */
export class ApiError extends CovenantError {}

/** The node could not be reached, or did not answer in time. */
export class NodeUnreachable extends CovenantError {
  constructor(endpoint: string, detail: string) {
    super('NODE_UNREACHABLE', `cannot reach the node at ${endpoint}: ${detail}`);
  }
}

/** The node's answer was not what its API promises. */
export class BadResponse extends CovenantError {
  constructor(detail: string, status?: number) {
    super('BAD_RESPONSE', `unexpected answer from the node: ${detail}`, status === undefined ? {} : { status });
  }
}

/** A transaction was committed with a result other than `OK`; `code` is the result's code. */
export class TransactionFailed extends CovenantError {
  readonly txId: string;
  readonly height: number | undefined;
  constructor(code: string, message: string, txId: string, height: number | undefined) {
    super(code, message || `transaction ${txId} failed with ${code}`);
    this.txId = txId;
    this.height = height;
  }
}

/** A read-only call answered with a code other than `OK`; `result` is the answer. */
export class QueryFailed extends CovenantError {
  readonly result: unknown;
  constructor(code: string, message: string, result: unknown) {
    super(code, message || `the query failed with ${code}`);
    this.result = result;
  }
}

/** A transaction was admitted but not committed within the time given (it may still be). */
export class CommitTimeout extends CovenantError {
  readonly txId: string;
  constructor(txId: string, waitedMs: number) {
    super('COMMIT_TIMEOUT', `transaction ${txId} was not committed within ${waitedMs} ms (it may still be)`);
    this.txId = txId;
  }
}

/** A Merkle proof, or the block it points at, did not check out. */
export class ProofInvalid extends CovenantError {
  constructor(detail: string) {
    super('PROOF_INVALID', detail);
  }
}

/** A profile, certificate or key file could not be used. */
export class ProfileError extends CovenantError {}

/** Bytes that do not decode as what they claim to be (a key, a certificate, a transaction). */
export class Malformed extends CovenantError {
  constructor(what: string, detail: string) {
    super('MALFORMED', `${what}: ${detail}`);
  }
}

/** A subscription lost its node and could not reconnect in the time allowed. */
export class SubscriptionLost extends CovenantError {
  constructor(detail: string) {
    super('SUBSCRIPTION_LOST', detail);
  }
}

/** The error a node's non-success answer stands for (status and body as received). */
export function errorFromResponse(status: number, body: string): CovenantError {
  let parsed: unknown;
  try {
    parsed = JSON.parse(body);
  } catch {
    return new BadResponse(`HTTP ${status}: ${body.slice(0, 200)}`, status);
  }
  const e = (parsed as { error?: unknown } | null)?.error as
    | { code?: unknown; message?: unknown; retry_after_ms?: unknown }
    | undefined;
  if (!e || typeof e.code !== 'string') {
    return new BadResponse(`HTTP ${status}: ${body.slice(0, 200)}`, status);
  }
  const opts: { status: number; retryAfterMs?: number } = { status };
  if (typeof e.retry_after_ms === 'number') opts.retryAfterMs = e.retry_after_ms;
  return new ApiError(e.code, typeof e.message === 'string' ? e.message : e.code, opts);
}

/** Whether a call that failed with `e` is worth trying again (the node said when). */
export function isRetryable(e: unknown): e is CovenantError {
  return e instanceof ApiError && e.retryAfterMs !== undefined;
}
