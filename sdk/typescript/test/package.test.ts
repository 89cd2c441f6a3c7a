// The package as its users load it: the ESM and CommonJS builds and the type declarations
// that `npm test` builds into dist/ (scripts/build.mjs), with the same exports.

import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath, pathToFileURL } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');

test('the ESM and CommonJS builds load and export the same names, with declarations', async () => {
  const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8'));
  const exports = pkg.exports['.'];
  const esm = await import(pathToFileURL(join(root, exports.import)).href);
  const cjs = createRequire(import.meta.url)(join(root, exports.require));
  const names = (m: object) => Object.keys(m).sort();
  assert.deepEqual(names(cjs), names(esm));
  for (const name of ['Client', 'Profile', 'Signer', 'PrivateKey', 'verifyInclusion', 'CovenantError']) {
    assert.equal(typeof esm[name], 'function', name);
  }
  assert.ok(existsSync(join(root, exports.types)), 'type declarations');
  // A class from the CommonJS build works on its own.
  const e = cjs.errorFromResponse(429, '{"error":{"code":"TXPOOL_FULL","message":"full","retry_after_ms":5}}');
  assert.equal(e.code, 'TXPOOL_FULL');
  assert.ok(e instanceof cjs.CovenantError);
});
