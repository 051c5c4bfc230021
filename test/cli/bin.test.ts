/**
 * bin/churnwatch.js, the entry a cron line runs: what main() cannot catch still
 * comes as one line `churnwatch: ... [CW_INTERNAL]` with exit 70, never as Node's
 * stack trace with exit 1.
 */
import { spawnSync } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BIN, ROOT, ensureBuilt } from '../hardening/helpers.js';
import { cleanup } from '../helpers/world.js';

const work = mkdtempSync(join(tmpdir(), 'cw-bin-'));
afterAll(() => cleanup(work));
beforeAll(ensureBuilt);

function node(args: string[]) {
  const r = spawnSync(process.execPath, args, { cwd: ROOT, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  return { code: r.status, stderr: r.stderr };
}

describe('bin/churnwatch.js', () => {
  it('when the compiled CLI cannot be loaded then it says so in one line and exits 70', () => {
    mkdirSync(join(work, 'bin'));
    copyFileSync(BIN, join(work, 'bin', 'churnwatch.js')); // no dist/ beside it
    const r = node([join(work, 'bin', 'churnwatch.js'), '--version']);
    expect(r.code).toBe(70);
    expect(r.stderr).toBe(
      'churnwatch: internal error: the compiled CLI cannot be loaded (ERR_MODULE_NOT_FOUND); run npm run build [CW_INTERNAL]\n',
    );
  });

  it('when an error is thrown outside any command then it is one line, masked, with exit 70', () => {
    // The first write to stdout schedules an error that no command can catch.
    const late =
      'const w = process.stdout.write.bind(process.stdout); process.stdout.write = (s, ...a) => { setImmediate(() => { throw new TypeError("late 13812345678"); }); return w(s, ...a); };';
    const r = node(['--import', `data:text/javascript,${encodeURIComponent(late)}`, BIN, 'rules', 'check']);
    expect(r.code).toBe(70);
    expect(r.stderr).toBe('churnwatch: internal error, a bug: please report it with the log: TypeError: late 138****5678 [CW_INTERNAL]\n');
  });

  it('when the reader of stdout stops early then that is no error: exit 0, nothing on stderr', () => {
    const status = join(work, 'status');
    const r = spawnSync(
      '/bin/sh',
      ['-c', `{ '${process.execPath}' '${BIN}' rules check 2>'${join(work, 'err')}'; echo $? >'${status}'; } | true`],
      { cwd: ROOT },
    );
    expect(r.status).toBe(0);
    expect(readFileSync(status, 'utf8')).toBe('0\n');
    expect(readFileSync(join(work, 'err'), 'utf8')).toBe('');
  });
});
