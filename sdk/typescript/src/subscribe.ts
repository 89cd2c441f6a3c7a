/**
 * Subscriptions to blocks or contract events over the node's WebSocket, from a height. When
 * the connection drops (the node restarts, the network fails) the subscription reconnects and
 * resumes from the last height it delivered: every block once, in order, and every event
 * once — no gap and no duplicate.
 */

import type { Client, TxSummary } from './client.js';
import { BadResponse, CovenantError, SubscriptionLost } from './errors.js';

export interface BlockMessage {
  type: 'block';
  height: number;
  hash: string;
  tx_count: number;
  timestamp_ms: number;
  txs: TxSummary[];
}

export interface EventMessage {
  type: 'event';
  height: number;
  tx_id: string;
  contract: string;
  topic: string;
  data: unknown;
}

export interface SubscribeOptions {
  /** First height to deliver (default: the block after the current tip). */
  fromHeight?: number;
  /** How long to keep trying to reconnect after the connection drops (default 60 s). */
  reconnectForMs?: number;
}

const FIRST_RETRY_MS = 100;
const MAX_RETRY_MS = 2_000;

/** An async iterator of messages; `close()` ends it. */
export class Subscription<T extends BlockMessage | EventMessage> implements AsyncIterableIterator<T> {
  private readonly queue: T[] = [];
  private waiting: ((r: IteratorResult<T>) => void) | undefined;
  private failWaiting: ((e: unknown) => void) | undefined;
  private failure: unknown;
  private closed = false;
  private socket: WebSocket | undefined;
  /** Blocks: the next height to deliver. Events: the height resumed from. */
  private nextHeight: number | undefined;
  /** Events: the last height delivered and how many of its events were. */
  private lastHeight: number | undefined;
  private deliveredAtLast = 0;
  /** Events: how many of the resumed height's events to skip (delivered before). */
  private skip = 0;
  private lostSince: number | undefined;
  private retryMs = FIRST_RETRY_MS;
  private readonly reconnectForMs: number;
  /** How many times the connection dropped and was made again. */
  reconnects = 0;

  constructor(
    private readonly client: Client,
    private readonly kind: 'blocks' | 'events',
    private readonly opts: SubscribeOptions & { contract?: string },
  ) {
    this.reconnectForMs = opts.reconnectForMs ?? 60_000;
    void this.start();
  }

  private async start(): Promise<void> {
    try {
      this.nextHeight = this.opts.fromHeight ?? (await this.client.info()).height + 1;
      this.connect();
    } catch (e) {
      this.fail(e);
    }
  }

  private resumeQuery(): string {
    const q = new URLSearchParams({ kind: this.kind });
    let from = this.nextHeight ?? 1;
    this.skip = 0;
    if (this.kind === 'events' && this.lastHeight !== undefined) {
      from = this.lastHeight;
      this.skip = this.deliveredAtLast;
    }
    q.set('from_height', String(from));
    if (this.opts.contract) q.set('contract', this.opts.contract);
    return q.toString();
  }

  private connect(): void {
    if (this.closed) return;
    let ws: WebSocket;
    try {
      ws = this.client.socket(this.resumeQuery());
    } catch (e) {
      this.fail(e);
      return;
    }
    this.socket = ws;
    ws.onopen = () => {
      this.lostSince = undefined;
      this.retryMs = FIRST_RETRY_MS;
    };
    ws.onmessage = (ev: MessageEvent) => {
      if (typeof ev.data !== 'string') return;
      let m: T;
      try {
        m = JSON.parse(ev.data) as T;
      } catch {
        this.fail(new BadResponse(`a subscription message is not JSON: ${ev.data.slice(0, 100)}`));
        return;
      }
      this.accept(m);
    };
    // A refused connection may end with an error event and no close event (Node.js 20's
    // WebSocket), a dropped one with a close event alone: whichever comes first for this
    // socket starts the one reconnection.
    const lost = () => {
      if (this.socket !== ws || this.closed) return;
      this.socket = undefined;
      try {
        ws.close();
      } catch {
        // already closing
      }
      this.reconnect();
    };
    ws.onclose = lost;
    ws.onerror = lost;
  }

  private reconnect(): void {
    const now = Date.now();
    this.lostSince ??= now;
    if (now - this.lostSince > this.reconnectForMs) {
      this.fail(new SubscriptionLost(`the node did not come back within ${this.reconnectForMs} ms`));
      return;
    }
    const wait = this.retryMs;
    if (this.retryMs === FIRST_RETRY_MS) this.reconnects++;
    this.retryMs = Math.min(MAX_RETRY_MS, this.retryMs * 2);
    setTimeout(() => this.connect(), wait);
  }

  private accept(m: T): void {
    if (m.type === 'block') {
      const next = this.nextHeight ?? m.height;
      if (m.height < next) return; // already delivered before a reconnect
      if (m.height > next) {
        this.fail(new BadResponse(`the node skipped from height ${next} to ${m.height}`));
        return;
      }
      this.nextHeight = m.height + 1;
    } else {
      if (this.nextHeight !== undefined && m.height < this.nextHeight && this.lastHeight === undefined) return;
      if (this.lastHeight !== undefined && m.height < this.lastHeight) return;
      if (this.lastHeight === m.height && this.skip > 0) {
        this.skip--;
        return;
      }
      if (this.lastHeight === m.height) this.deliveredAtLast++;
      else {
        this.lastHeight = m.height;
        this.deliveredAtLast = 1;
        this.skip = 0;
      }
    }
    this.push(m);
  }

  private push(m: T): void {
    if (this.closed) return;
    const w = this.waiting;
    if (w) {
      this.waiting = undefined;
      this.failWaiting = undefined;
      w({ value: m, done: false });
    } else this.queue.push(m);
  }

  private fail(e: unknown): void {
    if (this.closed) return;
    this.failure = e instanceof CovenantError ? e : new SubscriptionLost(String(e));
    this.closed = true;
    this.socket?.close();
    const f = this.failWaiting;
    this.waiting = undefined;
    this.failWaiting = undefined;
    f?.(this.failure);
  }

  next(): Promise<IteratorResult<T>> {
    const m = this.queue.shift();
    if (m !== undefined) return Promise.resolve({ value: m, done: false });
    if (this.failure !== undefined) return Promise.reject(this.failure);
    if (this.closed) return Promise.resolve({ value: undefined, done: true });
    return new Promise((resolve, reject) => {
      this.waiting = resolve;
      this.failWaiting = reject;
    });
  }

  /** Stop: the socket closes and the iterator ends. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    const s = this.socket;
    this.socket = undefined;
    s?.close();
    const w = this.waiting;
    this.waiting = undefined;
    this.failWaiting = undefined;
    w?.({ value: undefined, done: true });
  }

  return(): Promise<IteratorResult<T>> {
    this.close();
    return Promise.resolve({ value: undefined, done: true });
  }

  [Symbol.asyncIterator](): AsyncIterableIterator<T> {
    return this;
  }
}
