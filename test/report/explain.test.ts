/**
 * explain: for any subscriber, the verdicts it prints are the flags the run
 * publishes, with the values each rule read; no phone number or name.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parse } from 'csv-parse/sync';
import { afterAll, describe, expect, it } from 'vitest';
import { cli } from '../helpers/cli.js';

const scores = parse(readFileSync('fixtures/golden/expected/scores.csv'), { columns: true }) as Record<string, string>[];
const subscribers = parse(readFileSync('fixtures/golden/input/subscribers.csv'), { columns: true }) as Record<string, string>[];

/** explain of one subscriber on the golden extracts of 2026-11-23, with more options. */
const explainCli = (id: string, ...more: string[]) =>
  cli(['explain', '--input', 'fixtures/golden/input', '--as-of', '2026-11-23', '--subscriber', id, ...more]);

describe('churnwatch explain', () => {
  it('when subscribers are explained then every verdict equals the published flag', async () => {
    const sample = scores.filter((_, k) => k % 25 === 0).concat(scores.filter((s) => s.risk_score !== '0.0000').slice(0, 5));
    for (const row of sample) {
      const r = await explainCli(row.subscriber_id!, '--json');
      expect(r.err).toBe('');
      expect(r.code).toBe(0);
      const e = JSON.parse(r.out);
      expect(e.value).toBe(Number(row.value));
      expect(e.tier).toBe(row.tier);
      expect(e.risk_score).toBe(Number(row.risk_score));
      for (const rule of e.rules) expect(`${rule.id}=${rule.flagged ? 1 : 0}`).toBe(`${rule.id}=${row[rule.id]}`);
    }
  });

  it('when a flagged subscriber is explained as text then it shows the values read and the reason, but no phone or name', async () => {
    const r = await cli(['explain', '--input', 'fixtures/golden/input', '--as-of', '2026-11-23', '--subscriber', '0001000917']);
    expect(r.code).toBe(0);
    expect(r.out).toContain('[x] arrears_suspended');
    expect(r.out).toContain('      mou(M1) = 243\n      mou(M0) = 0\n      reason: minutes of use 0 after 243 (−100%)');
    expect(r.out).toContain('[ ] arpu_drop_mom');
    const s = subscribers.find((x) => x.subscriber_id === '0001000917')!;
    expect(r.out).not.toContain(s.msisdn);
    expect(r.out).not.toContain(s.name);
  });

  it('when a scorecard pack is explained as text then the steps hit are listed, and the steps not hit only counted', async () => {
    const pack = 'test/sql/logistic-pack.yaml';
    const r = await explainCli('0001000917', '--rules', pack);
    expect(r.code).toBe(0);
    const e = JSON.parse((await explainCli('0001000917', '--rules', pack, '--json')).out);
    const steps = (e.rules as { id: string; flagged: boolean }[]).filter((x) => /^(bill_ratio|line_age)_[0-9]+$/.test(x.id));
    const hit = steps.filter((x) => x.flagged);
    expect(steps.length - hit.length).toBeGreaterThan(0);
    for (const x of hit) expect(r.out).toContain(`[x] ${x.id}`);
    for (const x of steps.filter((x) => !x.flagged)) expect(r.out).not.toContain(` ${x.id} `);
    expect(r.out).toContain(`(${steps.length - hit.length} scorecard steps not hit are not listed; --json lists every rule)`);
    // The pack's own rules are listed hit or not.
    expect(r.out).toMatch(/\[[x ]\] loyal_member/);
  });

  it('when the subscriber is unknown then it exits 64', async () => {
    const r = await cli(['explain', '--input', 'fixtures/golden/input', '--as-of', '2026-11-23', '--subscriber', 'nobody']);
    expect(r.code).toBe(64);
    expect(r.err).toContain('is not in subscribers.csv');
  });
});

describe('churnwatch explain in the configured locale', () => {
  const dir = mkdtempSync(join(tmpdir(), 'cw-explain-zh-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  const config = join(dir, 'run.yaml');
  writeFileSync(config, 'output:\n  locale: zh-CN\n');
  const run = (id: string, json = false) =>
    cli([
      'explain',
      '--input',
      'fixtures/golden/input',
      '--as-of',
      '2026-11-23',
      '--subscriber',
      id,
      '--config',
      config,
      ...(json ? ['--json'] : []),
    ]);

  it('when output.locale is zh-CN then the rules it hits show their Chinese title, reason and action, and the policy outcome is in Chinese', async () => {
    const r = await run('0001000917');
    expect([r.code, r.err]).toEqual([0, '']);
    expect(r.out).toMatch(/^联系策略: 有任务 CW20261123-[0-9a-f]{16}（状态 new，类型 retention）$/m);
    expect(r.out).toContain('      原因: 通话时长 0，上月 243（−100%）');
    expect(r.out).toContain('      标题: 欠费停机');
    expect(r.out).toMatch(/ {6}建议动作: 将付费期临时延长10天/);
    expect(r.out).not.toContain('minutes of use');
    // The numbers and dates are written as in English.
    expect(r.out).toContain('risk 0.7188; expected loss 207.00');
    const json = JSON.parse((await run('0001000917', true)).out);
    expect(json.rules.find((x: { id: string }) => x.id === 'arrears_suspended')).toMatchObject({ title: '欠费停机' });
    expect(json.policy.outcome).toBe('task');
  });

  it('when a policy stopped the task then the Chinese text names the code as suppressed.csv does, and what it means', async () => {
    const r = await run('0001000872');
    expect(r.code).toBe(0);
    expect(r.out).toContain('联系策略: 无任务：被策略 retained_follow_up_later 拦截（见 suppressed.csv）: 已挽留成功，下次回访时间未到');
  });

  it('when no locale is configured then the same subscriber is explained in English', async () => {
    const r = await cli(['explain', '--input', 'fixtures/golden/input', '--as-of', '2026-11-23', '--subscriber', '0001000872']);
    expect(r.out).toContain(
      'policy: no task: suppressed by retained_follow_up_later (suppressed.csv): retained; the next follow-up is not due yet',
    );
  });
});
