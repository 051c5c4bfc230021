/**
 * Promise 3, no overlapping runs: a second run on the same output folder exits 75 at
 * once with a clear message and changes nothing; a lock left by a killed run (or one
 * whose pid now belongs to another program, or from before a reboot) is stale and is
 * taken over.
 */
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RunLock, processStart } from '../../src/output/publish.js';
import { World, cleanup, runCli } from '../helpers/world.js';
import { AS_OF, collect, ensureBuilt, generate, spawnCli, tempDir, verifyPublished } from './helpers.js';

let work: string;
let bigInput: string;
let smallInput: string;
beforeAll(async () => {
  await ensureBuilt();
  work = tempDir('lock');
  bigInput = join(work, 'big');
  await generate(bigInput, ['--subscribers', '8000']);
  const w = new World(AS_OF);
  w.sub('U1', { status: 'suspended_arrears' }).bills('U1', ['80.00', '80.00', '80.00', '80.00']);
  smallInput = w.write();
  // The in-process runs load their modules now: a second run must reach the lock while the first still holds it.
  expect((await runCli(smallInput, AS_OF, [], join(work, 'warm'))).code).toBe(0);
}, 120_000);
afterAll(() => {
  if (work) cleanup(work);
  if (smallInput) cleanup(smallInput);
});

/** The pid of a process that has exited. */
function deadPid(): number {
  const r = spawnSync(process.execPath, ['-e', '']);
  return r.pid!;
}

function lockPath(out: string): string {
  return join(out, '.churnwatch.lock');
}

describe('one run per output folder', () => {
  it('when a run is working then a second run on the same folder exits 75 at once, says who holds it, and the first run publishes', async () => {
    const out = join(work, 'busy');
    const first = spawnCli(['run', '--input', bigInput, '--out', out, '--as-of', AS_OF, '--log-level', 'debug']);
    let second: Awaited<ReturnType<typeof runCli>> | undefined;
    let secondDone = Infinity;
    let firstDone = Infinity;
    let started: Promise<void> | undefined;
    first.on('exit', () => {
      firstDone = performance.now();
    });
    const done = collect(first, (line) => {
      if (started === undefined && line.includes('"msg":"lock taken"')) {
        started = (async () => {
          second = await runCli(smallInput, AS_OF, ['--force'], out);
          secondDone = performance.now();
        })();
      }
    });
    const r = await done;
    await started;
    expect(r.code).toBe(0);
    expect(second!.code).toBe(75);
    // At once: the second run was over while the first was still working, not after waiting for it.
    expect(secondDone).toBeLessThan(firstDone);
    expect(second!.stderr).toContain(`another churnwatch run (pid ${first.pid}`);
    expect(second!.stderr).toContain('is using the output folder');
    expect(second!.stderr).toContain('[CW_LOCK_HELD]');
    // The first run's publication is whole, and the second run left nothing (no failed-run report either).
    verifyPublished(join(out, AS_OF));
    expect(readdirSync(out).sort()).toEqual([AS_OF]);
  }, 60_000);

  it('when a run of this same process holds the lock then a second one exits 75 too', async () => {
    const out = join(work, 'same-process');
    mkdirSync(out, { recursive: true });
    const held = new RunLock(out);
    held.acquire();
    try {
      const r = await runCli(smallInput, AS_OF, [], out);
      expect(r.code).toBe(75);
      expect(r.stderr).toContain(`pid ${process.pid}`);
    } finally {
      held.release();
    }
    expect(existsSync(lockPath(out))).toBe(false);
    expect((await runCli(smallInput, AS_OF, [], out)).code).toBe(0);
  });

  it('when the lock names a run on another host then the run exits 75 and names the host', async () => {
    const out = join(work, 'other-host');
    mkdirSync(out, { recursive: true });
    writeFileSync(lockPath(out), JSON.stringify({ pid: deadPid(), host: `not-${hostname()}`, since: '2026-11-23T05:00:00.000Z' }));
    const r = await runCli(smallInput, AS_OF, [], out);
    expect(r.code).toBe(75);
    expect(r.stderr).toContain(`on not-${hostname()}`);
    expect(r.stderr).toContain('if no run is active, remove');
  });
});

