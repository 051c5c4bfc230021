/**
 * Atomic publication of one run's outputs, the run lock, and the report of a failed run.
 *
 * Publication: files are written into a hidden folder beside the target
 * (OUTDIR/.tmp-<date>-<pid>), each fsynced (on the thread pool once it is closed, while
 * the next file is written; commit waits for all of them); manifest.json is written
 * last; the folder is fsynced and renamed to OUTDIR/<date>, and OUTDIR is fsynced. An importer that
 * sees OUTDIR/<date> (or its manifest) sees complete outputs. With --force the old
 * folder is first renamed aside (.old-<date>-<pid>), the new one renamed into place,
 * and the old one removed: the date folder never holds a mix of two runs (for an
 * instant between the two renames it does not exist at all).
 *
 * Leftovers of a killed run (.tmp-*, .old-*) are cleared by the next run, which holds
 * the lock: an .old-* folder whose date is missing is renamed back, so a run killed
 * in the middle of a --force replacement leaves the previous publication in place.
 *
 * Lock: OUTDIR/.churnwatch.lock names the process holding it (pid, its start time,
 * the boot, the host). It is created complete in one step (written under a private
 * name, then hard-linked into place), so a half-written lock never exists. A lock
 * whose process is gone (or whose pid now belongs to another process, or that is
 * from an earlier boot) is stale and taken over; the takeover renames the stale file
 * aside and checks that it was the one judged stale, so two runs racing for a stale
 * lock cannot both win.
 *
 * Modes: files and folders are created with the configured modes (0600 / 0700 by
 * default) and then chmod-ed, so the umask neither widens nor narrows them.
 */
import { createHash, randomBytes } from 'node:crypto';
import {
  close,
  closeSync,
  existsSync,
  fchmodSync,
  ftruncateSync,
  fdatasync,
  fsync,
  fsyncSync,
  linkSync,
  mkdirSync,
  openSync,
  readFileSync,
  readdirSync,
  renameSync,
  rmSync,
  rmdirSync,
  statSync,
  unlinkSync,
  writeSync,
  chmodSync,
} from 'node:fs';
import { hostname } from 'node:os';
import { basename, dirname, join } from 'node:path';
import { ChurnwatchError } from '../errors.js';
import { directIo, directWritesPay, giveStage, O_DIRECT, STAGE_BYTES, takeStage, wholeBlocks } from './direct-writes.js';

export interface OutputRecord {
  file: string;
  bytes: number;
  sha256: string;
}

export interface PublishOptions {
  force: boolean;
  fileMode: number;
  dirMode: number;
  /**
   * Write the large files past the page cache (direct-writes.ts) where the file system
   * takes it; default: where the platform has O_DIRECT and a fresh page of memory is
   * dear (directWritesPay, measured once as the publication begins).
   */
  directWrites?: boolean;
}

function errnoOf(e: unknown): string | undefined {
  return (e as NodeJS.ErrnoException | null)?.code;
}

function fail(e: unknown, what: string, path: string): never {
  throw failure(e, what, path);
}

function failure(e: unknown, what: string, path: string): ChurnwatchError {
  if (e instanceof ChurnwatchError) return e;
  const code = errnoOf(e) ?? 'error';
  return new ChurnwatchError(
    'CW_OUTPUT_UNWRITABLE',
    `cannot ${what} ${path} (${code}); check that the output folder exists and is writable`,
    { file: path },
  );
}

/** Creates a folder (and missing parents) with exactly `mode`; an existing folder is left as it is. */
export function ensureDir(path: string, mode: number): void {
  try {
    if (existsSync(path)) {
      if (!statSync(path).isDirectory())
        throw new ChurnwatchError('CW_OUTPUT_UNWRITABLE', `${path} exists and is not a folder; choose another --out`, { file: path });
      return;
    }
    const created: string[] = [];
    for (let p = path; !existsSync(p); p = dirname(p)) {
      created.push(p);
      if (dirname(p) === p) break;
    }
    mkdirSync(path, { recursive: true, mode });
    for (const p of created) chmodSync(p, mode);
  } catch (e) {
    fail(e, 'create the folder', path);
  }
}

