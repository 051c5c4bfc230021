/**
 * Shared pieces of the hardening suite: the compiled CLI (built once per source
 * state, so several test files can ask for it at the same time), child-process runs,
 * and checks of a published folder against its manifest.
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { main } from '../../src/cli/main.js';

export const ROOT = resolve(fileURLToPath(new URL('../..', import.meta.url)));
export const BIN = join(ROOT, 'bin', 'churnwatch.js');
export const AS_OF = '2026-11-23';

function sourceFiles(dir = join(ROOT, 'src')): string[] {
  const out: string[] = [];
  for (const e of readdirSync(dir, { withFileTypes: true }).sort((a, b) => a.name.localeCompare(b.name))) {
    const p = join(dir, e.name);
    if (e.isDirectory()) out.push(...sourceFiles(p));
    else if (e.name.endsWith('.ts')) out.push(p);
  }
  return out;
}

/** True when every source file has a compiled file at least as new (e.g. right after `npm test`'s tsc). */
function distNewerThanSources(): boolean {
  for (const src of sourceFiles()) {
    const js = join(ROOT, 'dist', relative(join(ROOT, 'src'), src)).replace(/\.ts$/, '.js');
    try {
      if (statSync(js).mtimeMs < statSync(src).mtimeMs) return false;
    } catch {
      return false;
    }
  }
  return true;
}

function sourceHash(): string {
  const h = createHash('sha256');
  for (const p of sourceFiles()) h.update(relative(ROOT, p)).update('\0').update(readFileSync(p)).update('\0');
  h.update(readFileSync(join(ROOT, 'tsconfig.json')));
  return h.digest('hex');
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * Compiles src into dist (as `npm test` does before vitest) unless dist already holds
 * this exact source. Test files running in parallel wait for one another's build.
 */
export async function ensureBuilt(): Promise<void> {
  const hash = sourceHash();
  const stamp = join(ROOT, 'dist', '.source-sha256');
  const fresh = () =>
    (existsSync(stamp) && readFileSync(stamp, 'utf8') === hash && existsSync(join(ROOT, 'dist', 'cli', 'main.js'))) ||
    distNewerThanSources();
  if (fresh()) return;
  const lockDir = join(tmpdir(), `churnwatch-build-${createHash('sha256').update(ROOT).digest('hex').slice(0, 12)}`);
  for (let waited = 0; ; waited += 100) {
    try {
      mkdirSync(lockDir);
      break;
    } catch {
      if (fresh()) return;
      // A build that died keeps its lock: after two minutes it is taken over.
      try {
        if (Date.now() - statSync(lockDir).mtimeMs > 120_000) rmSync(lockDir, { recursive: true, force: true });
      } catch {
        /* gone */
      }
      if (waited > 180_000) throw new Error('waited too long for another test file to build the CLI');
      await sleep(100);
    }
  }
  try {
    if (fresh()) return;
    const tsc = createRequire(import.meta.url).resolve('typescript/bin/tsc');
    try {
      execFileSync(process.execPath, [tsc, '-p', join(ROOT, 'tsconfig.json')], { cwd: ROOT, stdio: 'pipe', encoding: 'utf8' });
    } catch (e) {
      throw new Error(`the build failed:\n${(e as { stdout?: string }).stdout ?? ''}${(e as { stderr?: string }).stderr ?? ''}`);
    }
    writeFileSync(stamp, hash);
  } finally {
    rmSync(lockDir, { recursive: true, force: true });
  }
}

export interface ChildRun {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  ms: number;
}

export interface SpawnOptions {
  env?: Record<string, string | undefined>;
  /** Extra node flags (before the script). */
  nodeArgs?: string[];
  /** Run through `sh -c 'umask <mask>; exec …'`. */
  umask?: string;
}

export function spawnCli(args: string[], opts: SpawnOptions = {}): ChildProcess {
  const env = { ...process.env, ...opts.env };
  for (const k of Object.keys(env)) if (env[k] === undefined) delete env[k];
  const argv = [...(opts.nodeArgs ?? []), BIN, ...args];
  if (opts.umask !== undefined) {
    const quoted = [process.execPath, ...argv].map((a) => `'${a.replaceAll("'", "'\\''")}'`).join(' ');
    return spawn('/bin/sh', ['-c', `umask ${opts.umask}; exec ${quoted}`], { cwd: ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] });
  }
  return spawn(process.execPath, argv, { cwd: ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] });
}

export function collect(child: ChildProcess, onStderrLine?: (line: string) => void): Promise<ChildRun> {
  const started = performance.now();
  let stdout = '';
  let stderr = '';
  let partial = '';
  child.stdout!.setEncoding('utf8').on('data', (s: string) => {
    stdout += s;
  });
  child.stderr!.setEncoding('utf8').on('data', (s: string) => {
    stderr += s;
    if (!onStderrLine) return;
    partial += s;
    let nl: number;
    while ((nl = partial.indexOf('\n')) >= 0) {
      const line = partial.slice(0, nl);
      partial = partial.slice(nl + 1);
      onStderrLine(line);
    }
  });
  return new Promise((res, rej) => {
    child.on('error', rej);
    child.on('close', (code, signal) => res({ code, signal, stdout, stderr, ms: performance.now() - started }));
  });
}

/**
 * The compiled CLI with `env` added to the environment (an undefined value removes the
 * variable), under a file-size limit (RLIMIT_FSIZE, set with prlimit) when one is given.
 */
