// The client's handling of answers, against a local HTTP server: "busy" answers retried after
// the node's hint within the call's timeout, other errors raised at once with their codes, a
// silent node cut off at the timeout.

import assert from 'node:assert/strict';
import { type IncomingMessage, type ServerResponse, createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { test } from 'node:test';

import { ApiError, Client } from '../src/index.js';

async function serve(handler: (req: IncomingMessage, res: ServerResponse) => void): Promise<{ url: string; close: () => void }> {
  const server = createServer(handler);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    close: () => {
      server.closeAllConnections();
      server.close();
    },
  };
}

const busy = (res: ServerResponse, ms: number) => {
  res.writeHead(429, { 'content-type': 'application/json' });
  res.end(JSON.stringify({ error: { code: 'TXPOOL_FULL', message: 'the pool is full', retry_after_ms: ms } }));
};

test('a busy answer is retried after the node’s hint, then the answer is returned', async () => {
  const times: number[] = [];
  const node = await serve((_req, res) => {
    times.push(Date.now());
    if (times.length < 3) return busy(res, 150);
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(JSON.stringify({ tx_id: 'ab', status: 'pending' }));
  });
  try {
    const client = new Client({ endpoint: node.url, chain: 'main', timeoutMs: 5_000 });
    const r = await client.submit(Uint8Array.of(1, 2, 3));
    assert.equal(r.status, 'pending');
    assert.equal(times.length, 3);
    assert.ok(times[1]! - times[0]! >= 140 && times[2]! - times[1]! >= 140, `retried after the hint: ${times}`);
  } finally {
    node.close();
  }
});

test('a busy answer whose hint outlasts the timeout is raised with its code', async () => {
  let calls = 0;
  const node = await serve((_req, res) => {
    calls++;
    busy(res, 10_000);
  });
  try {
    const client = new Client({ endpoint: node.url, chain: 'main', timeoutMs: 1_000 });
    await assert.rejects(client.info(), (e: unknown) => {
      assert.ok(e instanceof ApiError);
      assert.equal(e.code, 'TXPOOL_FULL');
      assert.equal(e.retryAfterMs, 10_000);
      assert.equal(e.status, 429);
      return true;
    });
    assert.equal(calls, 1);
  } finally {
    node.close();
  }
});

test('other errors are raised at once; a non-API answer is BAD_RESPONSE', async () => {
  let calls = 0;
  const node = await serve((req, res) => {
    calls++;
    if (req.url?.endsWith('/config')) {
      res.writeHead(502, { 'content-type': 'text/html' });
      res.end('<html>bad gateway</html>');
      return;
    }
    res.writeHead(404, { 'content-type': 'application/json' });
    res.end(JSON.stringify({ error: { code: 'NOT_FOUND', message: 'no such block' } }));
  });
  try {
    const client = new Client({ endpoint: node.url, chain: 'main', timeoutMs: 5_000 });
    await assert.rejects(client.block(99), { code: 'NOT_FOUND', status: 404 });
    await assert.rejects(client.config(), { code: 'BAD_RESPONSE', status: 502 });
    assert.equal(calls, 2);
  } finally {
    node.close();
  }
});

test('a node that does not answer is cut off at the timeout as NODE_UNREACHABLE', async () => {
  const node = await serve(() => {
    // never answers
  });
  try {
    const client = new Client({ endpoint: node.url, chain: 'main', timeoutMs: 300 });
    const start = Date.now();
    await assert.rejects(client.info(), { code: 'NODE_UNREACHABLE' });
    assert.ok(Date.now() - start < 5_000);
  } finally {
    node.close();
  }
});
