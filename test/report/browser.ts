/// <reference lib="dom" />
/**
 * Debian's chromium driven by playwright-core, for checking the report page as a
 * person's browser shows it. One profile folder per launch, made fresh and removed
 * after. Every page opened through openGuarded() records console errors, page errors
 * and every request that is not for a file: or data: URL (which it aborts).
 */
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium, type BrowserContext, type Page } from 'playwright-core';

export const CHROMIUM = '/usr/bin/chromium';
export const HAVE_CHROMIUM = existsSync(CHROMIUM);

const ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-quic',
  '--disable-component-update',
  '--disable-sync',
];

export interface Browser {
  context: BrowserContext;
  close(): Promise<void>;
}

export async function launchBrowser(): Promise<Browser> {
  const profile = mkdtempSync(join(tmpdir(), 'cw-chromium-'));
  // launchPersistentContext is playwright's way to pass a --user-data-dir of our choosing.
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM,
    headless: true,
    args: ARGS,
    viewport: { width: 1000, height: 900 },
    deviceScaleFactor: 1,
  });
  return {
    context,
    async close() {
      await context.close();
      rmSync(profile, { recursive: true, force: true });
    },
  };
}

export interface GuardedPage {
  page: Page;
  problems: string[];
}

export async function openGuarded(browser: Browser, url: string): Promise<GuardedPage> {
  const page = await browser.context.newPage();
  const problems: string[] = [];
  page.on('console', (m) => {
    if (m.type() === 'error') problems.push(`console error: ${m.text()}`);
  });
  page.on('pageerror', (e) => problems.push(`page error: ${e.message}`));
  page.on('request', (r) => {
    if (!/^(file|data):/.test(r.url())) problems.push(`request: ${r.url()}`);
  });
  await page.route('**/*', (route) => (/^(file|data):/.test(route.request().url()) ? route.continue() : route.abort()));
  await page.goto(url, { waitUntil: 'load' });
  return { page, problems };
}

/**
 * Pixels of each chart's canvas in a saturated colour, by chart id. The report draws
 * its marks (bars, lines, points) in saturated colours and its axes, grid and text in
 * greys, so a chart with no marks counts 0 however much of its frame it drew.
 */
export function markPixels(page: Page): Promise<Record<string, number>> {
  return page.evaluate(() => {
    const out: Record<string, number> = {};
    for (const el of Array.from(document.querySelectorAll<HTMLElement>('[data-chart]'))) {
      let n = 0;
      for (const canvas of Array.from(el.querySelectorAll('canvas'))) {
        const px = canvas.getContext('2d')!.getImageData(0, 0, canvas.width, canvas.height).data;
        for (let i = 0; i < px.length; i += 4) {
          if (px[i + 3]! > 200 && Math.max(px[i]!, px[i + 1]!, px[i + 2]!) - Math.min(px[i]!, px[i + 1]!, px[i + 2]!) > 80) n++;
        }
      }
      out[el.dataset.chart!] = n;
    }
    return out;
  });
}
