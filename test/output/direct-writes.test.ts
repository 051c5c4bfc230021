/**
 * A publication's large files written past the page cache (O_DIRECT): staged in an
 * aligned buffer, the last block padded and the file cut back. Whatever the sizes of
 * the pieces, and whether the file system takes direct writes or not, each file (and
 * its copy) holds exactly the bytes written, under the hash its record gives.
 */
import { createHash } from 'node:crypto';
import { closeSync, constants, mkdtempSync, openSync, readFileSync, readdirSync, rmSync, statSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { afterAll, afterEach, describe, expect, it, vi } from 'vitest';
import {
  DIRECT_BLOCK,
  DIRECT_WHEN_FRESH_PAGE_MS,
  directIo,
  directWritesPay,
  O_DIRECT,
  STAGE_BYTES,
} from '../../src/output/direct-writes.js';
import { type ChunkedFile, Publication } from '../../src/output/publish.js';

const root = mkdtempSync(join(tmpdir(), 'cw-direct-writes-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));
afterEach(() => vi.restoreAllMocks());

let day = 0;
function publication(directWrites?: boolean): Publication {
  day += 1;
  return new Publication(root, `night-${day}`, { force: false, fileMode: 0o600, dirMode: 0o700, directWrites });
}

/** Whether this folder's file system takes a direct write at all: O_DIRECT at open (tmpfs before Linux 6.6 refuses it), and one block from some 16-byte offset of a buffer. */
function folderTakesDirect(dir: string): boolean {
  if (O_DIRECT === 0) return false;
  const probe = join(dir, '.probe');
  let fd: number | undefined;
  try {
    fd = openSync(probe, constants.O_WRONLY | constants.O_CREAT | O_DIRECT, 0o600);
    const raw = new Uint8Array(2 * DIRECT_BLOCK);
    for (let k = 0; k < DIRECT_BLOCK; k += 16) {
      try {
        if (writeSync(fd, raw, k, DIRECT_BLOCK, 0) === DIRECT_BLOCK) return true;
      } catch {
        /* not aligned there */
      }
    }
    return false;
  } catch {
    return false;
  } finally {
    if (fd !== undefined) closeSync(fd);
    rmSync(probe, { force: true });
  }
}

/** The O_DIRECT flag of the file's open descriptor, as the kernel reports it (Linux). */
function openedDirect(f: ChunkedFile): boolean {
  const fd = (f as unknown as { fd: number }).fd;
  const flags = /^flags:\s+([0-7]+)$/m.exec(readFileSync(`/proc/self/fdinfo/${fd}`, 'utf8'))![1]!;
  return (Number.parseInt(flags, 8) & O_DIRECT) !== 0;
}

type Piece = { text: string } | { bytes: Uint8Array };

/** Writes the pieces into `name` (and its copy), commits, and returns the committed folder and the file's record. */
async function writePieces(p: Publication, pieces: readonly Piece[], check?: (f: ChunkedFile) => void) {
  const f = p.open('tasks.csv', 'tasks-delta.csv');
  check?.(f);
  const hash = createHash('sha256');
  const expected: Buffer[] = [];
  for (const piece of pieces) {
    const buf = 'text' in piece ? Buffer.from(piece.text, 'utf8') : Buffer.from(piece.bytes);
    expected.push(buf);
    hash.update(buf);
    if ('text' in piece) f.write(piece.text);
    else f.writeBytes(piece.bytes);
  }
  const record = f.close();
  p.add(record);
  p.add(f.copyRecord(record));
  await p.synced();
  const target = p.commit();
  return { target, record, expected: Buffer.concat(expected), sha256: hash.digest('hex') };
}

function expectFiles(target: string, expected: Buffer, record: { bytes: number; sha256: string }, sha256: string): void {
  expect(record).toMatchObject({ bytes: expected.length, sha256 });
  for (const name of ['tasks.csv', 'tasks-delta.csv']) {
    const got = readFileSync(join(target, name));
    expect(got.length).toBe(expected.length);
    expect(got.equals(expected)).toBe(true);
    expect(statSync(join(target, name)).mode & 0o777).toBe(0o600);
  }
}

const bytes = (length: number, seed: number) => Uint8Array.from({ length }, (_, k) => (k * 31 + seed) & 0xff);

// The descriptor check reads /proc: Linux's, as O_DIRECT is.
describe.skipIf(process.platform !== 'linux')('direct writes', () => {
  it.each([0, 1, DIRECT_BLOCK - 1, DIRECT_BLOCK, DIRECT_BLOCK + 1, STAGE_BYTES - 1, STAGE_BYTES, STAGE_BYTES + 1, 3 * STAGE_BYTES + 4099])(
    'writes %i bytes exactly, into the file and its copy',
    async (length) => {
      const p = publication(true);
      const { target, record, expected, sha256 } = await writePieces(p, [{ bytes: bytes(length, length) }]);
      expectFiles(target, expected, record, sha256);
    },
  );

  it('opens the files with O_DIRECT where the folder takes it, and plainly when turned off', async () => {
    const direct = O_DIRECT !== 0 && folderTakesDirect(root);
    let seen: boolean[] = [];
    await writePieces(publication(true), [{ text: 'a,b\n' }], (f) => {
      seen = [f.direct, openedDirect(f)];
    });
    expect(seen).toEqual([direct, direct]);
    await writePieces(publication(false), [{ text: 'a,b\n' }], (f) => {
      seen = [f.direct, openedDirect(f)];
    });
    expect(seen).toEqual([false, false]);
  });

  it.runIf(O_DIRECT !== 0 && folderTakesDirect(root))(
    'stages a direct file in a memory of its own that starts on a page, not at an allocator offset',
    async () => {
      let stage: Uint8Array | undefined;
      const { target, record, expected, sha256 } = await writePieces(publication(true), [{ bytes: bytes(STAGE_BYTES + 4097, 9) }], (f) => {
        stage = (f as unknown as { stage: Uint8Array }).stage;
      });
      // The fallback's stage is a view at some offset into STAGE_BYTES + DIRECT_BLOCK bytes of an ordinary buffer.
      expect(stage).toBeDefined();
      expect([stage!.byteOffset, stage!.buffer.byteLength, stage!.byteLength]).toEqual([0, STAGE_BYTES, STAGE_BYTES]);
      expect(stage!.buffer).not.toBeInstanceOf(SharedArrayBuffer);
      expectFiles(target, expected, record, sha256);
    },
  );

  it('writes past the page cache by default only where a fresh page of memory is dear', () => {
    const cost = vi.spyOn(directIo, 'freshPageCost');
    /** Whether a new publication writes direct, by itself and in the place its workers get; it is then abandoned. */
    const decided = (directWrites?: boolean) => {
      const p = publication(directWrites);
      const seen = [p.writesDirect, p.place().directWrites];
      p.abandon();
      return seen;
    };
    cost.mockReturnValue(DIRECT_WHEN_FRESH_PAGE_MS * 2);
    expect(decided()).toEqual([O_DIRECT !== 0, O_DIRECT !== 0]);
    cost.mockReturnValue(DIRECT_WHEN_FRESH_PAGE_MS / 2);
    expect(decided()).toEqual([false, false]);
    // Asked for, either way, the probe is not run.
    cost.mockClear();
    expect([decided(true), decided(false)]).toEqual([
      [true, true],
      [false, false],
    ]);
    expect(cost).not.toHaveBeenCalled();
    expect([directWritesPay(DIRECT_WHEN_FRESH_PAGE_MS), directWritesPay(DIRECT_WHEN_FRESH_PAGE_MS + 0.01)]).toEqual([
      false,
      O_DIRECT !== 0,
    ]);
  });

  it("measures a fresh page's cost as a positive number of ms a MiB", () => {
    const ms = directIo.freshPageCost();
    expect(Number.isFinite(ms) && ms > 0).toBe(true);
  });

  it('writes plainly, with the same bytes, when the file system takes no direct write at any alignment', async () => {
    const probe = vi.spyOn(directIo, 'probe').mockReturnValue(false);
    let seen: boolean[] = [];
    const pieces = [{ text: 'ü,€\n'.repeat(1000) }, { bytes: bytes(STAGE_BYTES + 7, 3) }];
    const { target, record, expected, sha256 } = await writePieces(publication(true), pieces, (f) => {
      seen = [f.direct, openedDirect(f)];
    });
    expect(seen).toEqual([false, false]);
    if (O_DIRECT !== 0 && folderTakesDirect(root)) expect(probe).toHaveBeenCalled();
    expectFiles(target, expected, record, sha256);
  });

  it('writes plainly, with the same bytes, when the file system refuses O_DIRECT at open', async () => {
    vi.spyOn(directIo, 'reopen').mockReturnValue(undefined);
    let seen: boolean[] = [];
    const { target, record, expected, sha256 } = await writePieces(publication(true), [{ bytes: bytes(STAGE_BYTES + 4097, 5) }], (f) => {
      seen = [f.direct, openedDirect(f)];
    });
    expect(seen).toEqual([false, false]);
    expectFiles(target, expected, record, sha256);
  });

  it('writes the file and its copy plainly when only the copy refuses O_DIRECT at open', async () => {
    const reopen = directIo.reopen;
    vi.spyOn(directIo, 'reopen').mockImplementation((path) => (path.endsWith('-delta.csv') ? undefined : reopen(path)));
    let seen: boolean[] = [];
    const { target, record, expected, sha256 } = await writePieces(publication(true), [{ bytes: bytes(3 * DIRECT_BLOCK + 1, 6) }], (f) => {
      seen = [f.direct, openedDirect(f)];
    });
    expect(seen).toEqual([false, false]);
    expectFiles(target, expected, record, sha256);
  });

  it('writes the file and its copy plainly when only the copy refuses direct writes', async () => {
    let calls = 0;
    // The first file takes its probe, the copy refuses it.
    vi.spyOn(directIo, 'probe').mockImplementation(() => ++calls === 1);
    let seen = true;
    const { target, record, expected, sha256 } = await writePieces(publication(true), [{ bytes: bytes(10_000, 9) }], (f) => {
      seen = f.direct;
    });
    expect(seen).toBe(false);
    expectFiles(target, expected, record, sha256);
  });

  it('holds exactly the bytes written, whatever the pieces, texts and byte runs mixed (property)', async () => {
    const piece = fc.oneof(
      fc.string({ unit: 'grapheme', maxLength: 3000 }).map((text) => ({ text })),
      fc
        .integer({ min: 0, max: 2 * STAGE_BYTES + 5000 })
        .chain((length) => fc.integer({ min: 0, max: 255 }).map((seed) => ({ bytes: bytes(length, seed) }))),
    );
    await fc.assert(
      fc.asyncProperty(fc.array(piece, { maxLength: 6 }), fc.boolean(), async (pieces, directWrites) => {
        const { target, record, expected, sha256 } = await writePieces(publication(directWrites), pieces);
        expectFiles(target, expected, record, sha256);
        rmSync(target, { recursive: true, force: true });
      }),
      { numRuns: 25 },
    );
    expect(readdirSync(root).filter((n) => n.startsWith('.tmp-'))).toEqual([]);
  });
});
