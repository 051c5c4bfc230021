/**
 * Atomic publication of one run's outputs. Files are written into a hidden folder
 * beside the target, each fsynced; manifest.json is written last; then the folder is
 * renamed to OUTDIR/<as-of date>. An importer that sees the folder (or its manifest)
 * sees complete outputs. A lock file keeps two runs off the same output folder.
 */
import { createHash } from 'node:crypto';
import {
  closeSync, existsSync, fchmodSync, fsyncSync, mkdirSync, openSync, readFileSync, readdirSync, renameSync,
  rmSync, statSync, writeSync, chmodSync,
} from 'node:fs';
import { join } from 'node:path';
import { ChurnwatchError } from '../errors.js';

export interface OutputRecord { file: string; bytes: number; sha256: string }

export interface PublishOptions {
  force: boolean;
  fileMode: number;
  dirMode: number;
}

function fail(e: unknown, what: string, path: string): never {
  if (e instanceof ChurnwatchError) throw e;
  const code = (e as NodeJS.ErrnoException).code ?? 'error';
  throw new ChurnwatchError('CW_OUTPUT_UNWRITABLE', `cannot ${what} ${path} (${code}); check that the output folder exists and is writable`, { file: path });
}

export function ensureDir(path: string, mode: number): void {
  try {
    if (!existsSync(path)) mkdirSync(path, { recursive: true, mode });
    if (!statSync(path).isDirectory()) throw new ChurnwatchError('CW_OUTPUT_UNWRITABLE', `${path} exists and is not a folder; choose another --out`, { file: path });
  } catch (e) { fail(e, 'create the folder', path); }
}

/** Writes one file in chunks, hashing as it goes; the file is fsynced and closed on return. */
export class ChunkedFile {
  private fd: number;
  private readonly hash = createHash('sha256');
  private bytes = 0;
  private pending: string[] = [];
  private pendingLength = 0;

  constructor(readonly path: string, readonly name: string, mode: number) {
    try {
      this.fd = openSync(path, 'wx', mode);
      fchmodSync(this.fd, mode); // the umask must not widen or narrow what was asked
    } catch (e) { fail(e, 'create', path); }
  }

  write(text: string): void {
    this.pending.push(text);
    this.pendingLength += text.length;
    if (this.pendingLength >= 1 << 20) this.flush();
  }

  writeBytes(buf: Uint8Array): void {
    this.flush();
    this.out(buf);
  }

  private out(buf: Uint8Array): void {
    this.hash.update(buf);
    this.bytes += buf.length;
    let off = 0;
    try {
      while (off < buf.length) off += writeSync(this.fd, buf, off, buf.length - off);
    } catch (e) { fail(e, 'write', this.path); }
  }

  private flush(): void {
    if (this.pending.length === 0) return;
    const buf = Buffer.from(this.pending.join(''), 'utf8');
    this.pending = [];
    this.pendingLength = 0;
    this.out(buf);
  }

  close(): OutputRecord {
    this.flush();
    try {
      fsyncSync(this.fd);
      closeSync(this.fd);
    } catch (e) { fail(e, 'sync', this.path); }
    return { file: this.name, bytes: this.bytes, sha256: this.hash.digest('hex') };
  }
}

export class Publication {
  readonly tmpDir: string;
  readonly target: string;
  readonly outputs: OutputRecord[] = [];

  constructor(readonly outRoot: string, readonly name: string, readonly opts: PublishOptions) {
    this.target = join(outRoot, name);
    this.tmpDir = join(outRoot, `.tmp-${name}-${process.pid}`);
    if (existsSync(this.target) && !opts.force) {
      throw new ChurnwatchError('CW_OUTPUT_EXISTS', `${this.target} is already published; rerun with --force to replace it`, { file: this.target });
    }
    try {
      rmSync(this.tmpDir, { recursive: true, force: true });
      mkdirSync(this.tmpDir, { mode: opts.dirMode });
      chmodSync(this.tmpDir, opts.dirMode);
    } catch (e) { fail(e, 'create the folder', this.tmpDir); }
  }

  open(name: string): ChunkedFile {
    return new ChunkedFile(join(this.tmpDir, name), name, this.opts.fileMode);
  }

  add(record: OutputRecord): void {
    this.outputs.push(record);
  }

  writeText(name: string, text: string): OutputRecord {
    const f = this.open(name);
    f.write(text);
    const r = f.close();
    this.add(r);
    return r;
  }

  /** Writes the manifest last, then moves the folder into place. */
  commit(manifestText: (outputs: OutputRecord[]) => string): string {
    this.writeText('manifest.json', manifestText(this.outputs));
    try {
      const dirFd = openSync(this.tmpDir, 'r');
      fsyncSync(dirFd);
      closeSync(dirFd);
      if (existsSync(this.target)) {
        // --force: move the old one aside first, so the name never shows a mix of both.
        const old = join(this.outRoot, `.old-${this.name}-${process.pid}`);
        renameSync(this.target, old);
        renameSync(this.tmpDir, this.target);
        rmSync(old, { recursive: true, force: true });
      } else {
        renameSync(this.tmpDir, this.target);
      }
      const rootFd = openSync(this.outRoot, 'r');
      fsyncSync(rootFd);
      closeSync(rootFd);
    } catch (e) { fail(e, 'publish', this.target); }
    return this.target;
  }

  abandon(): void {
    rmSync(this.tmpDir, { recursive: true, force: true });
  }
}

/** Removes temporary folders that killed runs left behind (never a published one). */
export function sweepLeftovers(outRoot: string): void {
  for (const entry of readdirSync(outRoot)) {
    if (entry.startsWith('.tmp-') || entry.startsWith('.old-')) {
      const pid = Number(entry.split('-').pop());
      if (!isAlive(pid)) rmSync(join(outRoot, entry), { recursive: true, force: true });
    }
  }
}

function isAlive(pid: number): boolean {
  if (!Number.isInteger(pid) || pid <= 0) return false;
  try { process.kill(pid, 0); return true; } catch (e) { return (e as NodeJS.ErrnoException).code === 'EPERM'; }
}

/** One run per output folder. A lock whose process is gone is stale and taken over. */
export class RunLock {
  readonly path: string;
  private held = false;

  constructor(outRoot: string) {
    this.path = join(outRoot, '.churnwatch.lock');
  }

  acquire(): void {
    for (let attempt = 0; attempt < 2; attempt++) {
      try {
        const fd = openSync(this.path, 'wx', 0o600);
        writeSync(fd, `${process.pid}\n`);
        closeSync(fd);
        this.held = true;
        return;
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code !== 'EEXIST') fail(e, 'create the lock', this.path);
      }
      let pid = NaN;
      try { pid = Number(readFileSync(this.path, 'utf8').trim()); } catch { /* vanished: retry */ }
      if (isAlive(pid) && pid !== process.pid) {
        throw new ChurnwatchError('CW_LOCK_HELD', `another churnwatch run (pid ${pid}) is writing to this output folder; wait for it, or remove ${this.path} if no run is active`, { file: this.path });
      }
      rmSync(this.path, { force: true });
    }
    throw new ChurnwatchError('CW_LOCK_HELD', `could not take the lock ${this.path}; another run may be starting`, { file: this.path });
  }

  release(): void {
    if (this.held) rmSync(this.path, { force: true });
    this.held = false;
  }
}
