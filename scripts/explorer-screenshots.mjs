// Screenshots of the explorer over a run folder, for docs/explorer.md and for comparing the page
// before and after a change: `node scripts/explorer-screenshots.mjs <run folder> <out prefix> [dist]`
// writes <prefix>-page.png (the whole page), <prefix>-training.png (the training stages' overlaid
// curves; an older build's first stage), <prefix>-evaluation.png (the evaluation table),
// <prefix>-clusters.png (the first clustering: controls, grid, heat map) and <prefix>-neighbours.png
// (after a click on the first image). A hash (`#view=...`) after the folder opens that view. `dist` is the build to serve from (default ./dist), so an older build can be shot too.
// Needs Chromium (/usr/bin/chromium, or CLUSTERFIT_CHROMIUM) and playwright-core (a dev dependency).
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { chromium } from 'playwright-core';

const [folderArg, prefix, dist = 'dist'] = process.argv.slice(2);
const [runFolder, hash = ''] = (folderArg ?? '').split('#');
if (!runFolder || !prefix) {
  process.stderr.write('usage: node scripts/explorer-screenshots.mjs <run folder> <out prefix> [dist]\n');
  process.exit(1);
}
const { startExplorer } = await import(pathToFileURL(resolve(dist, 'src', 'explore', 'index.js')).href);
const explorer = await startExplorer(runFolder);
const context = await chromium.launchPersistentContext(mkdtempSync(join(tmpdir(), 'clusterfit-shots-')), {
  executablePath: process.env.CLUSTERFIT_CHROMIUM ?? '/usr/bin/chromium',
  headless: true,
  args: ['--headless', '--no-sandbox', '--disable-gpu', '--no-first-run', '--disable-background-networking'],
  viewport: { width: 1280, height: 900 },
});
try {
  const page = await context.newPage();
  await page.goto(`${explorer.url}${hash ? `#${hash}` : ''}`);
  await page.waitForSelector('body[data-ready="true"]', { timeout: 120000 });
  await page.waitForTimeout(1500); // thumbnails
  await page.screenshot({ path: `${prefix}-page.png`, fullPage: true });
  // Each view only where the folder has it (a single training stage has no clustering).
  const training = (await page.locator('#training').count()) > 0 ? '#training' : '.stage';
  if ((await page.locator(training).count()) > 0) {
    await page
      .locator(training)
      .first()
      .screenshot({ path: `${prefix}-training.png` });
  }
  if ((await page.locator('#evaluation').count()) > 0) {
    await page.locator('#evaluation').screenshot({ path: `${prefix}-evaluation.png` });
  }
  if ((await page.locator('.clustering').count()) > 0) {
    await page
      .locator('.clustering')
      .first()
      .screenshot({ path: `${prefix}-clusters.png` });
  }
  if ((await page.locator('.tile img').count()) > 0) {
    await page.click('.tile img >> nth=0');
    await page.waitForSelector('#neighbours .nb', { timeout: 120000 });
    await page.waitForTimeout(1500);
    await page.screenshot({ path: `${prefix}-neighbours.png` });
  }
} finally {
  await context.close();
  await explorer.close();
}
