// Opens the `prod-lens serve` dashboard in headless Chromium and checks it against the server's
// own JSON API: charts and tables show the numbers of /api/report, the filter form narrows the
// page (developer, then repo), the sessions page sorts, developer rows link to their profile,
// and the page reloads by itself with the new numbers when data is ingested while it is open.
// Saves `dashboard.png` (the unfiltered dashboard) in <outdir>.
//
//   node check_dashboard.mjs <base-url> <outdir> <prod-lens> <db> <new-traces.jsonl>
//
// Prints one line per check and exits 1 when one failed.

import { execFileSync } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { launch, watchRequests } from './launch.mjs';

const [base, outDir, bin, db, newTraces] = process.argv.slice(2);
if (!base || !outDir || !bin || !db || !newTraces) {
  console.error('usage: node check_dashboard.mjs <base-url> <outdir> <prod-lens> <db> <new-traces.jsonl>');
  process.exit(2);
}
mkdirSync(outDir, { recursive: true });

/** `acme/api` → `acme__api`, as the renderer's `id_part`. */
const idPart = (s) => s.replace(/\//g, '__').replace(/[^A-Za-z0-9._-]/g, '_');

let failures = 0;
function check(name, ok, detail = '') {
  console.log(`${ok ? 'ok  ' : 'FAIL'} ${name}${detail ? ` — ${detail}` : ''}`);
  if (!ok) failures += 1;
}
function same(name, got, want) {
  check(name, got === want, `got ${JSON.stringify(got)}, want ${JSON.stringify(want)}`);
}
async function api(path) {
  const r = await fetch(base + path);
  if (r.status !== 200) throw new Error(`${path}: HTTP ${r.status} ${await r.text()}`);
  return r.json();
}

const { page, close } = await launch({ viewport: { width: 1280, height: 900 } });
const requests = watchRequests(page);
const errors = [];
const failed = [];
page.on('requestfailed', (req) => {
  // Reloading cancels the open event stream; anything else is a failure.
  if (!req.url().endsWith('/api/events')) failed.push(req.url());
});
page.on('response', (res) => {
  if (res.status() >= 400) failed.push(`${res.status()} ${res.url()}`);
});
page.on('pageerror', (e) => errors.push(String(e)));
page.on('console', (m) => {
  if (m.type() === 'error') errors.push(m.text());
});
const text = (sel) => page.locator(sel).first().innerText();
const kpi = (repo) => text(`#repo-${idPart(repo)} [data-testid="kpi-requests"]`);
const live = () => page.waitForFunction(() => document.getElementById('live-status')?.textContent === 'live', null, { timeout: 15_000 });

try {
  // The dashboard: the default window, every repo.
  const report = await api('/api/report');
  const m = report.metadata;
  await page.goto(base + '/', { waitUntil: 'load' });
  same('title', await page.title(), `ProdLens dashboard ${m.since} → ${m.until}`);
  same('report window', await text('[data-testid="report-header"] [data-testid="window"]'), `${m.since} → ${m.until}`);
  same('form window', await text('[data-testid="filter-window"]'), `Showing ${m.since} to ${m.until} (UTC)`);
  same('repo sections', await page.locator('section[id^="repo-"]').count(), Object.keys(report.metrics).length);
  for (const [repo, x] of Object.entries(report.metrics)) {
    const rid = idPart(repo);
    same(`${repo} total requests`, await kpi(repo), String(x.velocity.requests));
    const chart = page.locator(`#daily-${rid}-requests`);
    const box = await chart.boundingBox();
    check(`${repo} daily chart drawn`, box !== null && box.width > 600 && box.height > 250, JSON.stringify(box));
    const values = await chart
      .locator('g.series[data-series="AI requests"] circle')
      .evaluateAll((cs) => cs.map((c) => Number(c.getAttribute('data-value'))));
    same(`${repo} daily requests values`, JSON.stringify(values), JSON.stringify(x.daily.map((d) => d.requests)));
    const table = page.locator(`[data-testid="developers-${rid}"]`);
    same(`${repo} developer rows`, await table.locator('tbody tr').count(), x.developers.length);
    const d0 = x.developers[0];
    const row0 = await table.locator('tbody tr').first().locator('td').allInnerTexts();
    same(`${repo} first developer row`, JSON.stringify(row0.slice(0, 2)), JSON.stringify([d0.developer, String(d0.requests)]));
  }
  await live();
  check('live status', true);
  const shot = join(outDir, 'dashboard.png');
  await page.screenshot({ path: shot, fullPage: true });
  console.log(`screenshot ${shot}`);

  // Filter by developer through the form: the page shows their numbers only.
  const dev = report.metrics['acme/api'].developers[1].developer;
  await page.locator('[data-testid="filter-developer"]').fill(dev);
  await Promise.all([page.waitForURL(/developer=/), page.locator('[data-testid="apply-filters"]').click()]);
  same('developer in the URL', new URL(page.url()).searchParams.get('developer'), dev);
  const mine = await api(`/api/report?developer=${encodeURIComponent(dev)}`);
  for (const [repo, x] of Object.entries(mine.metrics)) {
    same(`${repo} requests of ${dev}`, await kpi(repo), String(x.velocity.requests));
    const rows = await page.locator(`[data-testid="developers-${idPart(repo)}"] tbody tr`).evaluateAll((trs) => trs.map((t) => t.getAttribute('data-developer')));
    check(`${repo} developer table holds ${dev} only`, rows.every((r) => r.toLowerCase() === dev.toLowerCase()), JSON.stringify(rows));
  }
  check(
    'the page changed',
    (await kpi('acme/api')) !== String(report.metrics['acme/api'].velocity.requests),
  );
  same('developer field keeps the value', await page.locator('[data-testid="filter-developer"]').inputValue(), dev);

  // Then one repo through the repo picker (developer cleared).
  await page.locator('[data-testid="filter-developer"]').fill('');
  await page.locator('[data-testid="filter-repo"]').selectOption(['acme/web']);
  await Promise.all([page.waitForURL(/repo=acme%2Fweb/), page.locator('[data-testid="apply-filters"]').click()]);
  const web = await api('/api/report?repo=acme/web');
  same('one repo section', await page.locator('section[id^="repo-"]').count(), 1);
  same('acme/web requests', await kpi('acme/web'), String(web.metrics['acme/web'].velocity.requests));
  same('no acme/api section', await page.locator('#repo-acme__api').count(), 0);

  // A developer row links to the profile, which shows their totals.
  const link = page.locator('[data-testid="developers-acme__web"] tbody tr td:first-child a').first();
  const linked = await link.innerText();
  await Promise.all([page.waitForURL(/\/developers\//), link.click()]);
  const profile = await api(`/api/developers/${encodeURIComponent(linked)}?repo=acme/web`);
  same('profile id', await text('[data-testid="profile-id"]'), linked);
  same('profile requests', await text('[data-testid="profile-requests"]'), String(profile.totals.requests));
  same('profile commits', await text('[data-testid="profile-commits"]'), String(profile.totals.commits));
  same('profile sessions rows', await page.locator('[data-testid="sessions-table"] tbody tr').count(), profile.recent_sessions.length);

  // The sessions page: the first page, then sorted by requests with a header click.
  await Promise.all([page.waitForURL(/\/sessions/), page.locator('[data-testid="nav"] a', { hasText: 'Sessions' }).click()]);
  const sessions = await api('/api/sessions?repo=acme/web');
  same('sessions rows', await page.locator('[data-testid="sessions-table"] tbody tr').count(), sessions.items.length);
  check('sessions pager', (await text('[data-testid="pager"]')).includes(`${sessions.total} sessions`), await text('[data-testid="pager"]'));
  await Promise.all([page.waitForURL(/sort=requests/), page.locator('[data-testid="sessions-table"] th a[data-sort="requests"]').click()]);
  const byRequests = await api('/api/sessions?repo=acme/web&sort=requests');
  const first = await page.locator('[data-testid="sessions-table"] tbody tr').first().locator('td').allInnerTexts();
  same('most requests first', first[1], byRequests.items[0].session);
  same('their requests', first[5], String(byRequests.items[0].requests));

  // Live refresh: with the dashboard open, ingest a call; the page reloads with it.
  await page.goto(base + '/?repo=acme/api', { waitUntil: 'load' });
  await live();
  const before = Number(await kpi('acme/api'));
  const reloaded = page.waitForEvent('load', { timeout: 20_000 });
  execFileSync(bin, ['--db', db, 'ingest-traces', '--no-parquet', '--quiet', newTraces], { stdio: 'ignore' });
  await reloaded;
  same('requests after the ingest', Number(await kpi('acme/api')), before + 1);

  same('requests to other origins', JSON.stringify(requests.outside([base + '/'])), '[]');
  same('failed requests', JSON.stringify(failed), '[]');
  same('page errors', JSON.stringify(errors), '[]');
} catch (e) {
  failures += 1;
  console.log(`FAIL ${e.stack || e}`);
} finally {
  await close();
}
console.log(failures === 0 ? 'all checks passed' : `${failures} check(s) failed`);
process.exit(failures === 0 ? 0 : 1);
