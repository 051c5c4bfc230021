/**
 * A publication's files are fsynced on the thread pool after they are closed, while
 * the writer goes on with its next file; the publication is committed only once
 * every one of them is synced.
 */
import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, readdirSync, rmSync, statSync, fstatSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { Publication } from '../../src/output/publish.js';

const root = mkdtempSync(join(tmpdir(), 'cw-publication-sync-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));

describe('publication of files synced on the thread pool', () => {
  it('refuses to commit while a closed file is still being synced, and commits once synced() has waited for all', async () => {
    const p = new Publication(root, '2026-11-23', { force: false, fileMode: 0o600, dirMode: 0o700 });
    for (const name of ['a.csv', 'b.csv']) {
      const f = p.open(name);
      f.writeBytes(Buffer.from(`${name}\n`));
      p.add(f.close());
    }
    expect(() => p.commit()).toThrow(expect.objectContaining({ code: 'CW_INTERNAL' }));
    await p.synced();
    const target = p.commit((outputs) => `${JSON.stringify(outputs.map((o) => o.file))}\n`);
    expect(readdirSync(target).sort()).toEqual(['a.csv', 'b.csv', 'manifest.json']);
    expect(readFileSync(join(target, 'b.csv'), 'utf8')).toBe('b.csv\n');
    expect(readFileSync(join(target, 'manifest.json'), 'utf8')).toBe('["a.csv","b.csv"]\n');
  });

  it('writes a file and its copy as it goes (synced ahead past 16 MB), the copy with the same bytes and hash under its own name', async () => {
    const p = new Publication(root, '2026-11-24', { force: false, fileMode: 0o640, dirMode: 0o700 });
    const f = p.open('big.csv', 'big-delta.csv');
    const hash = createHash('sha256');
    // 40 pieces of 1 MB and a bit: the early syncs come at 16 and 32 MB, the last sync after them.
    for (let k = 0; k < 40; k++) {
      const piece = Buffer.alloc((1 << 20) + k, 0x30 + (k % 10));
      hash.update(piece);
      f.writeBytes(piece);
    }
    f.write('the end\n');
    hash.update('the end\n');
    const record = f.close();
    p.add(record);
    p.add(f.copyRecord(record));
    await p.synced();
    const target = p.commit();
    expect(record.sha256).toBe(hash.digest('hex'));
    expect(p.outputs.map((o) => o.file)).toEqual(['big.csv', 'big-delta.csv']);
    expect(p.outputs[1]).toEqual({ ...record, file: 'big-delta.csv' });
    expect(readFileSync(join(target, 'big-delta.csv')).equals(readFileSync(join(target, 'big.csv')))).toBe(true);
    expect(statSync(join(target, 'big-delta.csv')).size).toBe(record.bytes);
    expect(statSync(join(target, 'big-delta.csv')).mode & 0o777).toBe(0o640);
  });

  it('closes an abandoned file (and its copy) only once its early syncs are done', async () => {
    const p = new Publication(root, '2026-11-26', { force: false, fileMode: 0o600, dirMode: 0o700 });
    const f = p.open('dropped.csv', 'dropped-delta.csv');
    const piece = Buffer.alloc(1 << 20, 0x61);
    for (let k = 0; k < 17; k++) f.writeBytes(piece); // one early sync each, at 16 MB
    const fds = f as unknown as { fd: number; copyFd: number; ahead: Promise<unknown>[]; copyAhead: Promise<unknown>[] };
    expect([fds.ahead.length, fds.copyAhead.length]).toEqual([1, 1]);
    const inodes = [fds.fd, fds.copyFd].map((fd) => fstatSync(fd).ino);
    f.abandon();
    f.abandon(); // a second call does nothing
    // Still open: closed after the early syncs, which the thread pool may not have run yet.
    expect([fds.fd, fds.copyFd].map((fd) => fstatSync(fd).ino)).toEqual(inodes);
    await Promise.all([...fds.ahead, ...fds.copyAhead]);
    await new Promise((r) => setTimeout(r, 50)); // the closes queued after them
    // Closed by now (the number may already be another file's, never these files').
    const still = (fd: number, ino: number) => {
      try {
        return fstatSync(fd).ino === ino;
      } catch {
        return false;
      }
    };
    expect([still(fds.fd, inodes[0]!), still(fds.copyFd, inodes[1]!)]).toEqual([false, false]);
  });

  it('has no copy record for a file written without a copy', () => {
    const p = new Publication(root, '2026-11-25', { force: false, fileMode: 0o600, dirMode: 0o700 });
    const f = p.open('a.csv');
    f.write('a\n');
    const record = f.close();
    expect(() => f.copyRecord(record)).toThrow(/without a copy/);
    return p.synced().then(() => p.abandon());
  });
});
