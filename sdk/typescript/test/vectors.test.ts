// The shared vectors of sdk/vectors/, which the Rust code writes: this SDK must reproduce every
// encoding, id and hash, accept every Rust signature and refuse every broken proof. It also
// signs transactions of its own (signed-typescript.json) that a Rust test verifies.

import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';

import {
  Certificate,
  type HashAlgorithm,
  type InclusionProof,
  Profile,
  PublicKey,
  type Sender,
  type Signer,
  type Suite,
  type TxPayload,
  decodePayload,
  decodeTransaction,
  digest,
  encodePayload,
  encodeTransaction,
  errorFromResponse,
  fromHex,
  isRetryable,
  suiteHash,
  toHex,
  txId,
  verifyInclusion,
} from '../src/index.js';

// build/test/ → the repository's sdk/vectors
const VECTORS = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..', 'vectors');
const read = (name: string): any => JSON.parse(readFileSync(join(VECTORS, name), 'utf8'));

async function signers(): Promise<Map<string, Signer>> {
  const profile = await Profile.load(join(VECTORS, 'profile.json'));
  const out = new Map<string, Signer>();
  for (const id of read('identities.json')) out.set(id.name, await profile.signer(id.name));
  return out;
}

function payloadOf(v: any): TxPayload {
  return {
    chainId: v.chain_id,
    nonce: fromHex(v.nonce),
    timestampMs: BigInt(v.timestamp_ms),
    expiryMs: BigInt(v.expiry_ms),
    contract: v.contract,
    method: v.method,
    args: fromHex(v.args),
    gasLimit: BigInt(v.gas_limit),
  };
}

test('hashes: SM3 and SHA-256 as the standards and the Rust code give them', () => {
  for (const h of read('hashes.json')) {
    assert.equal(toHex(digest(h.algorithm as HashAlgorithm, fromHex(h.input))), h.digest, `${h.algorithm}(${h.input.slice(0, 16)})`);
  }
});

test('the standards’ signature examples verify, and not for another message', () => {
  const all = read('standards.json');
  assert.deepEqual(all.map((c: any) => c.algorithm).sort(), ['ed25519', 'ed25519', 'p256', 'sm2']);
  for (const c of all) {
    const key = new PublicKey(c.algorithm, fromHex(c.public_key));
    const message = fromHex(c.message);
    assert.ok(key.verify(message, fromHex(c.signature)), c.source);
    assert.ok(!key.verify(Uint8Array.of(...message, 0x21), fromHex(c.signature)), `${c.source}: another message`);
  }
});

test('identities load through the profile with their keys, algorithms and accounts', async () => {
  const all = await signers();
  for (const id of read('identities.json')) {
    const s = all.get(id.name)!;
    assert.equal(s.key.algorithm, id.algorithm);
    assert.equal(s.suite, id.suite);
    assert.equal(toHex(s.key.publicKey.bytes), id.public_key, `${id.name}: public key`);
    assert.equal(toHex(s.certificate.der), id.certificate_der);
    assert.equal(s.account(), id.account, `${id.name}: account`);
  }
});

test('a profile naming an unknown identity or a key of another certificate is refused', async () => {
  const profile = await Profile.load(join(VECTORS, 'profile.json'));
  await assert.rejects(profile.signer('nobody'), { code: 'IDENTITY_UNKNOWN' });
  await assert.rejects(Profile.load(join(VECTORS, 'transactions.json')), { code: 'PROFILE_INVALID' });
  const certPem = readFileSync(join(VECTORS, 'identities', 'sm2-a.crt'), 'utf8');
  const otherKey = readFileSync(join(VECTORS, 'identities', 'sm2-b.key'), 'utf8');
  const { Signer } = await import('../src/index.js');
  assert.throws(() => Signer.fromPem(certPem, otherKey), { code: 'IDENTITY_INVALID' });
});

test('transactions: payload encoding, ids, the Rust signatures and the transaction encoding', async () => {
  const all = await signers();
  const cases = read('transactions.json');
  assert.ok(cases.length >= 10);
  for (const c of cases) {
    const p = payloadOf(c.payload);
    const encoded = encodePayload(p);
    assert.equal(toHex(encoded), c.payload_hex, `${c.name}: payload encoding`);
    assert.deepEqual(decodePayload(encoded), p, `${c.name}: payload decoding`);
    assert.equal(txId(c.suite as Suite, encoded), c.tx_id, `${c.name}: id`);
    const sender = all.get(c.sender.identity)!;
    const signature = fromHex(c.signature);
    assert.ok(sender.key.publicKey.verify(encoded, signature), `${c.name}: the Rust signature verifies`);
    const broken = signature.slice();
    broken[broken.length - 1]! ^= 1;
    assert.ok(!sender.key.publicKey.verify(encoded, broken), `${c.name}: a changed signature does not`);
    assert.ok(!sender.key.publicKey.verify(Uint8Array.of(...encoded, 0), signature), `${c.name}: nor another payload`);
    const endorsements = c.endorsements.map((e: any) => {
      const who = all.get(e.identity)!;
      const sig = fromHex(e.signature);
      assert.ok(who.key.publicKey.verify(encoded, sig), `${c.name}: the endorsement of ${e.identity}`);
      return { signer: who.sender(e.by === 'certificate_hash'), signature: sig };
    });
    const tx = {
      payload: encoded,
      sender: sender.sender(c.sender.by === 'certificate_hash') as Sender,
      signature,
      endorsements,
    };
    assert.equal(toHex(encodeTransaction(tx)), c.tx_hex, `${c.name}: transaction encoding`);
    assert.deepEqual(decodeTransaction(fromHex(c.tx_hex)), tx, `${c.name}: transaction decoding`);
  }
});