export function runUnderLimit(args: string[], env: Record<string, string | undefined>, fsizeLimit?: number): Promise<ChildRun> {
  const all = { ...process.env, ...env };
  for (const k of Object.keys(all)) if (all[k] === undefined) delete all[k];
  const argv = [BIN, ...args];
  const child =
    fsizeLimit === undefined
      ? spawn(process.execPath, argv, { cwd: ROOT, env: all, stdio: ['ignore', 'pipe', 'pipe'] })
      : spawn('prlimit', [`--fsize=${fsizeLimit}`, '--', process.execPath, ...argv], {
          cwd: ROOT,
          env: all,
          stdio: ['ignore', 'pipe', 'pipe'],
        });
  return collect(child);
}

/** OUT/failed/<as-of>/failure.json, with the output folder and the run's pid taken out of the paths it names. */
export function failureReport(out: string, asOf = AS_OF): Record<string, unknown> {
  const f = JSON.parse(readFileSync(join(out, FAILED, asOf, 'failure.json'), 'utf8')) as Record<string, unknown>;
  const strip = (v: unknown) =>
    typeof v === 'string' ? v.replaceAll(out, 'OUT').replace(/\.tmp-(\d{4}-\d\d-\d\d)-\d+/g, '.tmp-$1-PID') : v;
  return Object.fromEntries(Object.entries(f).map(([k, v]) => [k, strip(v)]));
}

const FAILED = 'failed';

export function runChild(args: string[], opts: SpawnOptions = {}): Promise<ChildRun> {
  return collect(spawnCli(args, opts));
}

export function tempDir(prefix: string): string {
  return mkdtempSync(join(tmpdir(), `cw-hard-${prefix}-`));
}

export function sha256(buf: Uint8Array): string {
  return createHash('sha256').update(buf).digest('hex');
}

export interface Manifest {
  as_of: string;
  inputs: { extract: string; file: string; bytes: number; sha256: string }[];
  outputs: { file: string; bytes: number; sha256: string }[];
  [k: string]: unknown;
}

/**
 * Checks a published folder: manifest.json present, every output it lists present
 * with the recorded size and hash, and nothing else in the folder. Returns the
 * manifest, or throws with what is wrong.
 */
export function verifyPublished(dir: string): Manifest {
  const manifestPath = join(dir, 'manifest.json');
  if (!existsSync(manifestPath)) throw new Error(`${dir} has no manifest.json: ${readdirSync(dir).join(', ')}`);
  const manifest = JSON.parse(readFileSync(manifestPath, 'utf8')) as Manifest;
  const listed = new Set(manifest.outputs.map((o) => o.file));
  for (const o of manifest.outputs) {
    const buf = readFileSync(join(dir, o.file));
    if (buf.length !== o.bytes || sha256(buf) !== o.sha256) throw new Error(`${o.file} does not match the manifest`);
  }
  const extra = readdirSync(dir).filter((f) => f !== 'manifest.json' && !listed.has(f));
  if (extra.length > 0) throw new Error(`files not in the manifest: ${extra.join(', ')}`);
  return manifest;
}

/** The outputs of a manifest by file name, without summary.json (which carries timings). */
export function reproducibleOutputs(m: Manifest): Record<string, string> {
  return Object.fromEntries(m.outputs.filter((o) => o.file !== 'summary.json').map((o) => [o.file, o.sha256]));
}

/** summary.json without its timings. */
export function summaryWithoutTimings(dir: string): Record<string, unknown> {
  const s = JSON.parse(readFileSync(join(dir, 'summary.json'), 'utf8')) as Record<string, unknown>;
  delete s.timings_ms;
  for (const f of Object.values(s.files ?? {}) as Record<string, unknown>[]) delete f.ms;
  return s;
}

/**
 * A command run in-process through main(), for runs whose process is not what a test
 * is about (setting up, a rerun after a kill): what a child would print, its NDJSON
 * log on stderr included, without starting node again.
 */
export async function runInProcess(args: string[]): Promise<ChildRun> {
  const started = performance.now();
  let stdout = '';
  let stderr = '';
  const append = (s: string) => {
    stderr += s;
  };
  const code = await main(args, {
    out: (s) => {
      stdout += s;
    },
    err: append,
    log: append,
  });
  return { code, signal: null, stdout, stderr, ms: performance.now() - started };
}

/** Generates extracts (in-process: the generator reads nothing of the process). */
export async function generate(out: string, args: string[]): Promise<void> {
  const r = await runInProcess(['generate', '--out', out, '--as-of', AS_OF, ...args]);
  if (r.code !== 0) throw new Error(`generate failed (${r.code}): ${r.stderr}`);
}

/** Mobile numbers (11 digits, 1[3-9]…) and 18-character ID numbers standing on their own in a text. */
export const MOBILE = /(?<!\d)1[3-9]\d{9}(?!\d)/g;
export const ID_NUMBER = /(?<!\d)\d{17}[\dXx](?![\dA-Za-z])/g;

/** Hex digests can hold digit runs by chance; they are not personal data. */
export function withoutDigests(text: string): string {
  return text.replace(/\b[0-9a-f]{64}\b/g, '<sha256>');
}

export function personalNumbersIn(text: string): string[] {
  const t = withoutDigests(text);
  return [...(t.match(MOBILE) ?? []), ...(t.match(ID_NUMBER) ?? [])];
}