function fsyncDir(path: string): void {
  const fd = openSync(path, 'r');
  try {
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

/** A closed file's descriptor, and the early syncs (ChunkedFile's SYNC_AHEAD) it must wait for before its last fsync. */
export interface ClosedFile {
  fd: number;
  path: string;
  /** Each early sync's error, or null: the kernel reports a write-back error to one sync only. */
  ahead: readonly Promise<NodeJS.ErrnoException | null>[];
}

/**
 * A file handed to syncLater is synced on the thread pool as it grows, every this many
 * bytes: the disk then writes it while it is written, not all of it at the last fsync
 * (the largest task files, 73 MB each, were ~200 ms of writing to disk after their last
 * row at the end of the run, with the cores idle).
 */
const SYNC_AHEAD = 16 << 20;

/**
 * Writes one file in chunks, hashing as it goes; the file is fsynced and closed on
 * return from close(), or handed to `syncLater` for that when one is given (and then
 * synced ahead as it grows). With `copyPath`, every byte goes to a second file too:
 * the same bytes under another name, hashed once (copyRecord()). With `direct`, the
 * bytes are staged and written past the page cache where the file system takes that
 * (direct-writes.ts), and written plainly where it does not.
 */
export class ChunkedFile {
  private fd: number;
  /** The copy's descriptor, or -1. */
  private copyFd = -1;
  /** The descriptors went to syncLater: they are no longer this object's to close. */
  private handedOff = false;
  private readonly hash = createHash('sha256');
  private bytes = 0;
  private pending: string[] = [];
  private pendingLength = 0;
  /** Bytes written since the last early sync, and the early syncs of the file and of its copy. */
  private unsynced = 0;
  private readonly ahead: Promise<NodeJS.ErrnoException | null>[] = [];
  private readonly copyAhead: Promise<NodeJS.ErrnoException | null>[] = [];
  /** With direct writes: the aligned stage, the bytes in it, and the bytes before it, already in the file. */
  private stage: Uint8Array | undefined;
  private staged = 0;
  private written = 0;

  constructor(
    readonly path: string,
    readonly name: string,
    mode: number,
    private readonly syncLater?: (file: ClosedFile) => void,
    readonly copyPath?: string,
    direct = false,
  ) {
    const file = ChunkedFile.create(path, mode, direct);
    this.fd = file.fd;
    let copyDirect = true;
    if (copyPath !== undefined) {
      try {
        const copy = ChunkedFile.create(copyPath, mode, file.direct);
        this.copyFd = copy.fd;
        copyDirect = copy.direct;
      } catch (e) {
        closeSync(this.fd);
        throw e;
      }
    }
    if (file.direct) this.stageOrReopen(mode, copyDirect);
  }

  /** True while the file's bytes go past the page cache. */
  get direct(): boolean {
    return this.stage !== undefined;
  }

  /** A new file, opened for direct writes when asked and the file system takes O_DIRECT. */
  private static create(path: string, mode: number, direct: boolean): { fd: number; direct: boolean } {
    try {
      let fd = openSync(path, 'wx', mode);
      const again = direct ? directIo.reopen(path) : undefined;
      if (again !== undefined) {
        closeSync(fd);
        fd = again;
      }
      fchmodSync(fd, mode); // the umask must not widen or narrow what was asked
      return { fd, direct: again !== undefined };
    } catch (e) {
      fail(e, 'create', path);
    }
  }

  /** A stage for direct writes; or, when the file (or its copy) takes none, both reopened for plain writes. */
  private stageOrReopen(mode: number, copyDirect: boolean): void {
    try {
      this.stage = copyDirect ? takeStage(this.fd, this.copyFd < 0 ? [] : [this.copyFd]) : undefined;
      if (this.stage !== undefined) return;
      for (const copy of [false, true]) {
        const fd = copy ? this.copyFd : this.fd;
        if (fd < 0) continue;
        closeSync(fd);
        // Opened with O_DIRECT or not, the file is this object's, empty but for the probe's block.
        const again = openSync(copy ? this.copyPath! : this.path, 'w', mode);
        if (copy) this.copyFd = again;
        else this.fd = again;
      }
    } catch (e) {
      this.abandon();
      fail(e, 'write', this.path);
    }
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
    const stage = this.stage;
    if (stage !== undefined) {
      for (let off = 0; off < buf.length; ) {
        const n = Math.min(buf.length - off, STAGE_BYTES - this.staged);
        stage.set(n === buf.length ? buf : buf.subarray(off, off + n), this.staged);
        this.staged += n;
        off += n;
        if (this.staged === STAGE_BYTES) this.writeStage(STAGE_BYTES);
      }
      return;
    }
    writeAll(this.fd, buf, this.path);
    if (this.copyFd >= 0) writeAll(this.copyFd, buf, this.copyPath!);
    this.wrote(buf.length);
  }

  /** Writes the stage's first `length` bytes (whole blocks) where the file's written bytes end. */
  private writeStage(length: number): void {
    const stage = this.stage!;
    writeAt(this.fd, stage, length, this.written, this.path);
    if (this.copyFd >= 0) writeAt(this.copyFd, stage, length, this.written, this.copyPath!);
    this.written += length;
    this.staged = 0;
    this.wrote(length);
  }

  /** Counts bytes written, and starts an early sync every SYNC_AHEAD of them. */
  private wrote(length: number): void {
    if (this.syncLater === undefined) return;
    this.unsynced += length;
    if (this.unsynced < SYNC_AHEAD) return;
    this.unsynced = 0;
    this.ahead.push(syncAhead(this.fd));
    if (this.copyFd >= 0) this.copyAhead.push(syncAhead(this.copyFd));
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
    if (this.stage !== undefined) this.writeLastBlocks();
    if (this.syncLater !== undefined) {
      this.handedOff = true;
      this.syncLater({ fd: this.fd, path: this.path, ahead: this.ahead });
      if (this.copyFd >= 0) this.syncLater({ fd: this.copyFd, path: this.copyPath!, ahead: this.copyAhead });
    } else {
      for (const [fd, path] of this.files()) {
        try {
          fsyncSync(fd);
          closeSync(fd);
        } catch (e) {
          fail(e, 'sync', path);
        }
      }
    }
    return { file: this.name, bytes: this.bytes, sha256: this.hash.digest('hex') };
  }

  /** The staged tail, padded with zeros to a whole block, then each file cut back to its bytes (the probe wrote a block too). */
  private writeLastBlocks(): void {
    const stage = this.stage!;
    if (this.staged > 0) {
      const padded = wholeBlocks(this.staged);
      stage.fill(0, this.staged, padded);
      this.writeStage(padded);
    }
    this.stage = undefined;
    giveStage(stage);
    for (const [fd, path] of this.files()) {
      try {
        ftruncateSync(fd, this.bytes);
      } catch (e) {
        fail(e, 'write', path);
      }
    }
  }

  /** The file's descriptor and path, and its copy's when it has one. */
  private files(): [number, string][] {
    return this.copyFd < 0
      ? [[this.fd, this.path]]
      : [
          [this.fd, this.path],
          [this.copyFd, this.copyPath!],
        ];
  }

  /** The record of the copy (same bytes, its own name), once close() has given the file's. */
  copyRecord(record: OutputRecord): OutputRecord {
    if (this.copyPath === undefined) throw new Error(`internal: ${this.name} was written without a copy`);
    return { ...record, file: basename(this.copyPath) };
  }

  /** Closes the file without syncing it, for a write that failed (its caller removes it). */
  abandon(): void {
    if (this.stage !== undefined) giveStage(this.stage);
    this.stage = undefined;
    if (this.handedOff) return;
    this.handedOff = true;
    for (const [fd, ahead] of [
      [this.fd, this.ahead],
      [this.copyFd, this.copyAhead],
    ] as const) {
      if (fd < 0) continue;
      // An early sync may still be queued on the thread pool: the descriptor is closed after it, never under it
      // (closed now, its number could be another file's by the time the sync runs).
      if (ahead.length > 0) {
        void Promise.all(ahead).then(() => close(fd, () => {}));
        continue;
      }
      try {
        closeSync(fd);
      } catch {
        /* already closed by a failed close() */
      }
    }
  }
}

function writeAll(fd: number, buf: Uint8Array, path: string): void {
  let off = 0;
  try {
    while (off < buf.length) off += writeSync(fd, buf, off, buf.length - off);
  } catch (e) {
    fail(e, 'write', path);
  }
}

function writeAt(fd: number, buf: Uint8Array, length: number, position: number, path: string): void {
  try {
    // A direct write is whole or fails: a short one (a full disk) cannot be resumed from an unaligned offset.
    if (writeSync(fd, buf, 0, length, position) !== length) throw Object.assign(new Error('short write'), { code: 'ENOSPC' });
  } catch (e) {
    fail(e, 'write', path);
  }
}

/** An fdatasync of fd on the thread pool; its error, or null. Its callback may come late (the writer's thread may be busy): nothing waits on it but the last fsync. */
function syncAhead(fd: number): Promise<NodeJS.ErrnoException | null> {
  return new Promise((done) => fdatasync(fd, (e) => done(e)));
}

/**
 * One file outside a publication (an analyst's export): written beside `path` under a
 * hidden name, fsynced, then renamed over it, so a reader sees the whole file or
 * none; on any failure the partial file is removed.
 */
export function writeFileAtomically(path: string, mode: number, write: (f: ChunkedFile) => void): OutputRecord {
  const tmp = join(dirname(path), `${TMP_PREFIX}${process.pid}-${basename(path)}`);
  let f: ChunkedFile | undefined;
  try {
    f = new ChunkedFile(tmp, basename(path), mode);
    write(f);
    const record = f.close();
    f = undefined;
    renameSync(tmp, path);
    return record;
  } catch (e) {
    f?.abandon();
    rmSync(tmp, { force: true });
    fail(e, 'write', path);
  }
}

/** A publication's hidden folder and file mode: all a worker thread needs to add a file to it. */
export interface PublicationPlace {
  dir: string;
  fileMode: number;
  /** Large files past the page cache (PublishOptions.directWrites). */
  directWrites: boolean;
}

/** A new file `name` in a publication's folder, fsynced when closed; its record goes to Publication.add. */
export function openIn(place: PublicationPlace, name: string): ChunkedFile {
  return new ChunkedFile(join(place.dir, name), name, place.fileMode);
}

/**
 * Files written into a publication's folder, from whichever thread holds it (the
 * Publication on the main thread, a task-files worker): each closed file's fsync and
 * close run on the thread pool while the next file is written; synced() waits for them.
 */
export class FolderWriter {
  /** The fsyncs of closed files still running on the thread pool, and the first that failed. */
  private readonly syncing: Promise<void>[] = [];
  private syncError: ChurnwatchError | undefined;

  constructor(readonly place: PublicationPlace) {}

  /** A new file; with `copyName`, written under that name too (ChunkedFile.copyRecord). */
  open(name: string, copyName?: string): ChunkedFile {
    const dir = this.place.dir;
    return new ChunkedFile(
      join(dir, name),
      name,
      this.place.fileMode,
      (file) => this.syncLater(file),
      copyName === undefined ? undefined : join(dir, copyName),
      this.place.directWrites,
    );
  }

  private syncLater({ fd, path, ahead }: ClosedFile): void {
    this.syncing.push(
      (async () => {
        // The early syncs first: the descriptor must stay open until they are done.
        const early = (await Promise.all(ahead)).find((e) => e !== null) ?? null;
        await new Promise<void>((done) => {
          fsync(fd, (e) => {
            close(fd, (e2) => {
              const err = early ?? e ?? e2;
              if (err) this.syncError ??= failure(err, 'sync', path);
              done();
            });
          });
        });
      })(),
    );
  }

  /** True while a closed file is not yet synced, or once a sync failed. */
  get unsynced(): boolean {
    return this.syncing.length > 0 || this.syncError !== undefined;
  }

  /** Waits until every file closed so far is fsynced and closed; throws the first failure. */
  async synced(): Promise<void> {
    await Promise.all(this.syncing);
    this.syncing.length = 0;
    if (this.syncError !== undefined) throw this.syncError;
  }
}

export const TMP_PREFIX = '.tmp-';
export const OLD_PREFIX = '.old-';

export class Publication {
  readonly tmpDir: string;
  readonly target: string;
  readonly outputs: OutputRecord[] = [];
  private readonly files: FolderWriter;

  constructor(
    readonly outRoot: string,
    readonly name: string,
    readonly opts: PublishOptions,
  ) {
    this.target = join(outRoot, name);
    this.tmpDir = join(outRoot, `${TMP_PREFIX}${name}-${process.pid}`);
    if (existsSync(this.target) && !opts.force) {
      throw new ChurnwatchError('CW_OUTPUT_EXISTS', `${this.target} is already published; rerun with --force to replace it`, {
        file: this.target,
      });
    }
    try {
      rmSync(this.tmpDir, { recursive: true, force: true });
      mkdirSync(this.tmpDir, { mode: opts.dirMode });
      chmodSync(this.tmpDir, opts.dirMode);
    } catch (e) {
      fail(e, 'create the folder', this.tmpDir);
    }
    this.writesDirect = opts.directWrites ?? (O_DIRECT !== 0 && directWritesPay(directIo.freshPageCost()));
    this.files = new FolderWriter(this.place());
  }

  /** Whether the large files go past the page cache (PublishOptions.directWrites, or as a fresh page's cost decided). */
  readonly writesDirect: boolean;

  /**
   * A new file (with `copyName`, written under that name too: FolderWriter.open); its
   * fsync and close run on the thread pool once it is closed, while this thread writes
   * the next file (synced() waits for them, and commit needs that).
   */
  open(name: string, copyName?: string): ChunkedFile {
    return this.files.open(name, copyName);
  }

  /** Waits until every file closed so far is fsynced and closed; throws the first failure. */
  async synced(): Promise<void> {
    await this.files.synced();
  }

  /** Where this publication's files go, as plain data another thread can open files with (openIn, FolderWriter). */
  place(): PublicationPlace {
    return { dir: this.tmpDir, fileMode: this.opts.fileMode, directWrites: this.writesDirect };
  }

  add(record: OutputRecord): void {
    this.outputs.push(record);
  }

  /** A small file, fsynced before this returns. */
  writeText(name: string, text: string): OutputRecord {
    const f = openIn(this.place(), name);
    f.write(text);
    const r = f.close();
    this.add(r);
    return r;
  }

  /**
   * Writes the manifest last (when given), then moves the folder into place. Without
   * --force an existing target is refused (73) even here, so two runs can never both publish.
   */
  commit(manifestText?: (outputs: OutputRecord[]) => string): string {
    if (this.files.unsynced)
      throw new ChurnwatchError('CW_INTERNAL', 'the publication was committed before its files were synced (await synced() first)');
    if (manifestText) this.writeText('manifest.json', manifestText(this.outputs));
    try {
      fsyncDir(this.tmpDir);
      if (existsSync(this.target)) {
        if (!this.opts.force) {
          throw new ChurnwatchError(
            'CW_OUTPUT_EXISTS',
            `${this.target} was published while this run was working; rerun with --force to replace it`,
            { file: this.target },
          );
        }
        // Move the old one aside first, so the name never shows a mix of both.
        const old = join(this.outRoot, `${OLD_PREFIX}${this.name}-${process.pid}`);
        rmSync(old, { recursive: true, force: true });
        renameSync(this.target, old);
        renameSync(this.tmpDir, this.target);
        fsyncDir(this.outRoot);
        rmSync(old, { recursive: true, force: true });
      } else {
        renameSync(this.tmpDir, this.target);
      }
      fsyncDir(this.outRoot);
    } catch (e) {
      fail(e, 'publish', this.target);
    }
    return this.target;
  }

  abandon(): void {
    rmSync(this.tmpDir, { recursive: true, force: true });
  }
}

/** "<prefix><name>-<pid>" → name. */
function leftoverName(entry: string, prefix: string): string | undefined {
  if (!entry.startsWith(prefix)) return undefined;
  const rest = entry.slice(prefix.length);
  const dash = rest.lastIndexOf('-');
  return dash > 0 && /^\d+$/.test(rest.slice(dash + 1)) ? rest.slice(0, dash) : undefined;
}

/**
 * Clears what killed runs left in an output folder. Call it only while holding the
 * lock and before this run creates anything there: then every leftover is from a
 * dead run (whatever its pid, which a container may well give the next run too).
 * Returns what it did, for the log.
 */
export function sweepLeftovers(outRoot: string): string[] {
  const done: string[] = [];
  let entries: string[];
  try {
    entries = readdirSync(outRoot);
  } catch (e) {
    fail(e, 'list', outRoot);
  }
  for (const entry of entries) {
    const path = join(outRoot, entry);
    try {
      const old = leftoverName(entry, OLD_PREFIX);
      if (leftoverName(entry, TMP_PREFIX) !== undefined) {
        rmSync(path, { recursive: true, force: true });
        done.push(`removed ${entry}`);
      } else if (old !== undefined) {
        const target = join(outRoot, old);
        if (!existsSync(target)) {
          // A --force replacement was killed between its two renames: put the previous publication back.
          renameSync(path, target);
          fsyncDir(outRoot);
          done.push(`restored ${old} from ${entry}`);
        } else {
          rmSync(path, { recursive: true, force: true });
          done.push(`removed ${entry}`);
        }
      } else if (entry.startsWith(`${LOCK_NAME}.`)) {
        // A private lock name of a run that is starting right now must stay: only the dead's go.
        const pid = Number(entry.slice(LOCK_NAME.length + 1).split('.')[0]);
        if (!isAlive(pid)) {
          rmSync(path, { force: true });
          done.push(`removed ${entry}`);
        }
      }
    } catch (e) {
      fail(e, 'clear the leftover', path);
    }
  }
  return done;
}

// ---------------------------------------------------------------- the failed-run report

export const FAILED_DIR = 'failed';

/**
 * OUTDIR/failed/<date>/: what a failed run leaves for the operator (failure.json, and
 * rejects.csv when the extracts were read). No manifest and no task file, so no
 * importer can take it for a publication; written atomically like one.
 */
export function writeFailureReport(
  outRoot: string,
  name: string,
  modes: { fileMode: number; dirMode: number },
  files: { name: string; text: string }[],
): string {
  const root = join(outRoot, FAILED_DIR);
  ensureDir(root, modes.dirMode);
  sweepLeftovers(root);
  const p = new Publication(root, name, { force: true, ...modes });
  try {
    for (const f of files) p.writeText(f.name, f.text);
    return p.commit();
  } catch (e) {
    p.abandon();
    throw e;
  }
}

/** Removes the failed-run report of a date once the date is published. */
export function clearFailureReport(outRoot: string, name: string): void {
  const root = join(outRoot, FAILED_DIR);
  if (!existsSync(root)) return;
  rmSync(join(root, name), { recursive: true, force: true });
  try {
    rmdirSync(root);
  } catch {
    /* not empty: other dates' reports stay */
  }
}

// ---------------------------------------------------------------- the lock

export const LOCK_NAME = '.churnwatch.lock';

interface LockInfo {
  pid: number;
  /** Start time of the process (clock ticks since boot), where the system tells it. */
  start?: string;
  boot?: string;
  host?: string;
  token?: string;
  since?: string;
}

function readOr(path: string): string | undefined {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return undefined;
  }
}

/** Fields 3 on of /proc/<pid>/stat (after the command name, which may hold spaces), or undefined. */
function statFields(pid: number): string[] | undefined {
  const stat = readOr(`/proc/${pid}/stat`);
  return stat === undefined ? undefined : stat.slice(stat.lastIndexOf(')') + 2).split(' ');
}

/** The state (field 3 of /proc/<pid>/stat) in statFields: Z for a process that has ended and waits only to be reaped. */
const STATE = 0;
/** The start time in clock ticks since boot (field 22) in statFields. */
const START = 19;

/** Start time of a process in clock ticks since boot (field 22 of /proc/<pid>/stat), or undefined. */
export function processStart(pid: number): string | undefined {
  return statFields(pid)?.[START];
}

const BOOT_ID = readOr('/proc/sys/kernel/random/boot_id')?.trim();

function isAlive(pid: number): boolean {
  if (!Number.isInteger(pid) || pid <= 0) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return errnoOf(e) === 'EPERM';
  }
}

