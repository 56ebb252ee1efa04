// The overview: the backlog's figures (polled from api/stats) and the live charts (api/series, drawn with
// uPlot): the last hour, per shard and in all, with time axes and units.
(() => {
  const { settings, api, status } = window.wb;
  const $ = (id) => document.getElementById(id);
  const COLOURS = ['#2680c2', '#d64545', '#3ebd93', '#f0b429', '#8662c7', '#e66a0e', '#0f609b', '#9b1c1c'];

  /** Units: how each chart's values read on its axis and in its legend. */
  const perSecond = (v) => (v === null || v === undefined ? '–' : `${compact(v)}/s`);
  const seconds = (v) => (v === null || v === undefined ? '–' : `${v < 10 ? v.toFixed(1) : compact(v)} s`);
  const count = (v) => (v === null || v === undefined ? '–' : compact(v));
  function compact(v) {
    const abs = Math.abs(v);
    if (abs >= 1e9) return `${(v / 1e9).toFixed(1)}G`;
    if (abs >= 1e6) return `${(v / 1e6).toFixed(1)}M`;
    if (abs >= 1e4) return `${(v / 1e3).toFixed(0)}k`;
    if (abs >= 1e3) return `${(v / 1e3).toFixed(1)}k`;
    return Number.isInteger(v) ? String(v) : v.toFixed(abs < 1 ? 2 : 1);
  }

  const CHARTS = [
    { id: 'lag-chart', series: 'lagSeconds', unit: 'seconds', format: seconds },
    { id: 'dirty-chart', series: 'dirtyKeys', unit: 'keys', format: count },
    { id: 'acknowledged-chart', series: 'acknowledgedPerSecond', unit: 'writes/s', format: perSecond },
    { id: 'rows-chart', series: 'rowsWrittenPerSecond', unit: 'rows/s', format: perSecond },
    { id: 'refused-chart', series: 'refusedPerSecond', unit: 'writes/s', format: perSecond, byCode: true },
    { id: 'failures-chart', series: 'flushFailuresPerSecond', unit: 'rows/s', format: perSecond },
    { id: 'memory-chart', series: 'memoryKeys', unit: 'keys', format: count, memory: true },
  ];

  /** The page's data: sample times (s) and, per chart, per series name, values. */
  const data = { at: [], series: {} };
  const plots = new Map();
  let windowMs = 3600000;

  function seriesNames(chart) {
    const set = data.series[chart.series] ?? {};
    const names = Object.keys(set);
    // `all` first, then shards in order; refusal codes alphabetically. A chart with nothing yet shows `all`.
    if (chart.byCode) return names.length ? names.sort() : ['none'];
    return ['all', ...names.filter((n) => n !== 'all').sort((a, b) => Number(a) - Number(b))];
  }

  function columns(chart, names) {
    const set = data.series[chart.series] ?? {};
    return [data.at, ...names.map((name) => set[name] ?? data.at.map(() => (chart.byCode ? 0 : null)))];
  }

  /** Draws (or redraws) one chart; a new set of series (a new refusal code) builds it again. */
  function draw(chart) {
    const section = $(chart.id);
    if (chart.memory && !settings.memoryBudget) return;
    section.hidden = false;
    const names = seriesNames(chart);
    const key = names.join(',');
    const container = section.querySelector('.plot');
    let plot = plots.get(chart.id);
    if (!plot || plot.key !== key) {
      plot?.uplot.destroy();
      const ticks = { x: [], y: [] };
      const options = {
        width: Math.max(300, container.clientWidth),
        height: 200,
        scales: { x: { time: true } },
        series: [
          { label: 'time', value: (_u, v) => (v === null ? '–' : new Date(v * 1000).toLocaleTimeString()) },
          ...names.map((name, i) => ({
            label: chart.byCode ? name : name === 'all' ? 'all shards' : `shard ${name}`,
            stroke: COLOURS[i % COLOURS.length],
            width: name === 'all' ? 2 : 1,
            spanGaps: false,
            points: { show: false },
            value: (_u, v) => chart.format(v),
          })),
        ],
        axes: [
          {
            label: 'time',
            space: 70,
            values: (_u, splits) => {
              const labels = splits.map((s) => clock(s));
              ticks.x = labels;
              return labels;
            },
          },
          {
            label: chart.unit,
            size: 60,
            values: (_u, splits) => {
              const labels = splits.map((v) => chart.format(v));
              ticks.y = labels;
              return labels;
            },
          },
        ],
        hooks: {
          draw: [
            () => {
              section.dataset.xTicks = ticks.x.join('|');
              section.dataset.yTicks = ticks.y.join('|');
            },
          ],
        },
      };
      plot = { key, uplot: new window.uPlot(options, columns(chart, names), container) };
      plots.set(chart.id, plot);
    } else {
      plot.uplot.setData(columns(chart, names));
    }
    section.dataset.points = String(data.at.length);
    section.dataset.series = names.join(',');
    describeHeld(section, plot.uplot.data.slice(1));
  }

  /**
   * What the chart holds, read back from uPlot, for tests and scripts (the canvas cannot be read): per series,
   * in the order of `data-series`, how many samples have a value (`data-values`), how many a non-zero one
   * (`data-non-zero`), and the largest (`data-max`, empty when none).
   */
  function describeHeld(section, held) {
    const present = (values) => values.filter((v) => v !== null && v !== undefined);
    section.dataset.values = held.map((values) => present(values).length).join(',');
    section.dataset.nonZero = held.map((values) => present(values).filter((v) => v !== 0).length).join(',');
    section.dataset.max = held
      .map((values) => (present(values).length ? String(Math.max(...present(values))) : ''))
      .join(',');
  }

  /** A tick's time of day: hours and minutes, with seconds when the window is short. */
  function clock(secondsSinceEpoch) {
    const date = new Date(secondsSinceEpoch * 1000);
    const span = (data.at.at(-1) ?? 0) - (data.at[0] ?? 0);
    const parts = { hour: '2-digit', minute: '2-digit', hourCycle: 'h23' };
    return date.toLocaleTimeString([], span < 600 ? { ...parts, second: '2-digit' } : parts);
  }

  /** Appends new samples, drops those older than the window. */
  function merge(payload) {
    windowMs = payload.windowMs;
    const start = data.at.length;
    const times = payload.at.map((ms) => ms / 1000);
    data.at.push(...times);
    for (const [metric, set] of Object.entries(payload.series)) {
      const empty = () => (metric === 'refusedPerSecond' ? 0 : null);
      if (!data.series[metric]) data.series[metric] = {};
      const mine = data.series[metric];
      for (const name of new Set([...Object.keys(mine), ...Object.keys(set)])) {
        if (!mine[name]) mine[name] = Array.from({ length: start }, empty);
        mine[name].push(...(set[name] ?? times.map(empty)));
      }
    }
    const oldest = Date.now() / 1000 - windowMs / 1000;
    let drop = 0;
    while (drop < data.at.length && data.at[drop] < oldest) drop++;
    if (drop > 0) {
      data.at.splice(0, drop);
      for (const set of Object.values(data.series))
        for (const values of Object.values(set)) values.splice(0, drop);
    }
  }

  let lastAt;
  async function pollSeries() {
    try {
      const path = lastAt === undefined ? settings.seriesPath : `${settings.seriesPath}?since=${lastAt}`;
      const payload = await api(path);
      if (payload.at.length > 0) lastAt = payload.at.at(-1);
      $('interval').textContent = (payload.intervalMs / 1000).toString();
      merge(payload);
      for (const chart of CHARTS) draw(chart);
    } catch (error) {
      status(`cannot read the charts' data: ${error.message}`);
    } finally {
      setTimeout(pollSeries, settings.sampleMs);
    }
  }

  async function pollStats() {
    try {
      const s = await api(settings.statsPath);
      $('lag').textContent = `${(s.lagMs / 1000).toFixed(1)} s`;
      $('dirty').textContent = s.dirtyKeys;
      $('failed').textContent = s.failedKeys;
      $('backlog').textContent = s.queues.reduce((n, q) => n + q.counts.waiting + q.counts.delayed, 0);
      status('');
    } catch (error) {
      status(`cannot read stats: ${error.message}`);
    } finally {
      setTimeout(pollStats, settings.pollMs);
    }
  }

  window.addEventListener('resize', () => {
    for (const [id, plot] of plots) {
      const container = $(id).querySelector('.plot');
      plot.uplot.setSize({ width: Math.max(300, container.clientWidth), height: 200 });
    }
  });
  pollStats();
  pollSeries();
})();
