// Shared launcher of the browser checks: Debian's Chromium, headless, offline-minded, fresh profile.
//
// Usage (ESM):
//   import { launch } from './launch.mjs';
//   const { browser, page, close } = await launch();
//
// The executable is $CHROMIUM or /usr/bin/chromium. Every run gets a new temporary profile
// folder, removed by close().

import { chromium } from 'playwright-core';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** Chromium flags: headless, no sandbox (containers), no background traffic of its own. */
export const CHROMIUM_ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-background-networking',
  '--disable-quic',
  '--no-first-run',
  '--disable-component-update',
  '--disable-sync',
];

/** The Chromium binary to drive. */
export function chromiumPath() {
  return process.env.CHROMIUM || '/usr/bin/chromium';
}

/**
 * Launches Chromium with a fresh profile and opens one page of `viewport` size.
 * Returns { context, page, profile, close }.
 */
export async function launch({ viewport = { width: 1280, height: 800 } } = {}) {
  const profile = mkdtempSync(join(tmpdir(), 'prodlens-chromium-'));
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: chromiumPath(),
    headless: true,
    args: CHROMIUM_ARGS,
    viewport,
    timeout: 60_000,
  });
  const page = context.pages()[0] ?? (await context.newPage());
  const close = async () => {
    try {
      await context.close();
    } finally {
      rmSync(profile, { recursive: true, force: true });
    }
  };
  return { context, page, profile, close };
}

/**
 * Records every request the page makes; `outside(allowed)` lists the URLs that are not `file:`,
 * `data:`, `about:` or `blob:` and start with none of the `allowed` prefixes (for a
 * self-contained page: none; for a local server, pass its origin, e.g. 'http://127.0.0.1:8787/').
 */
export function watchRequests(page) {
  const urls = [];
  page.on('request', (req) => urls.push(req.url()));
  return {
    all: () => [...urls],
    outside: (allowed = []) =>
      urls.filter((u) => !/^(file|data|about|blob):/.test(u) && !allowed.some((p) => u.startsWith(p))),
  };
}