describe('stale locks', () => {
  it('when a run was killed holding the lock then the next run takes the lock over and publishes', async () => {
    const out = join(work, 'killed');
    const child = spawnCli(['run', '--input', bigInput, '--out', out, '--as-of', AS_OF, '--log-level', 'debug']);
    const r = await collect(child, (line) => {
      if (line.includes('"msg":"lock taken"')) child.kill('SIGKILL');
    });
    expect(r.signal).toBe('SIGKILL');
    const left = JSON.parse(readFileSync(lockPath(out), 'utf8')) as { pid: number };
    expect(left.pid).toBe(child.pid);
    const logs: string[] = [];
    const { main } = await import('../../src/cli/main.js');
    const code = await main(['run', '--input', smallInput, '--out', out, '--as-of', AS_OF, '--log-level', 'warn'], {
      out: () => {},
      err: (s) => logs.push(s),
      log: (s) => logs.push(s),
    });
    expect(code).toBe(0);
    expect(logs.join('')).toContain('took over the stale lock');
    expect(logs.join('')).toContain(`"stale_pid":${child.pid}`);
    expect(existsSync(lockPath(out))).toBe(false);
    expect(readdirSync(out).sort()).toEqual([AS_OF]);
  }, 60_000);

  it.each([
    ['a plain pid of a process that is gone', () => `${deadPid()}\n`],
    ['a pid of a process that is gone', () => JSON.stringify({ pid: deadPid(), start: '1', host: hostname() })],
    ['a pid that now belongs to another program', () => JSON.stringify({ pid: process.pid, start: 'not-its-start', host: hostname() })],
    [
      'a lock from before the last boot',
      () => JSON.stringify({ pid: process.pid, start: processStart(process.pid), boot: 'an-earlier-boot', host: hostname() }),
    ],
    ['an unreadable lock', () => 'garbage'],
  ])('when the lock holds %s then it is stale and taken over', async (_what, content) => {
    const out = tempDir('stale');
    try {
      writeFileSync(lockPath(out), content());
      const r = await runCli(smallInput, AS_OF, [], out);
      expect(r.stderr).toBe('');
      expect(r.code).toBe(0);
      expect(readdirSync(out).sort()).toEqual([AS_OF]);
    } finally {
      cleanup(out);
    }
  });

  it('when the lock names a process that has ended but was never reaped then it is stale and taken over', async () => {
    // sh starts a short sleep and becomes a long one, which never reaps it: a zombie, as an orphan is under a first process that reaps none.
    const parent = spawn('/bin/sh', ['-c', 'sleep 0.05 & exec sleep 20'], { stdio: 'ignore' });
    const out = tempDir('zombie');
    try {
      let zombie: number | undefined;
      for (let tries = 0; tries < 100 && zombie === undefined; tries++) {
        await new Promise((r) => setTimeout(r, 50));
        const kids = readFileSync(`/proc/${parent.pid}/task/${parent.pid}/children`, 'utf8').trim().split(' ').filter(Boolean).map(Number);
        zombie = kids.find((k) => /^\d+ \(.*\) Z /.test(readFileSync(`/proc/${k}/stat`, 'utf8')));
      }
      expect(zombie).toBeDefined();
      writeFileSync(lockPath(out), JSON.stringify({ pid: zombie, start: processStart(zombie!), host: hostname() }));
      const r = await runCli(smallInput, AS_OF, [], out);
      expect(r.stderr).toBe('');
      expect(r.code).toBe(0);
      expect(readdirSync(out).sort()).toEqual([AS_OF]);
    } finally {
      parent.kill('SIGKILL');
      cleanup(out);
    }
  });

  it('when the lock names a live process with its own start time then it is not stale', async () => {
    const sleeper = spawn(process.execPath, ['-e', 'setTimeout(() => {}, 20000)'], { stdio: 'ignore' });
    const out = tempDir('live');
    try {
      await new Promise((r) => setTimeout(r, 100));
      writeFileSync(lockPath(out), JSON.stringify({ pid: sleeper.pid, start: processStart(sleeper.pid!), host: hostname() }));
      const r = await runCli(smallInput, AS_OF, [], out);
      expect(r.code).toBe(75);
      expect(r.stderr).toContain(`pid ${sleeper.pid}`);
      expect(existsSync(lockPath(out))).toBe(true);
    } finally {
      sleeper.kill('SIGKILL');
      cleanup(out);
    }
  });

  it('when two runs find the same stale lock then only one of them gets it', () => {
    const out = tempDir('race');
    try {
      writeFileSync(lockPath(out), JSON.stringify({ pid: deadPid(), host: hostname() }));
      const a = new RunLock(out);
      const b = new RunLock(out);
      a.acquire();
      expect(() => b.acquire()).toThrow(/another churnwatch run/);
      b.release(); // not its lock: must not remove it
      expect(existsSync(lockPath(out))).toBe(true);
      a.release();
      expect(existsSync(lockPath(out))).toBe(false);
    } finally {
      cleanup(out);
    }
  });
});
