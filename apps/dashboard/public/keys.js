// The key inspector: an entity and an id (a field per key part, typed as the part's kind), then what Redis
// and PostgreSQL hold for the key, its flush job and failures, and the operator's actions, each confirmed.
(() => {
  const { settings, api, time, ago, el, show, confirmAction, status, canonicalId } = window.wb;
  const $ = (id) => document.getElementById(id);
  let entities = [];
  let current; // { entity, id } of the key shown

  const entityOf = (name) => entities.find((e) => e.name === name);

  function renderParts() {
    const entity = entityOf($('entity').value);
    const holder = $('key-parts');
    holder.replaceChildren(
      ...(entity?.key ?? []).map((part) =>
        el(
          'label',
          {},
          `${part.field} (${part.kind})`,
          el('input', {
            name: part.field,
            'data-kind': part.kind,
            type: part.kind === 'int' || part.kind === 'bigint' ? 'number' : 'text',
            step: part.kind === 'int' || part.kind === 'bigint' ? '1' : undefined,
            pattern: part.kind === 'uuid' ? '[0-9a-fA-F-]{36}' : undefined,
            required: true,
            autocomplete: 'off',
          }),
        ),
      ),
    );
  }

  function partValues() {
    const values = {};
    for (const input of $('key-parts').querySelectorAll('input')) values[input.name] = input.value.trim();
    return values;
  }

  async function inspect(entityName, id, { quiet = false } = {}) {
    try {
      const story = await api(
        `${settings.apiPath}keys/${encodeURIComponent(entityName)}/${encodeURIComponent(id)}`,
      );
      current = { entity: story.entity, id: story.id };
      const url = new URL(window.location.href);
      url.search = new URLSearchParams({ entity: story.entity, id: story.id }).toString();
      window.history.replaceState(null, '', url);
      render(story);
      if (!quiet) status('');
    } catch (error) {
      status(error.message);
      if (!quiet) $('result').hidden = true;
    }
  }

  function row(label, value, id) {
    return [el('dt', {}, label), el('dd', id ? { id } : {}, value)];
  }

  function render(story) {
    const entity = entityOf(story.entity);
    $('result').hidden = false;
    $('title').textContent = `${story.entity} ${story.id}`;
    const state = $('state');
    state.textContent = story.state;
    state.className = `badge ${story.state}`;
    state.dataset.state = story.state;
    $('summary').textContent = summary(story);

    // Values side by side.
    const body = $('values').querySelector('tbody');
    const rows = [];
    const r = story.redis;
    const d = story.database;
    if (entity?.append) {
      rows.push(
        valueRow(
          'events',
          r.events ? `${r.events.waiting} waiting (${r.events.first ?? '–'}…${r.events.last ?? '–'})` : '—',
          d.events ? `${d.events.count} rows, last ${d.events.lastSequence ?? '–'}` : '—',
        ),
      );
    } else {
      for (const field of entity?.fields ?? []) {
        const cached = r.values
          ? show(r.values[field.name])
          : r.partial
            ? `+${r.pending[field.name] ?? 0} pending`
            : r.deleted
              ? 'deleted'
              : '—';
        rows.push(valueRow(field.name, cached, d.row ? show(d.row[field.name]) : '—'));
      }
    }
    rows.push(valueRow('version', show(r.version), show(d.version), 'version'));
    body.replaceChildren(...rows);

    $('redis').replaceChildren(
      ...row('held', r.present ? 'yes' : 'no: the next use loads it from PostgreSQL', 'redis-present'),
      ...row('version / flushed', `${show(r.version)} / ${show(r.flushedVersion)}`, 'redis-version'),
      ...row('dirty', r.dirty ? 'yes' : 'no', 'redis-dirty'),
      ...row(
        'dirty since',
        r.dirtySince ? `${time(r.dirtySince)} (${ago(r.dirtySince)})` : '—',
        'dirty-since',
      ),
      ...row(
        'tombstone',
        r.deleted ? (r.dirty ? 'a delete waits to be flushed' : 'no row (cached)') : '—',
        'redis-tombstone',
      ),
      ...(r.partial ? row('pending sums', JSON.stringify(r.pending), 'redis-pending') : []),
      ...(Object.keys(r.taken).length
        ? row('taken by a flush', `${JSON.stringify(r.taken)} at ${r.takenVersion}`)
        : []),
      ...(r.events
        ? row(
            'events waiting',
            r.events.sample.map((e) => `#${e.sequence} ${JSON.stringify(e.values)}`).join('\n') || '—',
            'redis-events',
          )
        : []),
      ...row('expires', r.ttlMs === null ? 'no' : `in ${(r.ttlMs / 1000).toFixed(0)} s`),
      ...story.rankings.flatMap((k) =>
        row(
          `rank by ${k.field}`,
          k.rank === null ? 'not ranked' : `#${k.rank} (${k.score})${k.built ? '' : ', ranking not built'}`,
          `rank-${k.field}`,
        ),
      ),
    );
    $('database').replaceChildren(
      ...(d.available ? [] : row('unreadable', d.error ?? '', 'db-error')),
      ...row('row', d.row ? 'yes' : entity?.append ? '—' : 'none', 'db-row'),
      ...row('version', show(d.version), 'db-version'),
      ...Object.entries(d.updatedAt).flatMap(([column, at]) => row(column, time(at), `db-${column}`)),
      ...row(
        'tombstone',
        d.tombstone ? `version ${d.tombstone.version}, ${time(d.tombstone.deletedAt)}` : '—',
        'db-tombstone',
      ),
    );

    const job = story.job;
    $('job').replaceChildren(
      ...(job
        ? [
            ...row('id', el('code', {}, job.id), 'job-id'),
            ...row('state', job.state, 'job-state'),
            ...row('attempts', `${job.attemptsMade} of ${job.attempts}`, 'job-attempts'),
            ...row('next run', job.nextRunAt ? time(job.nextRunAt) : '—', 'job-next-run'),
            ...row('started / finished', `${time(job.processedOn)} / ${time(job.finishedOn)}`),
            ...row(
              'last error',
              job.error ? `${job.error.code ? `SQLSTATE ${job.error.code}: ` : ''}${job.error.message}` : '—',
              'job-error',
            ),
            ...(job.attemptErrors.length > 1
              ? row('attempts\u2019 errors', job.attemptErrors.join('\n'))
              : []),
          ]
        : row(
            'none',
            story.state === 'orphaned'
              ? 'dirty without a job: the sweep enqueues it'
              : 'no flush job holds this key',
            'job-state',
          )),
    );

    $('failures')
      .querySelector('tbody')
      .replaceChildren(
        ...(story.failures.length === 0
          ? [el('tr', {}, el('td', { colspan: 5 }, 'none kept'))]
          : story.failures.map((f) =>
              el(
                'tr',
                { 'data-job': f.id },
                el('td', {}, el('code', {}, f.id)),
                el('td', {}, time(f.finishedOn)),
                el('td', {}, `${f.attemptsMade} of ${f.attempts}`),
                el('td', {}, f.error?.code ?? '—'),
                el('td', {}, f.error?.message ?? ''),
              ),
            )),
      );

    $('flush').disabled = !['dirty', 'orphaned'].includes(story.state);
    $('retry').disabled = !(story.state === 'failed' || story.failures.some((f) => f.state === 'failed'));
    $('discard').disabled = !r.present && story.state === 'not-cached' && story.failures.length === 0;
  }

  function valueRow(label, cached, stored, id) {
    const differs = cached !== stored && cached !== '—' && stored !== '—';
    return el(
      'tr',
      { 'data-field': id ?? label },
      el('th', {}, label),
      el('td', { class: differs ? 'redis differs' : 'redis' }, cached),
      el('td', { class: differs ? 'database differs' : 'database' }, stored),
    );
  }

  function summary(story) {
    switch (story.state) {
      case 'not-cached':
        return 'Redis holds nothing for this key: PostgreSQL is the truth, and its next use loads it.';
      case 'clean':
        return 'Redis and PostgreSQL agree: nothing waits to be flushed.';
      case 'dirty':
        return 'Acknowledged writes wait in Redis for their flush job.';
      case 'flushing':
        return 'Its flush runs now.';
      case 'failed':
        return 'Its flush job failed for good: fix the cause (below), then retry. Redis still holds its writes.';
      case 'orphaned':
        return 'Dirty, but no flush job holds it: the sweep enqueues it shortly.';
      default:
        return '';
    }
  }

  const QUESTIONS = {
    flush: (k) => `Flush ${k.entity} ${k.id} now, before the end of its flush window?`,
    retry: (k) =>
      `Retry the failed jobs of ${k.entity} ${k.id}? Each writes the key's current state, if newer than the row.`,
    discard: (k) =>
      `Discard what Redis holds for ${k.entity} ${k.id}? Its acknowledged writes that PostgreSQL does not hold yet are dropped for good, and its next use loads it from PostgreSQL.`,
  };

  async function act(action) {
    if (!current) return;
    const key = current;
    if (!(await confirmAction(QUESTIONS[action](key)))) return;
    try {
      const result = await api(
        `${settings.apiPath}keys/${encodeURIComponent(key.entity)}/${encodeURIComponent(key.id)}/${action}`,
        { method: 'POST' },
      );
      status(`${action}: ${result.outcome}: ${result.message}`, true);
    } catch (error) {
      status(`${action} refused: ${error.message}`);
    }
    await inspect(key.entity, key.id, { quiet: true });
  }

  async function start() {
    try {
      entities = (await api(`${settings.apiPath}entities`)).entities;
    } catch (error) {
      status(`cannot read the entities: ${error.message}`);
      return;
    }
    $('entity').replaceChildren(...entities.map((e) => el('option', { value: e.name }, e.name)));
    const params = new URLSearchParams(window.location.search);
    if (params.get('entity') && entityOf(params.get('entity'))) $('entity').value = params.get('entity');
    renderParts();
    const single =
      entityOf($('entity').value)?.key.length === 1 ? $('key-parts').querySelector('input') : null;
    if (single && params.get('id') !== null) single.value = params.get('id');
    $('entity').addEventListener('change', renderParts);
    $('lookup').addEventListener('submit', (event) => {
      event.preventDefault();
      const entity = entityOf($('entity').value);
      if (entity) void inspect(entity.name, canonicalId(entity.key, partValues()));
    });
    for (const button of document.querySelectorAll('[data-action]')) {
      button.addEventListener('click', () => void act(button.dataset.action));
    }
    if (params.get('entity') && params.get('id') !== null)
      void inspect(params.get('entity'), params.get('id'));
    // Keep the story current while it is shown.
    setInterval(() => {
      if (current && !document.getElementById('confirm').open)
        void inspect(current.entity, current.id, { quiet: true });
    }, settings.refreshMs);
  }
  start();
})();
