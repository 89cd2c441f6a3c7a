// A real node for the SDK's tests: `covenant node init` in a temporary directory, then
// `covenant node start` as a child process, stopped and started again at will.

import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { mkdtempSync, openSync, readFileSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { promisify } from 'node:util';

const run = promisify(execFile);

export const BIN = process.env.COVENANT_BIN;
export const KV_WASM = process.env.COVENANT_KV_WASM;

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const a = s.address();
      s.close(() => (a && typeof a === 'object' ? resolve(a.port) : reject(new Error('no port'))));
    });
  });
}

export class DevNode {
  child: ChildProcess | undefined;

  private constructor(
    readonly dir: string,
    readonly api: string,
  ) {}

  get profile(): string {
    return join(this.dir, 'dev', 'profile.json');
  }

  /** `node init` with `args` (e.g. `--suite intl --orgs 2`), then start it. */
  static async create(args: string[]): Promise<DevNode> {
    const dir = mkdtempSync(join(tmpdir(), 'covenant-sdk-ts-'));
    const [api, grpc] = [await freePort(), await freePort()];
    await run(BIN!, ['node', 'init', '--dir', 'dev', '--api-port', String(api), '--grpc-port', String(grpc), ...args], { cwd: dir });
    const node = new DevNode(dir, `http://127.0.0.1:${api}`);
    await node.start();
    return node;
  }

  log(): string {
    try {
      return readFileSync(join(this.dir, 'node.stderr'), 'utf8');
    } catch {
      return '';
    }
  }

  /** Start the node; resolves once it answers `/healthz`. */
  async start(): Promise<void> {
    const err = openSync(join(this.dir, 'node.stderr'), 'a');
    const child = spawn(BIN!, ['node', 'start', '--dir', 'dev', '-o', 'json'], {
      cwd: this.dir,
      env: { ...process.env, RUST_LOG: 'warn' },
      stdio: ['ignore', 'pipe', err],
    });
    this.child = child;
    const first = await new Promise<string>((resolve) => {
      const lines = createInterface({ input: child.stdout! });
      lines.once('line', (l) => resolve(l));
      child.once('exit', () => resolve(''));
    });
    if (!first || 'error' in JSON.parse(first)) throw new Error(`the node did not start: ${first}\n${this.log()}`);
    const deadline = Date.now() + 15_000;
    while (Date.now() < deadline) {
      try {
        if ((await fetch(`${this.api}/healthz`)).ok) return;
      } catch {
        // not yet
      }
      await new Promise((r) => setTimeout(r, 50));
    }
    throw new Error(`the node did not answer /healthz\n${this.log()}`);
  }

  /** SIGTERM, and wait for the process to end. */
  async stop(): Promise<void> {
    const c = this.child;
    this.child = undefined;
    if (!c || c.exitCode !== null) return;
    const exited = new Promise((r) => c.once('exit', r));
    c.kill('SIGTERM');
    await exited;
  }

  /** The CLI with this node's profile; returns its JSON output. */
  async cli(args: string[]): Promise<any> {
    const { stdout } = await run(BIN!, [...args, '-o', 'json'], {
      cwd: this.dir,
      env: { ...process.env, COVENANT_PROFILE: this.profile },
    });
    return JSON.parse(stdout);
  }

  async destroy(): Promise<void> {
    this.child?.kill('SIGKILL');
    this.child = undefined;
    rmSync(this.dir, { recursive: true, force: true });
  }
}
