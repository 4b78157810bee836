// Opens a ProdLens HTML report in headless Chromium and checks it against the JSON report of
// the same data: charts and tables render with the expected numbers, the AI-series selector
// switches the daily chart without script, the developer table sorts, nothing is fetched from
// outside the file, no script from data runs; then saves a full-page screenshot.
//
//   node check_report.mjs <report.html> <report.json> <outdir>
//
// Prints one line per check and exits 1 on the first failure.

import { readFileSync, mkdirSync } from 'node:fs';
import { resolve, join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { launch, watchRequests } from './launch.mjs';

const [htmlPath, jsonPath, outDir] = process.argv.slice(2);
if (!htmlPath || !jsonPath || !outDir) {
  console.error('usage: node check_report.mjs <report.html> <report.json> <outdir>');
  process.exit(2);
}
const report = JSON.parse(readFileSync(jsonPath, 'utf8'));
mkdirSync(outDir, { recursive: true });

/** The Rust `render::human` formatting: `–` for no data, integers plain, ≥ 100 one decimal, else ≤ 4 decimals. */
export function human(v) {
  if (v === null || v === undefined) return '–';
  if (Number.isInteger(v) && Math.abs(v) < 1e15) return v.toFixed(0);
  if (Math.abs(v) >= 100) return v.toFixed(1);
  return v.toFixed(4).replace(/0+$/, '').replace(/\.$/, '');
}

/** The Rust `render::human_p`: scientific below 1e-4. */
export function humanP(v) {
  if (v !== null && v !== undefined && v > 0 && v < 1e-4) {
    const [m, e] = v.toExponential(1).split('e');
    return `${m}e${Number(e)}`;
  }
  return human(v);
}

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

const { page, close } = await launch({ viewport: { width: 1280, height: 900 } });
const requests = watchRequests(page);
const dialogs = [];
const errors = [];
page.on('dialog', async (d) => {
  dialogs.push(d.message());
  await d.dismiss();
});
page.on('pageerror', (e) => errors.push(String(e)));
page.on('console', (m) => {
  if (m.type() === 'error') errors.push(m.text());
});

try {
  await page.goto(pathToFileURL(resolve(htmlPath)).href, { waitUntil: 'load' });
  const text = (sel) => page.locator(sel).first().innerText();
  const m = report.metadata;

  // Header.
  same('header window', await text('[data-testid="window"]'), `${m.since} → ${m.until}`);
  same('header timezone', await text('[data-testid="timezone"]'), m.timezone);
  same('header repos', await text('[data-testid="repos"]'), m.repos.join(', '));
  same(
    'freshness rows',
    await page.locator('[data-testid="freshness"] tbody tr').count(),
    m.freshness.length,
  );

  // Threshold cards: every one, status and value.
  same('threshold cards', await page.locator('.card[data-testid^="threshold-"]').count(), report.thresholds.length);
  for (const t of report.thresholds.slice(0, 4)) {
    const card = page.locator(`[data-testid="threshold-${idPart(t.repo)}-${idPart(t.metric)}"]`);
    same(`threshold ${t.repo} ${t.metric} status`, await card.getAttribute('data-status'), t.status.replace('_', ''));
    same(`threshold ${t.repo} ${t.metric} value`, await card.locator('.card-value').innerText(), human(t.value));
    same(`threshold ${t.repo} ${t.metric} raw value`, Number(await card.getAttribute('data-value')), t.value);
  }

  for (const [repo, x] of Object.entries(report.metrics)) {
    const rid = idPart(repo);
    same(`${repo} total requests`, await text(`#repo-${rid} [data-testid="kpi-requests"]`), String(x.velocity.requests));
    same(`${repo} merged PRs`, await text(`#repo-${rid} [data-testid="kpi-merged-prs"]`), String(x.pr_throughput.merged));

    // Daily chart: the requests tab shows, with one mark per day and the JSON's values.
    const requests = page.locator(`#daily-${rid}-requests`);
    const sessions = page.locator(`#daily-${rid}-sessions`);
    check(`${repo} daily requests chart visible`, await requests.isVisible());
    check(`${repo} daily sessions chart hidden`, !(await sessions.isVisible()));
    const box = await requests.boundingBox();
    check(`${repo} daily chart is drawn`, box !== null && box.width > 600 && box.height > 250, JSON.stringify(box));
    const reqValues = await requests
      .locator('g.series[data-series="AI requests"] circle')
      .evaluateAll((cs) => cs.map((c) => Number(c.getAttribute('data-value'))));
    same(`${repo} daily requests values`, JSON.stringify(reqValues), JSON.stringify(x.daily.map((d) => d.requests)));
    const commits = await requests
      .locator('g.series[data-series="commits"] circle')
      .evaluateAll((cs) => cs.map((c) => Number(c.getAttribute('data-value'))));
    same(`${repo} daily commits values`, JSON.stringify(commits), JSON.stringify(x.daily.map((d) => d.commits)));

    // Switch the AI series (a label click on a radio button: no script involved).
    await page.locator(`[data-testid="tab-${rid}-sessions"]`).click();
    check(`${repo} after switching, requests chart hidden`, !(await requests.isVisible()));
    check(`${repo} after switching, sessions chart visible`, await sessions.isVisible());
    const sesValues = await sessions
      .locator('g.series[data-series="AI sessions"] circle')
      .evaluateAll((cs) => cs.map((c) => Number(c.getAttribute('data-value'))));
    same(`${repo} daily sessions values`, JSON.stringify(sesValues), JSON.stringify(x.daily.map((d) => d.sessions)));
    check(`${repo} the chart changed`, JSON.stringify(sesValues) !== JSON.stringify(reqValues));
    await page.locator(`[data-testid="tab-${rid}-cost_usd"]`).click();
    check(`${repo} cost tab visible`, await page.locator(`#daily-${rid}-cost_usd`).isVisible());

    // Other charts exist and are drawn.
    for (const id of ['cost-day', 'cost-model', 'latency-day', 'latency-hist', 'merge-time', 'throughput']) {
      const c = page.locator(`#${id}-${rid}`);
      const b = await c.boundingBox();
      check(`${repo} ${id} chart drawn`, b !== null && b.width > 300 && b.height > 150, JSON.stringify(b));
    }
    const hist = await page
      .locator(`#latency-hist-${rid} rect.bar`)
      .evaluateAll((rs) => rs.map((r) => [r.getAttribute('data-label'), Number(r.getAttribute('data-value'))]));
    same(
      `${repo} latency histogram`,
      JSON.stringify(hist),
      JSON.stringify(x.velocity.latency_distribution.map((b) => [b.label, b.count])),
    );
    const models = await page.locator(`#cost-model-${rid} rect.bar`).count();
    same(`${repo} cost per model bars`, models, Object.keys(x.cost.per_model).length);

    // Developer table: first row as in the JSON, then sorted by cost on a header click.
    const table = page.locator(`[data-testid="developers-${rid}"]`);
    same(`${repo} developer rows`, await table.locator('tbody tr').count(), x.developers.length);
    const d0 = x.developers[0];
    const row0 = await table.locator('tbody tr').first().locator('td').allInnerTexts();
    same(
      `${repo} first developer row`,
      JSON.stringify(row0),
      JSON.stringify([
        d0.developer,
        human(d0.requests),
        human(d0.sessions),
        human(d0.tokens),
        human(d0.cost_usd),
        human(d0.acceptance_rate),
        human(d0.acceptance_n),
        human(d0.commits),
        human(d0.merged_prs),
      ]),
    );
    // Sort by commits (most first, ties keep their order), then again for fewest first.
    const commitsHead = table.locator('thead th', { hasText: 'Commits' });
    await commitsHead.locator('button').click();
    const names = () => table.locator('tbody tr td:first-child').allInnerTexts();
    const byCommits = [...x.developers].sort((p, q) => q.commits - p.commits).map((d) => d.developer);
    same(`${repo} sorted by commits, first`, (await names())[0], byCommits[0]);
    same(`${repo} sorted by commits, order`, JSON.stringify(await names()), JSON.stringify(byCommits));
    same(`${repo} sort state`, await commitsHead.getAttribute('aria-sort'), 'descending');
    await commitsHead.locator('button').click();
    const fewest = [...x.developers].sort((p, q) => p.commits - q.commits)[0];
    const firstNow = await table.locator('tbody tr').first().locator('td').nth(7).innerText();
    same(`${repo} sorted by commits, fewest first`, firstNow, human(fewest.commits));
    const hostile = x.developers.find((d) => d.developer.includes('<'));
    if (hostile) {
      const cell = table.locator(`tbody tr[data-developer="${hostile.developer.replace(/"/g, '\\"')}"] td`).first();
      same(`${repo} hostile developer name shown as text`, await cell.innerText(), hostile.developer);
    }
  }

  // Associations: row count, one row's numbers, one lag chart per pair.
  const rows = page.locator('[data-testid="associations-table"] tbody tr');
  same('association rows', await rows.count(), report.associations.length);
  const a = report.associations.find((z) => z.significant.pearson) ?? report.associations[0];
  if (a) {
    const key = `${a.repo}|${a.ai_series}|${a.outcome_series}|${a.lag}`;
    const cells = await page.locator(`[data-testid="associations-table"] tr[data-key="${key}"] td`).allInnerTexts();
    same(`association ${key} r`, cells[5], human(a.pearson.r));
    same(`association ${key} CI`, cells[6], `[${human(a.pearson.ci_low)}, ${human(a.pearson.ci_high)}]`);
    same(`association ${key} adjusted p`, cells[8], humanP(a.adjusted_p.pearson));
    same(`association ${key} rho`, cells[9], human(a.spearman.r));
    const bar = page.locator(
      `#lag-${idPart(a.repo)}-${idPart(a.ai_series)}-${idPart(a.outcome_series)} rect.bar[data-label="${a.lag}"]`,
    );
    same(`lag chart bar of ${key}`, Number(await bar.getAttribute('data-value')), a.pearson.r);
  }
  const pairs = new Set(report.associations.map((z) => `${z.repo}|${z.ai_series}|${z.outcome_series}`));
  same('lag charts', await page.locator('svg.chart[id^="lag-"]').count(), pairs.size);
  same('warnings', await page.locator('#warnings li').count(), report.warnings.length);
  same('definitions', await page.locator('#definitions dt').count(), Object.keys(report.definitions).length);

  // Nothing but the file itself was requested; no script from data ran; no script error.
  same('requests outside the file', JSON.stringify(requests.outside()), '[]');
  same('dialogs opened', JSON.stringify(dialogs), '[]');
  same('page errors', JSON.stringify(errors), '[]');

  // Back to the first tab for the picture, then a full-page screenshot.
  for (const repo of Object.keys(report.metrics)) {
    await page.locator(`[data-testid="tab-${idPart(repo)}-requests"]`).click();
  }
  const shot = join(outDir, 'report.png');
  await page.screenshot({ path: shot, fullPage: true });
  console.log(`screenshot ${shot}`);
} catch (e) {
  failures += 1;
  console.log(`FAIL ${e.stack || e}`);
} finally {
  await close();
}
console.log(failures === 0 ? 'all checks passed' : `${failures} check(s) failed`);
process.exit(failures === 0 ? 0 : 1);