function parseLock(text: string): LockInfo | undefined {
  try {
    const v = JSON.parse(text) as LockInfo;
    if (v && typeof v === 'object' && Number.isInteger(v.pid)) return v;
  } catch {
    /* an older plain "pid" lock */
  }
  const pid = Number(text.trim());
  return Number.isInteger(pid) && pid > 0 ? { pid } : undefined;
}

export class RunLock {
  readonly path: string;
  private held = false;
  private readonly token = randomBytes(8).toString('hex');
  /** Set when acquire() took over a stale lock: the pid that had left it. */
  tookOverFrom: number | undefined;

  constructor(
    readonly outRoot: string,
    private readonly fileMode = 0o600,
  ) {
    this.path = join(outRoot, LOCK_NAME);
  }

  private info(): LockInfo {
    return {
      pid: process.pid,
      start: processStart(process.pid),
      boot: BOOT_ID,
      host: hostname(),
      token: this.token,
      since: new Date().toISOString(),
    };
  }

  /** Creates the lock file complete, or returns false when one exists. */
  private tryCreate(): boolean {
    const text = JSON.stringify(this.info()) + '\n';
    const priv = `${this.path}.${process.pid}.${this.token}`;
    try {
      const fd = openSync(priv, 'w', this.fileMode);
      try {
        fchmodSync(fd, this.fileMode);
        writeSync(fd, text);
        fsyncSync(fd);
      } finally {
        closeSync(fd);
      }
    } catch (e) {
      fail(e, 'create the lock', priv);
    }
    try {
      linkSync(priv, this.path);
      return true;
    } catch (e) {
      const code = errnoOf(e);
      // EEXIST: a lock is there. ENOENT: our private file was cleared by the run holding the lock.
      if (code === 'EEXIST' || code === 'ENOENT') return false;
      if (code === 'EPERM' || code === 'ENOTSUP' || code === 'EOPNOTSUPP' || code === 'ENOSYS') {
        // A file system without hard links: create exclusively and write.
        try {
          const fd = openSync(this.path, 'wx', this.fileMode);
          try {
            fchmodSync(fd, this.fileMode);
            writeSync(fd, text);
          } finally {
            closeSync(fd);
          }
          return true;
        } catch (e2) {
          if (errnoOf(e2) === 'EEXIST') return false;
          fail(e2, 'create the lock', this.path);
        }
      }
      fail(e, 'create the lock', this.path);
    } finally {
      rmSync(priv, { force: true });
    }
  }

