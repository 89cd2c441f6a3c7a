/** The node's REST API and WebSocket subscriptions. */

import { fromBase64, fromHex, toBase64 } from './bytes.js';
import { type Suite, hashAlgorithm } from './crypto.js';
import {
  BadResponse,
  CovenantError,
  NodeUnreachable,
  CommitTimeout,
  ProofInvalid,
  QueryFailed,
  TransactionFailed,
  errorFromResponse,
  isRetryable,
} from './errors.js';
import { type InclusionProof, verifyInclusion } from './merkle.js';
import type { Profile } from './profile.js';
import { Subscription, type BlockMessage, type EventMessage, type SubscribeOptions } from './subscribe.js';
import { type Signer, payload, txId } from './tx.js';
import { decodeTransaction } from './wire.js';

export interface EventView {
  contract: string;
  topic: string;
  data: unknown;
}

/** A transaction's result: `code` is `OK` or the failure's stable code. */
export interface TxResult {
  code: string;
  message: string;
  result: unknown;
  events: EventView[];
  gas_used: number;
}

export interface SubmitResponse {
  tx_id: string;
  /** `pending` (admitted, not yet committed) or `committed`. */
  status: 'pending' | 'committed';
  height?: number;
  index?: number;
  block_hash?: string;
  result?: TxResult;
}

/** A committed transaction's outcome. */
export interface Committed {
  tx_id: string;
  height: number;
  index: number;
  block_hash: string;
  result: TxResult;
}

export interface ChainInfo {
  chain_id: string;
  height: number;
  last_hash: string;
  state_root: string;
  suite: Suite;
  consensus: string;
  config_version: number;
  txpool_size: number;
  genesis_hash: string;
  engine?: unknown;
}

export interface TxSummary {
  tx_id: string;
  contract: string;
  method: string;
  sender: string;
  code: string;
  gas_used: number;
}

export interface BlockView {
  chain_id: string;
  height: number;
  hash: string;
  prev_hash: string;
  timestamp_ms: number;
  proposer: string;
  tx_root: string;
  results_root: string;
  rwset_root: string;
  dag_hash: string;
  state_root: string;
  config_version: number;
  tx_count: number;
  txs: TxSummary[];
  dag: number[][];
  committed_by: string[];
  raw?: string;
}

export interface TxView {
  tx_id: string;
  chain_id: string;
  height: number;
  index: number;
  block_hash: string;
  contract: string;
  method: string;
  args: unknown;
  timestamp_ms: number;
  sender: string;
  endorsements: number;
  result: TxResult;
  proof: InclusionProof;
  tx_root: string;
  /** The encoded transaction, base64: the proof's leaf. */
  raw: string;
  rwset?: unknown;
}

export interface ContractInfo {
  name: string;
  version: string;
  status: string;
  runtime: string;
  code_hash: string;
  creator_org: string;
  installed_height: number;
  updated_height: number;
  methods: unknown[];
}

type WebSocketCtor = new (url: string) => WebSocket;

export interface ClientOptions {
  /** The node's REST endpoint, e.g. `http://127.0.0.1:7070`. */
  endpoint: string;
  /** The chain id. */
  chain: string;
  /** How long one call may take, retries after "busy" answers included (default 30 s). */
  timeoutMs?: number;
  /** A `fetch` to use (default: the global one). */
  fetch?: typeof fetch;
  /** A WebSocket class for subscriptions (default: the global one; on Node.js 20 pass `ws`'s). */
  WebSocket?: WebSocketCtor;
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** The longest a node waits for a commit before it answers `pending`. */
const MAX_WAIT_MS = 120_000;
/** How often a transaction is looked up once the node's own wait has ended. */
const POLL_MS = 250;

/** A client of one node and chain. */
export class Client {
  readonly endpoint: string;
  readonly chain: string;
  readonly timeoutMs: number;
  private readonly fetchImpl: typeof fetch;
  private readonly wsImpl: WebSocketCtor | undefined;
  private suite: Suite | undefined;

  constructor(opts: ClientOptions) {
    this.endpoint = opts.endpoint.replace(/\/+$/, '');
    this.chain = opts.chain;
    this.timeoutMs = opts.timeoutMs ?? 30_000;
    this.fetchImpl = opts.fetch ?? globalThis.fetch.bind(globalThis);
    this.wsImpl = opts.WebSocket ?? (globalThis as { WebSocket?: WebSocketCtor }).WebSocket;
  }

  /** A client of a profile's node and chain. */
  static fromProfile(profile: Profile, opts: Partial<ClientOptions> = {}): Client {
    return new Client({ endpoint: profile.endpoint, chain: profile.chainId, ...opts });
  }

