/**
 * The agents' language: every rule of the default pack carries its title, reason and
 * action in English and Simplified Chinese (the playbook's own wording), a pack that
 * asks for a locale refuses a rule without it, and output.locale: zh-CN writes the
 * same tasks with the same numbers and dates in Chinese.
 */
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { LOCALES, parseRulePack } from '../../src/config/rulepack.js';
import type { ChurnwatchError } from '../../src/errors.js';
import { textsOf } from '../../src/tasks/records.js';
import { cleanup, runCli } from '../helpers/world.js';

const TEXT = readFileSync('rules/default.yaml', 'utf8');
const pack = parseRulePack(TEXT, 'rules/default.yaml');
const HAN = /\p{Script=Han}/u;

function packError(text: string): ChurnwatchError {
  try {
    parseRulePack(text, 'p.yaml');
  } catch (e) {
    return e as ChurnwatchError;
  }
  throw new Error('the pack was accepted');
}

describe('rule texts in every locale', () => {
  it('when the default pack is read then it asks for en and zh-CN', () => {
    expect(pack.locales).toEqual([...LOCALES]);
  });

  it.each(pack.rules.map((r) => [r.id, r] as const))(
    'when rule %s is read then it has a title, reason and action in English and in Chinese',
    (_id, rule) => {
      const en = textsOf(rule, 'en'),
        zh = textsOf(rule, 'zh-CN');
      expect(rule.texts['zh-CN']).toBeDefined();
      for (const t of [en, zh]) {
        expect(t.title.trim()).not.toBe('');
        expect(t.action.trim()).not.toBe('');
        expect(t.reason.length).toBeGreaterThan(0);
      }
      expect(HAN.test(zh.title) && HAN.test(zh.action)).toBe(true);
      expect(HAN.test(zh.reason.filter((p) => typeof p === 'string').join(''))).toBe(true);
      expect(HAN.test(en.title + en.action)).toBe(false);
    },
  );

  it("when the issue's rules are read then their task types are the playbook's", () => {
    const type = (id: string) => pack.rules.find((r) => r.id === id)!.taskType;
    expect(type('low_balance')).toBe('sms_then_call');
    expect(type('silence_3d')).toBe('warning_call');
    expect(type('contract_expiring')).toBe('renewal_offer');
    expect(type('contract_lapsed')).toBe('renewal_offer');
    expect(type('complaints_repeat')).toBe('apology_credit');
  });

  it('when a pack asks for zh-CN and a rule has none then it is refused naming the rule', () => {
    const text = TEXT.replace(/( {2}- id: mou_drop[\s\S]*?) {4}texts:\n {6}zh-CN:\n( {8}.*\n){3}/, '$1');
    expect(text).not.toBe(TEXT);
    const e = packError(text);
    expect(e.code).toBe('CW_RULEPACK_INVALID');
    expect(e.message).toContain('rule mou_drop.texts: has no zh-CN texts');
  });

  it('when a zh-CN reason shows other evidence than the English one then it is refused', () => {
    const e = packError(TEXT.replace('上月拨打客服热线 {hotline_calls(M0)} 次', '上月拨打客服热线 {hotline_calls(M1)} 次'));
    expect(e.message).toContain('rule hotline_calls.texts.zh-CN.reason: must show the same {expressions}');
  });

  it('when a task type is not an id a dialer takes then the pack is refused naming the rule', () => {
    const e = packError(TEXT.replace('task_type: apology_credit', 'task_type: "apology call"'));
    expect(e.message).toContain('rule complaints_repeat.task_type: must be 1 to 40 lower case letters');
  });

  it('when a locale is not known then the pack is refused', () => {
    expect(packError(TEXT.replace('locales: [en, zh-CN]', 'locales: [en, fr]')).message).toContain('locales: must be a list of en, zh-CN');
  });
});

describe('output.locale', () => {
  const work = mkdtempSync(join(tmpdir(), 'cw-locale-'));
  afterAll(() => cleanup(work));

  it('when zh-CN is chosen then the plain files hold the same tasks, numbers and dates, in Chinese', async () => {
    const config = join(work, 'run.yaml');
    writeFileSync(config, 'output:\n  locale: zh-CN\n');
    const en = await runCli('fixtures/golden/input', '2026-11-23', [], join(work, 'en'));
    const zh = await runCli('fixtures/golden/input', '2026-11-23', ['--config', config], join(work, 'zh'));
    expect(zh.code).toBe(0);
    const numbers = (s: string) => s.match(/[−+]?\d+(\.\d+)?%?/g) ?? [];
    for (const tier of ['high', 'mid', 'mass']) {
      const [a, b] = [en.tasks[tier]!, zh.tasks[tier]!];
      expect(b.length).toBe(a.length);
      a.forEach((row, k) => {
        const other = b[k]!;
        for (const col of ['task_id', 'subscriber_id', 'msisdn', 'value', 'risk_score', 'reason_codes', 'due_at', 'channel'])
          expect(other[col]).toBe(row[col]);
        expect(HAN.test(other.reason_text!) && HAN.test(other.action!)).toBe(true);
        // d1..d3 names days in both; the evidence numbers come in the same order and format.
        expect(numbers(other.reason_text!.replaceAll('d1..d3', '')).filter((n) => !['3', '30', '90'].includes(n))).toEqual(
          numbers(row.reason_text!.replaceAll('d1..d3', '')).filter((n) => !['3', '30', '90'].includes(n)),
        );
      });
    }
  });
});
