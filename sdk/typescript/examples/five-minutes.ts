// The README's five-minute example; the tests run it against a development node, from the
// directory that holds its dev/profile.json.

import { Client, Profile } from '../src/index.js';

const profile = await Profile.load('dev/profile.json');
const client = Client.fromProfile(profile);            // the node and chain of the profile
const me = await profile.signer();                     // its default identity (admin)

// Invoke: signed here, submitted, and answered once committed (throws TransactionFailed
// with the result's code if the contract refused).
const put = await client.invoke(me, 'kv', 'put', { key: 'greeting', value: '你好' });
console.log(put.tx_id, 'at height', put.height, put.result.events);

// Query: read-only, not on the ledger.
console.log((await client.query('kv', 'get', { key: 'greeting' })).result);

// The transaction with its Merkle proof checked against its block (throws ProofInvalid).
const tx = await client.verifiedTx(put.tx_id);
console.log('in block', tx.block_hash);

// Follow the chain: every block once, in order, across node restarts.
for await (const block of client.subscribeBlocks({ fromHeight: 1 })) {
  console.log(block.height, block.tx_count);
  if (block.height >= put.height) break;
}
