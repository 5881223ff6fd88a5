// Debian's Chromium (or CHROMIUM_PATH) driven by playwright-core, as every browser test launches it:
// headless, no sandbox (root), and none of the background connections this machine's closed network refuses.
import { mkdirSync } from 'node:fs';
import { chromium, type Browser, type Page } from 'playwright-core';

export const chromiumPath = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';

export function launchChromium(): Promise<Browser> {
  return chromium.launch({
    executablePath: chromiumPath,
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
      '--no-first-run',
    ],
  });
}

/** A demo page that trained in the browser: the page, the numbers it shows (#results-json) and its errors. */
export interface TrainedPage {
  page: Page;
  shown: any;
  pageErrors: string[];
}

/**
 * Opens `url` in a new page (collecting uncaught errors and console errors), waits until its training is done
 * (`document.body.dataset.training`), reads the numbers it shows and saves a full-page screenshot to
 * test/.artifacts/<screenshot>.png.
 */
export async function openTrainedPage(
  browser: Browser,
  url: string,
  height: number,
  screenshot: string,
  timeout: number,
): Promise<TrainedPage> {
  const pageErrors: string[] = [];
  const page = await browser.newPage({ viewport: { width: 1200, height } });
  page.on('pageerror', (e) => pageErrors.push(e.message));
  page.on('console', (m) => {
    if (m.type() === 'error') pageErrors.push(m.text());
  });
  await page.goto(url);
  await page.waitForFunction(
    () => document.body.dataset.training === 'done' || document.body.dataset.training === 'error',
    null,
    { timeout },
  );
  const shown = JSON.parse((await page.textContent('#results-json')) ?? '{}');
  const artifacts = new URL('../.artifacts/', import.meta.url);
  mkdirSync(artifacts, { recursive: true });
  await page.screenshot({ path: new URL(`${screenshot}.png`, artifacts).pathname, fullPage: true });
  return { page, shown, pageErrors };
}