test('garbage is refused as MALFORMED, never taken for a transaction', () => {
  for (const bad of ['ff', '0aff', '0a05010203', '08', '0a0212']) {
    assert.throws(() => decodeTransaction(fromHex(bad)), { code: 'MALFORMED' }, bad);
  }
  assert.throws(() => decodePayload(fromHex('0a02c3')), { code: 'MALFORMED' });
});

test('Merkle proofs: every proof of every tree verifies; the broken ones do not', () => {
  const m = read('merkle.json');
  for (const t of m.trees) {
    const root = fromHex(t.root);
    t.proofs.forEach((p: InclusionProof, i: number) => {
      assert.ok(verifyInclusion(t.algorithm, root, fromHex(t.leaves[i]), p), `${t.algorithm} ${t.leaves.length} leaves, #${i}`);
    });
  }
  assert.ok(m.invalid.length >= 12);
  for (const b of m.invalid) {
    assert.ok(!verifyInclusion(b.algorithm, fromHex(b.root), fromHex(b.leaf), b.proof), `${b.algorithm}: ${b.why}`);
  }
});

test('error bodies: the node’s code and whether to retry', () => {
  for (const e of read('errors.json')) {
    const err = errorFromResponse(e.status, e.body);
    assert.equal(err.code, e.code);
    assert.equal(err.status, e.status);
    assert.equal(err.retryAfterMs ?? null, e.retry_after_ms);
    assert.equal(isRetryable(err), e.retry);
  }
});

// What this SDK signs, for the Rust side to verify (crates/client/sdk/tests/it/vectors.rs).
const OWN: { name: string; sender: string; endorsers: string[]; byHash: boolean }[] = [
  { name: 'typescript sm2', sender: 'sm2-a', endorsers: [], byHash: false },
  { name: 'typescript sm2 endorsed', sender: 'sm2-a', endorsers: ['sm2-b'], byHash: false },
  { name: 'typescript sm2 by certificate hash', sender: 'sm2-b', endorsers: [], byHash: true },
  { name: 'typescript p256', sender: 'p256-a', endorsers: [], byHash: false },
  { name: 'typescript p256 endorsed', sender: 'p256-a', endorsers: ['p256-b', 'ed25519-a'], byHash: false },
  { name: 'typescript ed25519', sender: 'ed25519-a', endorsers: [], byHash: false },
];

function ownPayload(i: number): TxPayload {
  return {
    chainId: 'main',
    nonce: Uint8Array.from({ length: 16 }, (_, j) => (i * 16 + j) & 0xff),
    timestampMs: 1_764_547_200_000n + BigInt(i),
    expiryMs: 0n,
    contract: 'kv',
    method: 'put',
    args: new TextEncoder().encode(JSON.stringify({ key: `ts-${i}`, value: '值' })),
    gasLimit: BigInt(i * 1000),
  };
}

test('signed-typescript.json: what this SDK signs (COVENANT_WRITE_VECTORS=1 writes it)', async () => {
  const all = await signers();
  const file = join(VECTORS, 'signed-typescript.json');
  if (process.env.COVENANT_WRITE_VECTORS === '1') {
    const out = OWN.map((o, i) => {
      const s = all.get(o.sender)!;
      const signed = s.sign(ownPayload(i), { endorsers: o.endorsers.map((e) => all.get(e)!), senderByHash: o.byHash });
      return { name: o.name, suite: s.suite, tx_hex: toHex(signed.tx), tx_id: signed.txId };
    });
    writeFileSync(file, JSON.stringify(out, null, 2) + '\n');
  }
  const entries = JSON.parse(readFileSync(file, 'utf8'));
  assert.equal(entries.length, OWN.length);
  const byAccount = new Map([...all.values()].map((s) => [s.account(), s]));
  entries.forEach((e: any, i: number) => {
    const tx = decodeTransaction(fromHex(e.tx_hex));
    assert.equal(toHex(tx.payload), toHex(encodePayload(ownPayload(i))), `${e.name}: the payload this SDK builds`);
    assert.equal(toHex(suiteHash(e.suite, tx.payload)), e.tx_id);
    const keyOf = (s: Sender | undefined) =>
      s && 'certificate' in s ? new Certificate(s.certificate).publicKey : byAccount.get(toHex((s as { certificateHash: Uint8Array }).certificateHash))!.key.publicKey;
    assert.ok(keyOf(tx.sender).verify(tx.payload, tx.signature), `${e.name}: the sender's signature`);
    assert.equal(tx.endorsements.length, OWN[i]!.endorsers.length);
    for (const en of tx.endorsements) assert.ok(keyOf(en.signer).verify(tx.payload, en.signature), `${e.name}: an endorsement`);
  });
});
