// The resuming logic of subscriptions, driven through a scripted WebSocket: a connection
// refused with an error event alone, a drop inside a height's events, a replayed height.

import assert from 'node:assert/strict';
import { test } from 'node:test';

import { Client, type EventMessage } from '../src/index.js';

interface Scripted {
  onopen: (() => void) | null;
  onmessage: ((ev: { data: string }) => void) | null;
  onclose: (() => void) | null;
  onerror: (() => void) | null;
  send(m: object): void;
}

/** A WebSocket whose life is scripted per connection, keeping the URLs asked for. */
function scripted(script: ((ws: Scripted) => void)[]) {
  const urls: string[] = [];
  class FakeSocket implements Scripted {
    onopen: (() => void) | null = null;
    onmessage: ((ev: { data: string }) => void) | null = null;
    onclose: (() => void) | null = null;
    onerror: (() => void) | null = null;
    constructor(url: string) {
      urls.push(url);
      const step = script[urls.length - 1];
      setTimeout(() => step?.(this), 1);
    }
    send(m: object): void {
      this.onmessage?.({ data: JSON.stringify(m) });
    }
    close(): void {}
  }
  return { urls, FakeSocket: FakeSocket as unknown as new (url: string) => WebSocket };
}

const event = (height: number, n: number): object => ({
  type: 'event',
  height,
  tx_id: `${height}-${n}`,
  contract: 'kv',
  topic: 'put',
  data: `${height}-${n}`,
});

test('events resume inside a height after a drop, each once, after a refused reconnect', async () => {
  const { urls, FakeSocket } = scripted([
    (ws) => {
      ws.onopen?.();
      ws.send(event(4, 0));
      ws.send(event(5, 0));
      ws.send(event(5, 1));
      ws.onclose?.(); // dropped before height 5's third event
    },
    (ws) => ws.onerror?.(), // refused: an error event and no close event
    (ws) => {
      ws.onopen?.();
      for (const m of [event(5, 0), event(5, 1), event(5, 2), event(6, 0)]) ws.send(m);
    },
  ]);
  const client = new Client({ endpoint: 'http://127.0.0.1:1', chain: 'main', WebSocket: FakeSocket });
  const sub = client.subscribeEvents({ fromHeight: 4, contract: 'kv' });
  const seen: string[] = [];
  for await (const m of sub) {
    seen.push((m as EventMessage).tx_id);
    if (seen.length === 5) break;
  }
  assert.deepEqual(seen, ['4-0', '5-0', '5-1', '5-2', '6-0']);
  assert.equal(urls.length, 3);
  assert.match(urls[0]!, /^ws:\/\/127\.0\.0\.1:1\/v1\/chains\/main\/subscribe\?kind=events&from_height=4&contract=kv$/);
  assert.match(urls[1]!, /from_height=5/);
  assert.match(urls[2]!, /from_height=5/);
  assert.equal(sub.reconnects, 1);
});

test('blocks resume after the last height delivered; a skipped height fails the subscription', async () => {
  const block = (height: number) => ({ type: 'block', height, hash: '', tx_count: 0, timestamp_ms: 0, txs: [] });
  const { urls, FakeSocket } = scripted([
    (ws) => {
      ws.onopen?.();
      ws.send(block(1));
      ws.send(block(2));
      ws.onclose?.();
    },
    (ws) => {
      ws.onopen?.();
      ws.send(block(2)); // a replay is dropped
      ws.send(block(3));
      ws.send(block(5)); // a gap is an error, never silence
    },
  ]);
  const client = new Client({ endpoint: 'http://127.0.0.1:1', chain: 'main', WebSocket: FakeSocket });
  const sub = client.subscribeBlocks({ fromHeight: 1 });
  const seen: number[] = [];
  await assert.rejects(
    (async () => {
      for await (const b of sub) seen.push(b.height);
    })(),
    { code: 'BAD_RESPONSE' },
  );
  assert.deepEqual(seen, [1, 2, 3]);
  assert.match(urls[1]!, /from_height=3/);
});

test('a node that never comes back ends the subscription with SUBSCRIPTION_LOST', async () => {
  const refuse = (ws: Scripted) => ws.onerror?.();
  const { FakeSocket } = scripted(Array.from({ length: 50 }, () => refuse));
  const client = new Client({ endpoint: 'http://127.0.0.1:1', chain: 'main', WebSocket: FakeSocket });
  const sub = client.subscribeBlocks({ fromHeight: 1, reconnectForMs: 300 });
  await assert.rejects(sub.next(), { code: 'SUBSCRIPTION_LOST' });
});
