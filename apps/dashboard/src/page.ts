/**
 * The operator's overview page: polls the stats endpoint and draws the flush lag and the dirty keys as live
 * line charts. Plain HTML, inline SVG and a small inline script (allowed by a per-response CSP nonce), so
 * there is nothing to build.
 */
export function renderPage({
  nonce,
  statsPath,
  boardPath,
  pollMs = 1000,
}: {
  nonce: string;
  statsPath: string;
  boardPath: string;
  pollMs?: number;
}): string {
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>write-behind dashboard</title>
<style nonce="${nonce}">
  body { font: 14px/1.4 system-ui, sans-serif; margin: 2rem; color: #1f2933; max-width: 60rem; }
  h1 { font-size: 1.3rem; margin: 0 0 .5rem; }
  .figures { display: flex; gap: 2rem; margin: 1rem 0; }
  .figure b { display: block; font-size: 1.6rem; }
  .chart { margin: 1.2rem 0; }
  .chart h2 { font-size: 1rem; margin: 0 0 .3rem; }
  svg { width: 100%; height: 160px; background: #f5f7fa; border: 1px solid #d9e2ec; }
  polyline { fill: none; stroke-width: 2; }
  .lag polyline { stroke: #d64545; }
  .dirty polyline { stroke: #2680c2; }
  text { font-size: 11px; fill: #52606d; }
  #status { color: #9b1c1c; min-height: 1.4em; }
</style>
</head>
<body>
<h1>write-behind</h1>
<p>Writes are acknowledged from Redis; flush workers persist them to PostgreSQL. Jobs and retries:
  <a href="${boardPath}">Bull Board</a> · Prometheus: <a href="metrics">/metrics</a></p>
<div class="figures">
  <div class="figure">lag (oldest unflushed write)<b id="lag">–</b></div>
  <div class="figure">dirty keys<b id="dirty">–</b></div>
  <div class="figure">failed keys<b id="failed">–</b></div>
  <div class="figure">waiting + delayed jobs<b id="backlog">–</b></div>
</div>
<div id="status"></div>
<div class="chart lag"><h2>lag, seconds (last 2 minutes)</h2><svg id="lag-chart" viewBox="0 0 600 160" preserveAspectRatio="none"></svg></div>
<div class="chart dirty"><h2>dirty keys (last 2 minutes)</h2><svg id="dirty-chart" viewBox="0 0 600 160" preserveAspectRatio="none"></svg></div>
<script nonce="${nonce}">
(() => {
  const WINDOW_MS = 120000;
  const points = [];
  const $ = (id) => document.getElementById(id);
  const SVG = 'http://www.w3.org/2000/svg';

  function draw(svg, value) {
    const now = Date.now();
    // Until the page has two minutes of history the chart spans what it has, so it fills from the left at once.
    const start = Math.max(now - WINDOW_MS, points.length ? points[0].at : now);
    const span = Math.max(now - start, 1);
    const max = Math.max(1, ...points.map(value));
    const coords = points
      .map((p) => ((600 * (p.at - start)) / span).toFixed(1) + ',' + (150 - (140 * value(p)) / max).toFixed(1))
      .join(' ');
    svg.replaceChildren();
    const line = document.createElementNS(SVG, 'polyline');
    line.setAttribute('points', coords);
    const label = document.createElementNS(SVG, 'text');
    label.setAttribute('x', '4');
    label.setAttribute('y', '14');
    label.textContent = 'max ' + (Number.isInteger(max) ? max : max.toFixed(2));
    svg.append(line, label);
    svg.dataset.points = String(points.length);
  }

  async function poll() {
    try {
      const response = await fetch(${JSON.stringify(statsPath)}, { headers: { accept: 'application/json' } });
      if (!response.ok) throw new Error('stats answered ' + response.status);
      const s = await response.json();
      points.push({ at: s.at, lag: s.lagMs / 1000, dirty: s.dirtyKeys });
      while (points.length && points[0].at < Date.now() - WINDOW_MS) points.shift();
      $('lag').textContent = (s.lagMs / 1000).toFixed(1) + ' s';
      $('dirty').textContent = s.dirtyKeys;
      $('failed').textContent = s.failedKeys;
      $('backlog').textContent = s.queues.reduce((n, q) => n + q.counts.waiting + q.counts.delayed, 0);
      $('status').textContent = '';
      draw($('lag-chart'), (p) => p.lag);
      draw($('dirty-chart'), (p) => p.dirty);
    } catch (error) {
      $('status').textContent = 'cannot read stats: ' + error.message;
    } finally {
      setTimeout(poll, ${pollMs});
    }
  }
  poll();
})();
</script>
</body>
</html>
`;
}
