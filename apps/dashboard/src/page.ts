/**
 * The dashboard's pages: the overview (figures and live charts), the key inspector and the failures by cause.
 * Each is a small HTML shell; its script and stylesheets are files the app serves itself (`public/`, and
 * uPlot from its npm package), loaded by tags carrying the response's CSP nonce, so the policy allows
 * nothing else and there is nothing to build. The page's settings travel as JSON in a `<script>` element of
 * type `application/json` (data, never run).
 */

/** The pages, by the path they are served at (relative to the dashboard's root). */
export type PageName = 'overview' | 'keys' | 'failures';

export interface PageOptions {
  nonce: string;
  /** The operator signed in (the Basic-auth user), shown in the header. */
  user: string;
  /** Bull Board's path, relative to the root, ending in `/`. */
  boardPath: string;
  /** What the page's script reads: its API paths, the poll interval, the shards. */
  settings: Record<string, unknown>;
}

const TITLES: Record<PageName, string> = {
  overview: 'write-behind',
  keys: 'Key inspector',
  failures: 'Failures by cause',
};

/** Text for HTML content and attribute values. */
export function escapeHtml(text: string): string {
  return text.replace(
    /[&<>"']/g,
    (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c] as string,
  );
}

/** JSON safe inside a `<script>` element: no `</script>` or `<!--` can close or open anything. */
function scriptJson(value: unknown): string {
  return JSON.stringify(value).replace(/</g, '\\u003c').replace(/>/g, '\\u003e').replace(/&/g, '\\u0026');
}

const BODIES: Record<PageName, (options: PageOptions) => string> = {
  overview: ({ boardPath }) => `
<p class="lead">Writes are acknowledged from Redis; flush workers persist them to PostgreSQL. Jobs:
  <a href="${boardPath}">Bull Board</a> · Prometheus: <a href="metrics">/metrics</a></p>
<div class="figures">
  <div class="figure">lag (oldest unflushed write)<b id="lag">–</b></div>
  <div class="figure">dirty keys<b id="dirty">–</b></div>
  <div class="figure"><a href="failures">failed keys</a><b id="failed">–</b></div>
  <div class="figure">waiting + delayed jobs<b id="backlog">–</b></div>
</div>
<div id="status" role="status"></div>
<p class="hint">The last hour, sampled every <span id="interval">–</span> s; click a legend entry to hide its line.</p>
<div class="charts">
  <section class="chart" id="lag-chart" data-points="0"><h2>Lag: age of the oldest unflushed write</h2><div class="plot"></div></section>
  <section class="chart" id="dirty-chart" data-points="0"><h2>Dirty keys</h2><div class="plot"></div></section>
  <section class="chart" id="acknowledged-chart" data-points="0"><h2>Writes acknowledged</h2><div class="plot"></div></section>
  <section class="chart" id="rows-chart" data-points="0"><h2>Rows written to PostgreSQL</h2><div class="plot"></div></section>
  <section class="chart" id="refused-chart" data-points="0"><h2>Writes refused, by code</h2><div class="plot"></div></section>
  <section class="chart" id="failures-chart" data-points="0"><h2>Flush failures (rows refused)</h2><div class="plot"></div></section>
  <section class="chart" id="memory-chart" data-points="0" hidden><h2>Memory budget: keys in Redis</h2><div class="plot"></div></section>
</div>`,
  keys: () => `
<p class="lead">What the cache holds for one key and what PostgreSQL holds, side by side, with its flush job.
  Ids are typed as the key's type; a composite key has a field per part.</p>
<form id="lookup" class="lookup">
  <label>entity <select id="entity" name="entity"></select></label>
  <span id="key-parts"></span>
  <button type="submit" id="inspect">Inspect</button>
</form>
<div id="status" role="status"></div>
<section id="result" hidden>
  <h2><span id="title"></span> <span id="state" class="badge"></span></h2>
  <p id="summary"></p>
  <div class="actions">
    <button type="button" id="flush" data-action="flush">Flush now</button>
    <button type="button" id="retry" data-action="retry">Retry</button>
    <button type="button" id="discard" data-action="discard" class="danger">Discard pending state</button>
  </div>
  <table class="values" id="values">
    <thead><tr><th></th><th>Redis (cache)</th><th>PostgreSQL</th></tr></thead>
    <tbody></tbody>
  </table>
  <div class="columns">
    <div><h3>Redis</h3><dl id="redis"></dl></div>
    <div><h3>PostgreSQL</h3><dl id="database"></dl></div>
  </div>
  <h3>Flush job</h3>
  <dl id="job"></dl>
  <h3>Failed jobs of this key</h3>
  <table class="list" id="failures"><thead><tr><th>job</th><th>failed at</th><th>attempts</th><th>SQLSTATE</th><th>message</th></tr></thead><tbody></tbody></table>
</section>
<dialog id="confirm">
  <p id="confirm-text"></p>
  <div class="actions"><button type="button" id="confirm-cancel">Cancel</button><button type="button" id="confirm-ok">Confirm</button></div>
</dialog>`,
  failures: () => `
<p class="lead">Failed flush jobs grouped by entity and cause (the database's SQLSTATE and its message with
  values left out). Fix the cause, then retry: retries go in batches, each once the one before has run.</p>
<div class="toolbar">
  <label>batch size <input id="batch-size" type="number" min="1" max="10000" value="100"></label>
  <button type="button" id="retry-selected" disabled>Retry the selected</button>
  <button type="button" id="refresh">Refresh</button>
</div>
<div id="status" role="status"></div>
<div id="run-status" role="status"></div>
<p id="summary"></p>
<div id="groups"></div>
<dialog id="confirm">
  <p id="confirm-text"></p>
  <div class="actions"><button type="button" id="confirm-cancel">Cancel</button><button type="button" id="confirm-ok">Confirm</button></div>
</dialog>`,
};

/** A page of the dashboard. */
export function renderPage(page: PageName, options: PageOptions): string {
  const { nonce, user, boardPath, settings } = options;
  const n = escapeHtml(nonce);
  const link = (name: PageName, href: string, label: string) =>
    `<a href="${href}"${name === page ? ' aria-current="page"' : ''}>${label}</a>`;
  const charts = page === 'overview';
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${escapeHtml(TITLES[page])} · write-behind dashboard</title>
<link rel="stylesheet" nonce="${n}" href="assets/dashboard.css">
${charts ? `<link rel="stylesheet" nonce="${n}" href="assets/uPlot.min.css">\n` : ''}</head>
<body>
<nav class="top">
  ${link('overview', '.', 'Overview')}
  ${link('keys', 'keys', 'Keys')}
  ${link('failures', 'failures', 'Failures')}
  <a href="${escapeHtml(boardPath)}">Bull Board</a>
  <span class="who">operator: <b id="operator">${escapeHtml(user)}</b></span>
</nav>
<main>
<h1>${escapeHtml(TITLES[page])}</h1>
${BODIES[page](options)}
</main>
<script nonce="${n}" type="application/json" id="settings">${scriptJson(settings)}</script>
${charts ? `<script nonce="${n}" src="assets/uPlot.iife.min.js"></script>\n` : ''}<script nonce="${n}" src="assets/common.js"></script>
<script nonce="${n}" src="assets/${page}.js"></script>
</body>
</html>
`;
}