  private url(path: string): string {
    return `${this.endpoint}/v1/chains/${encodeURIComponent(this.chain)}${path}`;
  }

  /** One call; "busy" answers are retried after the node's hint until `timeoutMs` is spent. */
  private async call<T>(
    method: 'GET' | 'POST',
    path: string,
    body?: unknown,
    timeoutMs = this.timeoutMs,
  ): Promise<T> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      try {
        return await this.once<T>(method, path, body, Math.max(1, deadline - Date.now()));
      } catch (e) {
        if (!isRetryable(e)) throw e;
        const wait = e.retryAfterMs ?? 0;
        if (Date.now() + wait >= deadline) throw e;
        await sleep(wait);
      }
    }
  }

  private async once<T>(method: 'GET' | 'POST', path: string, body: unknown, timeoutMs: number): Promise<T> {
    let r: Response;
    let text: string;
    try {
      const init: RequestInit = { method, signal: AbortSignal.timeout(timeoutMs) };
      if (body !== undefined) {
        init.headers = { 'content-type': 'application/json' };
        init.body = JSON.stringify(body);
      }
      r = await this.fetchImpl(this.url(path), init);
      text = await r.text();
    } catch (e) {
      throw new NodeUnreachable(this.endpoint, (e as Error).message);
    }
    if (!r.ok) throw errorFromResponse(r.status, text);
    try {
      return JSON.parse(text) as T;
    } catch {
      throw new BadResponse(`not JSON: ${text.slice(0, 200)}`, r.status);
    }
  }

  /** Chain info: height, last block hash, suite, consensus, … */
  async info(): Promise<ChainInfo> {
    const info = await this.call<ChainInfo>('GET', '');
    this.suite = info.suite;
    return info;
  }

  /** The chain's suite (asked once). */
  async chainSuite(): Promise<Suite> {
    return this.suite ?? (await this.info()).suite;
  }

  /** The chain's config: orgs, consensus nodes, policies, limits. */
  config(): Promise<Record<string, unknown>> {
    return this.call('GET', '/config');
  }

  /** Contracts and their status. */
  contracts(): Promise<ContractInfo[]> {
    return this.call('GET', '/contracts');
  }

  /** A block by height, hash or `latest`. */
  block(at: number | string): Promise<BlockView> {
    return this.call('GET', `/blocks/${encodeURIComponent(String(at))}`);
  }

  /** A committed transaction with its Merkle proof (not yet checked: see `verifiedTx`). */
  tx(id: string): Promise<TxView> {
    return this.call('GET', `/txs/${encodeURIComponent(id)}`);
  }

  /**
   * A committed transaction whose proof is checked: the encoded transaction hashes to the id
   * asked for, its Merkle proof leads to `tx_root`, and that root and the block hash are those
   * of the block at its height. Throws `ProofInvalid` otherwise.
   */
  async verifiedTx(id: string): Promise<TxView> {
    const tx = await this.tx(id);
    await this.verifyTx(tx);
    return tx;
  }

  /** Check a transaction view as `verifiedTx` does. */
  async verifyTx(tx: TxView): Promise<void> {
    const suite = await this.chainSuite();
    let raw: Uint8Array;
    let root: Uint8Array;
    try {
      raw = fromBase64(tx.raw);
      root = fromHex(tx.tx_root);
    } catch {
      throw new ProofInvalid('the transaction or its root is not well formed');
    }
    let decoded: ReturnType<typeof decodeTransaction>;
    try {
      decoded = decodeTransaction(raw);
    } catch (e) {
      throw new ProofInvalid(`the transaction does not decode: ${(e as Error).message}`);
    }
    if (txId(suite, decoded.payload) !== tx.tx_id) throw new ProofInvalid(`the transaction is not ${tx.tx_id}`);
    if (!verifyInclusion(hashAlgorithm(suite), root, raw, tx.proof)) {
      throw new ProofInvalid(`the Merkle proof of ${tx.tx_id} does not lead to tx_root ${tx.tx_root}`);
    }
    const block = await this.block(tx.height);
    if (block.tx_root !== tx.tx_root || block.hash !== tx.block_hash || tx.proof.tree_size !== block.tx_count) {
      throw new ProofInvalid(`block ${tx.height} does not carry the root the proof leads to`);
    }
  }

  /**
   * Submit an encoded transaction; with `wait`, the node answers once it is committed or its
   * wait (at most two minutes) ends, still `pending`.
   */
  submit(tx: Uint8Array, opts: { wait?: boolean; timeoutMs?: number } = {}): Promise<SubmitResponse> {
    const timeoutMs = opts.timeoutMs ?? this.timeoutMs;
    const body: Record<string, unknown> = { tx: toBase64(tx), wait: opts.wait ?? false };
    if (opts.wait) body.timeout_ms = Math.max(1, Math.min(timeoutMs, MAX_WAIT_MS));
    // The node answers a waiting submission when its own wait ends; allow it time to say so.
    return this.call('POST', '/txs', body, opts.wait ? timeoutMs + 5_000 : timeoutMs);
  }

  /**
   * Submit and wait for the commit (looking the transaction up once the node's own wait
   * ends); the outcome whatever its code. Throws `CommitTimeout` if it is not committed
   * within `timeoutMs`.
   */
  async submitAndWait(tx: Uint8Array, opts: { timeoutMs?: number } = {}): Promise<Committed> {
    const timeoutMs = opts.timeoutMs ?? this.timeoutMs;
    const deadline = Date.now() + timeoutMs;
    const r = await this.submit(tx, { wait: true, timeoutMs });
    if (r.status === 'committed' && r.result !== undefined && r.height !== undefined) {
      return { tx_id: r.tx_id, height: r.height, index: r.index ?? 0, block_hash: r.block_hash ?? '', result: r.result };
    }
    for (;;) {
      try {
        const t = await this.tx(r.tx_id);
        return { tx_id: t.tx_id, height: t.height, index: t.index, block_hash: t.block_hash, result: t.result };
      } catch (e) {
        if (!(e instanceof CovenantError) || e.code !== 'NOT_FOUND') throw e;
      }
      const left = deadline - Date.now();
      if (left <= 0) throw new CommitTimeout(r.tx_id, timeoutMs);
      await sleep(Math.min(POLL_MS, left));
    }
  }

  /**
   * Call `contract.method(args)` as `signer` (with `endorsers`' signatures for governed calls),
   * wait for the commit and return it. Throws `TransactionFailed` (with the result's code) when
   * the transaction committed with a result other than `OK` unless `check` is false, and
   * `CommitTimeout` when it did not commit within the timeout.
   */
  async invoke(
    signer: Signer,
    contract: string,
    method: string,
    args: unknown = {},
    opts: { endorsers?: Signer[]; gasLimit?: number | bigint; timeoutMs?: number; check?: boolean } = {},
  ): Promise<Committed> {
    const input: Parameters<typeof payload>[0] = { chainId: this.chain, contract, method, args };
    if (opts.gasLimit !== undefined) input.gasLimit = opts.gasLimit;
    const signed = signer.sign(payload(input), opts.endorsers ? { endorsers: opts.endorsers } : {});
    const c = await this.submitAndWait(signed.tx, opts.timeoutMs === undefined ? {} : { timeoutMs: opts.timeoutMs });
    if ((opts.check ?? true) && c.result.code !== 'OK') {
      throw new TransactionFailed(c.result.code, c.result.message, c.tx_id, c.height);
    }
    return c;
  }

  /**
   * A read-only call; `caller` is the identity the contract sees (default: none). Throws
   * `QueryFailed` (with the answer's code) when the code is not `OK`, unless `check` is false.
   */
  async query(
    contract: string,
    method: string,
    args: unknown = {},
    opts: { caller?: Signer; check?: boolean } = {},
  ): Promise<TxResult> {
    const body: Record<string, unknown> = { contract, method, args };
    if (opts.caller) body.caller_cert = opts.caller.certificate.toPem();
    const r = await this.call<TxResult>('POST', '/query', body);
    if ((opts.check ?? true) && r.code !== 'OK') throw new QueryFailed(r.code, r.message, r);
    return r;
  }

  /** Blocks from `fromHeight` (default: the next one), following the chain; reconnects. */
  subscribeBlocks(opts: SubscribeOptions = {}): Subscription<BlockMessage> {
    return new Subscription<BlockMessage>(this, 'blocks', opts);
  }

  /** Contract events from `fromHeight` (default: the next block), optionally of one contract. */
  subscribeEvents(opts: SubscribeOptions & { contract?: string } = {}): Subscription<EventMessage> {
    return new Subscription<EventMessage>(this, 'events', opts);
  }

  /** @internal The WebSocket URL and class of a subscription. */
  socket(query: string): WebSocket {
    if (!this.wsImpl) {
      throw new CovenantError(
        'WEBSOCKET_UNAVAILABLE',
        'no WebSocket class: pass one as the `WebSocket` option (Node.js before 22: the `ws` package)',
      );
    }
    const url = this.url(`/subscribe?${query}`).replace(/^http/, 'ws');
    return new this.wsImpl(url);
  }
}