  /** Why the lock in `text` is stale, or undefined when its run may be alive. */
  private staleReason(lock: LockInfo | undefined): string | undefined {
    if (lock === undefined) return 'unreadable';
    if (lock.host !== undefined && lock.host !== hostname()) return undefined; // cannot check another machine
    if (lock.boot !== undefined && BOOT_ID !== undefined && lock.boot !== BOOT_ID) return 'left before a reboot';
    if (!isAlive(lock.pid)) return `process ${lock.pid} is gone`;
    // One read of its stat for both checks. A zombie holds nothing: a run killed under a wrapper that never waits
    // for it, or orphaned in a container whose first process reaps no orphans, stays one for good, and its lock must
    // not stop every night after it.
    const stat = statFields(lock.pid);
    if (stat?.[STATE] === 'Z') return `process ${lock.pid} has ended (not yet reaped)`;
    if (lock.start !== undefined) {
      const now = stat?.[START];
      if (now !== undefined && now !== lock.start) return `process ${lock.pid} is another program now`;
    }
    return undefined;
  }

  private heldError(lock: LockInfo | undefined): ChurnwatchError {
    const who = lock
      ? `pid ${lock.pid}${lock.host && lock.host !== hostname() ? ` on ${lock.host}` : ''}${lock.since ? `, running since ${lock.since}` : ''}`
      : 'unknown';
    return new ChurnwatchError(
      'CW_LOCK_HELD',
      `another churnwatch run (${who}) is using the output folder ${this.outRoot}; this run stopped without reading or writing anything. ` +
        `Retry when that run has finished; if no run is active, remove ${this.path}`,
      { file: this.path, pid: lock?.pid },
    );
  }

