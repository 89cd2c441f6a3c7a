// The SDK against real node processes (an `sm` chain and an `intl` chain, two orgs each):
// invoke and query, transactions with their proofs checked, blocks, config, contracts, a
// governed call that needs a second org's endorsement, typed errors, and subscriptions that
// survive the node being restarted. Needs COVENANT_BIN (the `covenant` binary) and
// COVENANT_KV_WASM (the example kv contract); the Rust test `sdk::*` sets both.

import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { after, before, describe, test } from 'node:test';

import {
  ApiError,
  type BlockMessage,
  Client,
  type EventMessage,
  Profile,
  ProofInvalid,
  QueryFailed,
  type Signer,
  type Subscription,
  TransactionFailed,
} from '../src/index.js';
import { BIN, DevNode, KV_WASM } from './devnode.js';

const skip = !BIN || !KV_WASM ? 'set COVENANT_BIN and COVENANT_KV_WASM to run against a node' : false;

/** Poll `check` until it holds or `ms` pass. */
async function until(
  what: string,
  check: () => boolean | Promise<boolean>,
  ms = 30_000,
  state: () => string = () => '',
): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what} ${state()}`.trim());
    await new Promise((r) => setTimeout(r, 25));
  }
}

/** Drain a subscription into an array in the background. */
function collect<T extends BlockMessage | EventMessage>(
  sub: Subscription<T>,
): { seen: T[]; error: () => unknown; sub: Subscription<T> } {
  const seen: T[] = [];
  let error: unknown;
  void (async () => {
    try {
      for await (const m of sub) seen.push(m);
    } catch (e) {
      error = e;
    }
  })();
  return { seen, error: () => error, sub };
}

for (const suite of ['sm', 'intl'] as const) {
  describe(`against a real ${suite} node`, { skip }, () => {
    let node: DevNode;
    let client: Client;
    let admin: Signer;
    let org2: Signer;

    before(async () => {
      node = await DevNode.create(['--orgs', '2', ...(suite === 'intl' ? ['--suite', 'intl'] : [])]);
      for (const name of ['kv', 'kv2']) {
        const r = await node.cli(['contract', 'deploy', name, KV_WASM!]);
        assert.equal(r.code, 'OK', JSON.stringify(r));
      }
      const profile = await Profile.load(node.profile);
      client = Client.fromProfile(profile, { timeoutMs: 20_000 });
      admin = await profile.signer();
      org2 = await profile.signer('org2-admin');
    });

    after(async () => {
      await node?.destroy();
    });

    test('invoke, query, and the transaction with its proof checked', async () => {
      const info = await client.info();
      assert.equal(info.suite, suite);
      const put = await client.invoke(admin, 'kv', 'put', { key: 'greeting', value: '你好' });
      assert.equal(put.result.code, 'OK');
      assert.deepEqual(put.result.events.map((e) => [e.contract, e.topic, e.data]), [['kv', 'put', 'greeting']]);
      assert.ok(put.height > info.height);
      const got = await client.query('kv', 'get', { key: 'greeting' }, { caller: admin });
      assert.equal(got.result, '你好');

      const tx = await client.verifiedTx(put.tx_id);
      assert.equal(tx.height, put.height);
      assert.equal(tx.method, 'put');
      const block = await client.block(put.height);
      assert.ok(block.txs.some((t) => t.tx_id === put.tx_id));
      assert.equal(block.tx_root, tx.tx_root);

      // A proof that leads elsewhere is refused.
      const wrongLeaf = { ...tx, proof: { ...tx.proof, leaf_index: tx.proof.tree_size } };
      await assert.rejects(client.verifyTx(wrongLeaf), ProofInvalid);
      const wrongRoot = { ...tx, tx_root: tx.tx_root.replace(/^./, (c) => (c === '0' ? '1' : '0')) };
      await assert.rejects(client.verifyTx(wrongRoot), ProofInvalid);
    });

    test('config, contracts and the latest block', async () => {
      const config = await client.config();
      assert.equal(config.chain_id, 'main');
      const contracts = await client.contracts();
      assert.deepEqual(contracts.map((c) => c.name).sort(), ['kv', 'kv2']);
      const latest = await client.block('latest');
      assert.equal(latest.height, (await client.info()).height);
    });

    test('a governed call needs the second org: refused alone, committed with its endorsement', async () => {
      await assert.rejects(client.invoke(admin, 'sys.contracts', 'revoke', { name: 'kv2' }), (e: unknown) => {
        assert.ok(e instanceof TransactionFailed);
        assert.equal(e.code, 'POLICY_NOT_MET');
        return true;
      });
      const r = await client.invoke(admin, 'sys.contracts', 'revoke', { name: 'kv2' }, { endorsers: [org2] });
      assert.equal(r.result.code, 'OK');
      const kv2 = (await client.contracts()).find((c) => c.name === 'kv2');
      assert.equal(kv2?.status, 'revoked');
    });

    test('errors carry the node’s stable codes', async () => {
      await assert.rejects(client.tx('0'.repeat(64)), (e: unknown) => {
        assert.ok(e instanceof ApiError);
        assert.equal(e.code, 'NOT_FOUND');
        assert.equal(e.status, 404);
        return true;
      });
      await assert.rejects(client.submit(Uint8Array.of(0xff, 0x01, 0x02)), (e: unknown) => {
        assert.ok(e instanceof ApiError);
        assert.equal(e.status, 400);
        assert.match(e.code, /^[A-Z_]+$/);
        return true;
      });
      await assert.rejects(client.query('nothing', 'get', {}), (e: unknown) => {
        assert.ok(e instanceof QueryFailed);
        assert.equal(e.code, 'CONTRACT_NOT_FOUND');
        return true;
      });
      assert.equal((await client.query('nothing', 'get', {}, { check: false })).code, 'CONTRACT_NOT_FOUND');
      const unreachable = new Client({ endpoint: 'http://127.0.0.1:9', chain: 'main', timeoutMs: 2_000 });
      await assert.rejects(unreachable.info(), { code: 'NODE_UNREACHABLE' });
    });

    test('the README’s five-minute example runs', async () => {
      const example = join(dirname(fileURLToPath(import.meta.url)), '..', 'examples', 'five-minutes.js');
      const { stdout } = await promisify(execFile)(process.execPath, ['--experimental-websocket', example], {
        cwd: node.dir,
      });
      assert.match(stdout, /^[0-9a-f]{64} at height \d+/m);
      assert.match(stdout, /^你好$/m);
      assert.match(stdout, /^in block [0-9a-f]{64}$/m);
    });

    test('subscriptions resume across a node restart with no gap and no duplicate', async () => {
      // The keys put so far: the first test's and the README example's.
      const keys = ['greeting', 'greeting', 's-1', 's-2'];
      for (const key of keys.slice(2)) await client.invoke(admin, 'kv', 'put', { key, value: 'v' });
      const blocks = collect(client.subscribeBlocks({ fromHeight: 1 }));
      const events = collect(client.subscribeEvents({ fromHeight: 1, contract: 'kv' }));
      const tip = (await client.info()).height;
      await until('the stored blocks', () => blocks.seen.length >= tip);
      await until('the stored events', () => events.seen.filter((e) => e.topic === 'put').length >= keys.length);

      await node.stop();
      await node.start();
      const later = ['s-3', 's-4', 's-5'];
      for (const key of later) await client.invoke(admin, 'kv', 'put', { key, value: 'v' });
      const newTip = (await client.info()).height;
      await until(
        'the blocks after the restart',
        () => blocks.seen.length >= newTip || blocks.error() !== undefined,
        30_000,
        () => `tip ${newTip}, seen ${blocks.seen.map((b) => b.height)}, reconnects ${blocks.sub.reconnects}`,
      );
      await until(
        'the events after the restart',
        () => events.seen.filter((e) => e.topic === 'put').length >= keys.length + later.length || events.error() !== undefined,
      );
      assert.equal(blocks.error(), undefined);
      assert.equal(events.error(), undefined);
      assert.equal(blocks.sub.reconnects, 1, 'the block subscription reconnected once');
      assert.equal(events.sub.reconnects, 1, 'the event subscription reconnected once');
      blocks.sub.close();
      events.sub.close();
      assert.deepEqual(
        blocks.seen.map((b) => b.height),
        Array.from({ length: blocks.seen.length }, (_, i) => i + 1),
        'every height once, in order',
      );
      const putKeys = events.seen.filter((e) => e.topic === 'put').map((e) => e.data);
      assert.deepEqual(putKeys, [...keys, ...later], 'every event once, in order');
    });
  });
}
