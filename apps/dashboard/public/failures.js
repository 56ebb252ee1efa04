// Failures by cause: failed jobs grouped by entity and cause, with counts, first and last seen and a sample
// of keys; retry a whole cause or the selected keys, in batches the server paces.
(() => {
  const { settings, api, time, ago, el, confirmAction, status } = window.wb;
  const $ = (id) => document.getElementById(id);
  const selected = new Map(); // `${entity}\n${id}` -> { entity, id }

  function batchSize() {
    const value = Number($('batch-size').value);
    return Number.isInteger(value) && value >= 1 ? value : 100;
  }

  function updateSelection() {
    const button = $('retry-selected');
    button.disabled = selected.size === 0;
    button.textContent = selected.size === 0 ? 'Retry the selected' : `Retry the ${selected.size} selected`;
  }

  function render(report) {
    $('summary').textContent =
      report.total === 0
        ? 'No failed jobs.'
        : `${report.total} failed job${report.total === 1 ? '' : 's'} in ${report.groups.length} group${report.groups.length === 1 ? '' : 's'}${report.truncated ? ' (only the newest were read)' : ''}.`;
    $('groups').replaceChildren(
      ...report.groups.map((group) =>
        el(
          'section',
          { class: 'group', 'data-entity': group.entity, 'data-cause': group.cause.id },
          el(
            'h2',
            {},
            `${group.entity}: `,
            group.cause.code ? `SQLSTATE ${group.cause.code}` : 'no database code',
            ` · ${group.count} failed job${group.count === 1 ? '' : 's'}, ${group.keys} key${group.keys === 1 ? '' : 's'}`,
          ),
          el('p', { class: 'message' }, group.cause.message),
          el(
            'p',
            {},
            `first seen ${time(group.firstSeen)} (${ago(group.firstSeen)}), last seen ${time(group.lastSeen)} (${ago(group.lastSeen)}) · cause `,
            el('code', {}, group.cause.id),
          ),
          el(
            'div',
            { class: 'actions' },
            el(
              'button',
              {
                type: 'button',
                class: 'retry-cause',
                onclick: () =>
                  void retry(
                    { cause: group.cause.id, entity: group.entity },
                    `all ${group.count} failed jobs of ${group.entity} with this cause`,
                  ),
              },
              `Retry all ${group.count} of this cause`,
            ),
          ),
          el(
            'table',
            { class: 'list sample' },
            el(
              'thead',
              {},
              el(
                'tr',
                {},
                el('th', {}, ''),
                el('th', {}, 'key'),
                el('th', {}, 'job'),
                el('th', {}, 'failed at'),
                el('th', {}, 'attempts'),
              ),
            ),
            el(
              'tbody',
              {},
              group.sample.map((job) => {
                const name = `${job.entity}\n${job.id}`;
                return el(
                  'tr',
                  { 'data-key': job.id },
                  el(
                    'td',
                    {},
                    el('input', {
                      type: 'checkbox',
                      'aria-label': `select ${job.entity} ${job.id}`,
                      checked: selected.has(name),
                      onchange: (event) => {
                        if (event.target.checked) selected.set(name, { entity: job.entity, id: job.id });
                        else selected.delete(name);
                        updateSelection();
                      },
                    }),
                  ),
                  el(
                    'td',
                    {},
                    el(
                      'a',
                      { href: `keys?${new URLSearchParams({ entity: job.entity, id: job.id })}` },
                      job.id,
                    ),
                  ),
                  el('td', {}, el('code', {}, job.jobId)),
                  el('td', {}, time(job.failedAt)),
                  el('td', {}, String(job.attemptsMade)),
                );
              }),
            ),
          ),
          group.sample.length < group.count
            ? el('p', { class: 'hint' }, `the newest ${group.sample.length} shown`)
            : null,
        ),
      ),
    );
    updateSelection();
  }

  async function load() {
    try {
      render(await api(`${settings.apiPath}failures`));
      status('');
    } catch (error) {
      status(`cannot read the failures: ${error.message}`);
    }
  }

  async function retry(selector, what) {
    const size = batchSize();
    if (!(await confirmAction(`Retry ${what}, ${size} at a time? Fix the cause first, or they fail again.`)))
      return;
    try {
      const { run } = await api(`${settings.apiPath}failures/retry`, {
        method: 'POST',
        body: JSON.stringify({ ...selector, batchSize: size }),
      });
      if ('keys' in selector) selected.clear();
      await follow(run.id);
    } catch (error) {
      status(`retry refused: ${error.message}`);
    }
  }

  /** Polls a retry run until it ends, showing its progress. */
  async function follow(runId) {
    const line = $('run-status');
    for (;;) {
      const { run } = await api(`${settings.apiPath}failures/runs/${encodeURIComponent(runId)}`);
      const p = run.progress;
      line.dataset.done = String(Boolean(run.finishedAt));
      line.textContent = p
        ? `retry ${run.id}: batch ${p.batch} of ${p.batches} · retried ${p.retried} of ${p.selected} · flushed ${p.flushed} · failed again ${p.failedAgain} · still waiting ${p.pending}${run.finishedAt ? ' · done' : ''}`
        : `retry ${run.id}: starting…`;
      if (run.error) line.textContent += ` · stopped: ${run.error}`;
      if (run.finishedAt) break;
      await new Promise((resolve) => setTimeout(resolve, 500));
    }
    await load();
  }

  $('retry-selected').addEventListener('click', () => {
    const keys = [...selected.values()];
    void retry({ keys }, `the failed jobs of ${keys.length} selected key${keys.length === 1 ? '' : 's'}`);
  });
  $('refresh').addEventListener('click', () => void load());
  load();
})();