  acquire(): void {
    for (let attempt = 0; attempt < 5; attempt++) {
      if (this.tryCreate()) {
        this.held = true;
        return;
      }
      const text = readOr(this.path);
      if (text === undefined) continue; // released meanwhile: try again
      const lock = parseLock(text);
      if (this.staleReason(lock) === undefined) throw this.heldError(lock);
      // Take the stale lock over: move it aside, and make sure it is the one judged stale.
      const grave = `${this.path}.${process.pid}.stale-${this.token}`;
      try {
        renameSync(this.path, grave);
      } catch (e) {
        if (errnoOf(e) === 'ENOENT') continue;
        fail(e, 'take over the stale lock', this.path);
      }
      const moved = readOr(grave);
      if (moved !== text) {
        // Another run replaced the stale lock between our read and rename: give its lock back.
        try {
          linkSync(grave, this.path);
        } catch {
          /* a third run holds it now */
        }
        rmSync(grave, { force: true });
        throw this.heldError(moved === undefined ? undefined : parseLock(moved));
      }
      rmSync(grave, { force: true });
      this.tookOverFrom = lock?.pid;
    }
    throw new ChurnwatchError('CW_LOCK_HELD', `could not take the lock ${this.path}; another run may be starting; retry later`, {
      file: this.path,
    });
  }

  release(): void {
    if (!this.held) return;
    this.held = false;
    const text = readOr(this.path);
    if (text !== undefined && parseLock(text)?.token === this.token) {
      try {
        unlinkSync(this.path);
      } catch {
        /* already gone */
      }
    }
  }
}
