/**
 * Promise 4, the exit-code matrix: missing input 66, unwritable output 73, gate failed
 * or too many rejects 65, bad rule pack or configuration 78, bad arguments 64, lock
 * held 75. Every failure publishes nothing and names its error code.
 */
import { chmodSync, existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { main } from '../../src/cli/main.js';
import { RunLock } from '../../src/output/publish.js';
import { World, cleanup, runCli } from '../helpers/world.js';
import { AS_OF, tempDir } from './helpers.js';

let base: string;
beforeAll(() => {
  const w = new World(AS_OF);
  for (let s = 0; s < 5; s++) w.sub(`U${s}`, { status: 'suspended_arrears' }).bills(`U${s}`, ['80.00', '80.00', '80.00', '80.00']);
  base = w.write();
});
afterAll(() => cleanup(base));

async function cli(argv: string[]): Promise<{ code: number; stderr: string }> {
  let stderr = '';
  const code = await main(argv, {
    out: () => {},
    err: (s) => {
      stderr += s;
    },
    log: () => {},
  });
  return { code, stderr };
}

/** A copy of the base extracts, changed by `mutate`. */
function variant(mutate: (dir: string) => void): string {
  const dir = tempDir('exit');
  for (const f of ['subscribers', 'billing_monthly', 'usage_daily', 'tickets', 'contracts']) {
    writeFileSync(join(dir, `${f}.csv`), readFileSync(join(base, `${f}.csv`)));
  }
  mutate(dir);
  return dir;
}

async function runVariant(mutate: (dir: string) => void, args: string[] = []) {
  const dir = variant(mutate);
  try {
    const r = await runCli(dir, AS_OF, args);
    return { ...r, publishedExists: existsSync(r.published) };
  } finally {
    cleanup(dir);
  }
}

describe('exit codes', () => {
  it('when the extracts are fine then the run exits 0', async () => {
    const r = await runVariant(() => {});
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
  });

  describe('66: missing input', () => {
    it('when the input folder does not exist', async () => {
      const r = await cli(['run', '--input', join(base, 'nope'), '--out', join(base, 'out-66'), '--as-of', AS_OF]);
      expect(r.code).toBe(66);
      expect(r.stderr).toContain('[CW_INPUT_MISSING]');
      expect(existsSync(join(base, 'out-66'))).toBe(false);
    });
    it('when a needed extract is missing', async () => {
      const r = await runVariant((d) => rmSync(join(d, 'billing_monthly.csv')));
      expect([r.code, r.publishedExists]).toEqual([66, false]);
      expect(r.stderr).toContain('[CW_EXTRACT_MISSING_FILE]');
    });
  });

  describe('73: output cannot be written', () => {
    it('when --out lies under a regular file', async () => {
      const file = join(base, 'a-file');
      writeFileSync(file, 'x');
      const r = await cli(['run', '--input', base, '--out', join(file, 'out'), '--as-of', AS_OF]);
      expect(r.code).toBe(73);
      expect(r.stderr).toContain('[CW_OUTPUT_UNWRITABLE]');
    });
    it('when --out is a regular file', async () => {
      const file = join(base, 'b-file');
      writeFileSync(file, 'x');
      const r = await cli(['run', '--input', base, '--out', file, '--as-of', AS_OF]);
      expect(r.code).toBe(73);
      expect(r.stderr).toContain('is not a folder');
    });
    it.skipIf(process.getuid?.() === 0)('when --out is a read-only folder (not testable as root, who may write anywhere)', async () => {
      const out = tempDir('ro');
      chmodSync(out, 0o500);
      try {
        const r = await cli(['run', '--input', base, '--out', out, '--as-of', AS_OF]);
        expect(r.code).toBe(73);
      } finally {
        chmodSync(out, 0o700);
        cleanup(out);
      }
    });
  });

  describe('65: data not fit to publish', () => {
    it('when a gate fails (a usage day is missing)', async () => {
      const r = await runVariant((d) => {
        const p = join(d, 'usage_daily.csv');
        writeFileSync(
          p,
          readFileSync(p, 'utf8')
            .split('\n')
            .filter((l) => !l.includes('2026-11-22'))
            .join('\n'),
        );
      });
      expect([r.code, r.publishedExists]).toEqual([65, false]);
      expect(r.stderr).toContain('gate usage-days failed');
    });
    it('when too many rows are rejected', async () => {
      const r = await runVariant((d) =>
        writeFileSync(
          join(d, 'billing_monthly.csv'),
          readFileSync(join(d, 'billing_monthly.csv'), 'utf8') + 'NOBODY,2026-10,1.00,,\n'.repeat(3),
        ),
      );
      expect([r.code, r.publishedExists]).toEqual([65, false]);
      expect(r.stderr).toContain('[CW_GATE_REJECT_SHARE]');
    });
    it('when a file is not well-formed CSV', async () => {
      const r = await runVariant((d) =>
        writeFileSync(join(d, 'tickets.csv'), 'ticket_id,subscriber_id,created_at,kind,category\nT1,U1,"2026-11-01"x,complaint,a\n'),
      );
      expect([r.code, r.publishedExists]).toEqual([65, false]);
      expect(r.stderr).toContain('tickets.csv:2');
    });
  });

  describe('78: bad rule pack or configuration', () => {
    it.each([
      ['a rule pack that is not YAML', 'rules', 'pack: [unclosed\n'],
      [
        'a rule pack with an unknown key',
        'rules',
        readFileSync('rules/default.yaml', 'utf8').replace('pack: default', 'pack: default\ncolour: blue'),
      ],
      [
        'a rule with a bad expression',
        'rules',
        readFileSync('rules/default.yaml', 'utf8').replace("when: status == 'suspended_arrears'", 'when: status === '),
      ],
      ['a configuration with an unknown key', 'config', 'input:\n  delimeter: "|"\n'],
      ['a configuration with a bad encoding', 'config', 'input:\n  encoding: latin1\n'],
      ['a configuration with a bad output mode', 'config', 'output:\n  file_mode: "0999"\n'],
      ['a configuration with a mode that shuts the owner out', 'config', 'output:\n  dir_mode: "0500"\n'],
      ['a configuration with a mode in a YAML octal the mode cannot mean', 'config', 'output:\n  file_mode: 0o600\n'],
      ['a configuration with a non-boolean mask', 'config', 'output:\n  mask: "yes"\n'],
    ])('when given %s', async (_what, kind, text) => {
      const f = join(base, `${kind}-${Math.random().toString(36).slice(2)}.yaml`);
      writeFileSync(f, text);
      const out = tempDir('out-78');
      try {
        const r = await cli(['run', '--input', base, '--out', out, '--as-of', AS_OF, `--${kind}`, f]);
        expect(r.code).toBe(78);
        expect(r.stderr).toMatch(/\[CW_(RULEPACK_INVALID|RULE_EXPRESSION|CONFIG_INVALID)\]/);
        expect(existsSync(join(out, AS_OF))).toBe(false);
      } finally {
        cleanup(out);
      }
    });
  });

  describe('64: bad arguments', () => {
    it.each([
      ['an unknown option', ['run', '--input', '.', '--out', 'x', '--frobnicate']],
      ['a date that does not exist', ['run', '--input', '.', '--out', 'x', '--as-of', '2026-02-30']],
      ['a missing --input', ['run', '--out', 'x']],
      ['an unknown log level', ['run', '--input', '.', '--out', 'x', '--log-level', 'loud']],
      ['an unknown command', ['publish']],
    ])('when given %s', async (_what, argv) => {
      const r = await cli(argv);
      expect(r.code).toBe(64);
      expect(r.stderr).toMatch(/^churnwatch: [^\n]+ \[CW_USAGE\]\n$/);
    });
  });

  describe('75: lock held', () => {
    it('when another run holds the output folder', async () => {
      const out = tempDir('held');
      mkdirSync(out, { recursive: true });
      const lock = new RunLock(out);
      lock.acquire();
      try {
        const r = await runCli(base, AS_OF, [], out);
        expect([r.code, existsSync(r.published)]).toEqual([75, false]);
        expect(r.stderr).toContain('[CW_LOCK_HELD]');
      } finally {
        lock.release();
        cleanup(out);
      }
    });
  });
});
