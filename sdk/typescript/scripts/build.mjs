// Builds the package: ESM (dist/esm) with type declarations (dist/types) and CommonJS
// (dist/cjs); with --tests, the sources and tests together into build/ for `node --test`.
import { execFileSync } from 'node:child_process';
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const tsc = join(root, 'node_modules', 'typescript', 'bin', 'tsc');
const run = (project) => {
  try {
    execFileSync(process.execPath, [tsc, '-p', join(root, project)], { stdio: 'inherit' });
  } catch (e) {
    console.error(`tsc -p ${project} failed`);
    process.exit(e.status ?? 1);
  }
};

rmSync(join(root, 'dist'), { recursive: true, force: true });
run('tsconfig.esm.json');
run('tsconfig.cjs.json');
// dist/cjs holds CommonJS although the package is "type": "module".
mkdirSync(join(root, 'dist', 'cjs'), { recursive: true });
writeFileSync(join(root, 'dist', 'cjs', 'package.json'), '{ "type": "commonjs" }\n');
if (process.argv.includes('--tests')) {
  rmSync(join(root, 'build'), { recursive: true, force: true });
  run('tsconfig.test.json');
}
