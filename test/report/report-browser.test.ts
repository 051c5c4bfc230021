/**
 * The report page in a real browser (Debian's chromium, headless, one launch for all
 * checks): the sample run's report, as the compiled CLI writes it, loads with no
 * console error and no request leaving the page, and every chart drew marks. A second
 * report, of a run with rejected rows and given a backtest result, covers the rejects
 * and decile lift charts.
 *
 * Skips when /usr/bin/chromium is absent (the suite runs elsewhere too); .ci/run
 * installs it, so CI runs it. With CW_REPORT_SCREENSHOT=FILE it also saves a
 * screenshot of the sample report there (docs/report.png is made this way).
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cleanup } from '../helpers/world.js';
import { ensureBuilt, runChild } from '../hardening/helpers.js';
import type { Page } from 'playwright-core';
import { CHROMIUM, HAVE_CHROMIUM, launchBrowser, markPixels, openGuarded, type Browser } from './browser.js';

const SAMPLE_DATES = ['2026-11-21', '2026-11-22', '2026-11-23'];
/** Far fewer than any chart draws (a bar of a few pixels' height over 20 px is already more), far more than antialiasing noise. */
const MIN_MARK_PIXELS = 60;

const suite = HAVE_CHROMIUM
  ? 'the run report in headless chromium'
  : `the run report in headless chromium: SKIPPED, ${CHROMIUM} is absent (apt-get install -y chromium; .ci/run installs it)`;
if (!HAVE_CHROMIUM) console.warn(`report-browser.test.ts skipped: ${CHROMIUM} is absent`);

describe.skipIf(!HAVE_CHROMIUM)(suite, () => {
  let work: string;
  let browser: Browser;
  let sampleReport: string;
  let backtestReport: string;

  async function cw(args: string[]) {
    const r = await runChild([...args, ...(args[0] === 'run' ? ['--log-level', 'warn'] : [])]);
    expect([args.join(' '), r.code, r.stderr]).toEqual([args.join(' '), 0, '']);
  }

  beforeAll(async () => {
    await ensureBuilt();
    work = mkdtempSync(join(tmpdir(), 'cw-report-browser-'));
    const sample = join(work, 'sample');
    for (const d of SAMPLE_DATES) await cw(['run', '--input', 'fixtures/sample', '--out', sample, '--as-of', d]);
    sampleReport = join(sample, SAMPLE_DATES.at(-1)!, 'report.html');
    const golden = join(work, 'golden');
    await cw(['run', '--input', 'fixtures/golden/input', '--out', golden, '--as-of', '2026-11-23']);
    backtestReport = join(work, 'with-backtest.html');
    await cw(['report', join(golden, '2026-11-23'), '--backtest', 'test/report/backtest-sample.json', '--out', backtestReport]);
    browser = await launchBrowser();
  }, 120_000);
  afterAll(async () => {
    await browser?.close();
    if (work) cleanup(work);
  });

  /** Each chart's y axis reaches its highest value, so no bar or point is clipped at the top. */
  async function expectNothingCutOff(page: Page) {
    const tops = await page
      .locator('[data-chart]')
      .evaluateAll((els) =>
        els.map((el) => [
          (el as HTMLElement).dataset.chart,
          Number((el as HTMLElement).dataset.yTop) >= Number((el as HTMLElement).dataset.max),
        ]),
      );
    expect(tops.filter(([, ok]) => !ok)).toEqual([]);
    expect(tops.length).toBeGreaterThan(0);
  }

  async function open(file: string) {
    const g = await openGuarded(browser, pathToFileURL(file).href);
    await g.page.evaluate(() => new Promise((done) => requestAnimationFrame(() => done(null))));
    return g;
  }

  it("when the sample run's report is opened then it loads cleanly and every chart drew marks", async () => {
    const { page, problems } = await open(sampleReport);
    const marks = await markPixels(page);
    expect(Object.keys(marks)).toEqual(['tiers', 'hits', 'risk', 'withheld', 'trend-tasks', 'trend-hits', 'trend-withheld']);
    for (const [chart, n] of Object.entries(marks)) expect([chart, n > MIN_MARK_PIXELS]).toEqual([chart, true]);
    await expectNothingCutOff(page);
    expect(await page.locator('#rejects .none').textContent()).toBe('No row was rejected.');
    expect(await page.locator('#trend p').first().textContent()).toContain('3 runs are in this output folder');
    expect(problems).toEqual([]);
    const shot = process.env.CW_REPORT_SCREENSHOT;
    if (shot) await page.screenshot({ path: resolve(shot), fullPage: true });
    await page.close();
  });

  it('when a run with rejected rows is reported with a backtest then its rejects and decile lift charts drew marks', async () => {
    const { page, problems } = await open(backtestReport);
    const marks = await markPixels(page);
    expect(Object.keys(marks)).toEqual(expect.arrayContaining(['rejects', 'deciles']));
    expect([marks.rejects! > MIN_MARK_PIXELS, marks.deciles! > MIN_MARK_PIXELS]).toEqual([true, true]);
    await expectNothingCutOff(page);
    expect(problems).toEqual([]);
    await page.close();
  });

  it('when a page asks for something off the page then the guard records it (so a clean report above means none left)', async () => {
    const file = join(work, 'leaky.html');
    writeFileSync(file, '<!DOCTYPE html><title>x</title><img src="http://127.0.0.1:9/x.png"><script>console.error("boom")</script>');
    const { page, problems } = await open(file);
    expect(problems).toEqual(expect.arrayContaining(['request: http://127.0.0.1:9/x.png', 'console error: boom']));
    await page.close();
  });
});
