/* Model page panels over the other packages' APIs: pipeline cascade, review queue and
 * automation metrics, retraining runs. Each panel appears once its API answers. */
(function () {
  'use strict';
  const R = window.Rampup;
  const el = R.el;
  const STEPS = { '15m': '1m', '1h': '2m', '6h': '10m', '24h': '30m', '7d': '4h' };
  const panels = {};

  function panel(id, title, tab) {
    if (panels[id]) return panels[id];
    const body = el('div', { class: 'panel-body' });
    const sec = el('section', { class: 'panel', id }, el('h2', { text: title }), body);
    document.getElementById('extra-panels').appendChild(sec);
    document.getElementById('extra-tabs').appendChild(el('a', { href: '#' + id, text: tab }));
    panels[id] = body;
    return body;
  }

  // -- pipeline: stages side by side, ranked by first change ------------------------------
  async function pipeline(model, stages) {
    const q = new URLSearchParams({ since: '-' + R.range(), step: STEPS[R.range()] });
    const d = await R.api('/v1/models/' + encodeURIComponent(model) + '/cascade?' + q);
    const body = panel('pipeline', 'Pipeline', 'Pipeline');
    body.dataset.stages = String(d.stages.length);
    const e2e = d.end_to_end;
    const head = el('p', {}, 'End to end ', el('code', { text: d.metric }), ': ',
      e2e.change ? R.chip('changed ' + e2e.change.direction + ' at ' + R.time(e2e.change.start), 'warning') : R.chip('steady', 'ok'),
      ' · first stage to change: ', d.first ? el('strong', { text: d.first }) : el('span', { class: 'muted', text: 'none' }),
      d.first ? (d.explained ? ' (explains the end-to-end change)' : '') : '');
    const cols = el('div', { class: 'stages' });
    const byName = Object.fromEntries(d.stages.map((s) => [s.stage, s]));
    R.replace(body, head, el('div', { class: 'charts', id: 'pipeline-e2e' }), cols);
    R.chart(document.getElementById('pipeline-e2e'), 'chart-pipeline-e2e', { title: 'end to end · ' + d.metric,
      t: e2e.series.map((p) => p[0]), series: { [d.metric]: e2e.series.map((p) => p[1]) } });
    const placed = stages.map((name, i) => {
      const s = byName[name];
      if (!s) return null;
      const col = el('div', { class: 'stage' + (s.first_change ? ' changed' : '') },
        el('h3', { text: String(i + 1) + '. ' + name }), el('div', { class: 'muted', text: s.model + (s.first_change ? ' · rank ' + s.rank : '') }),
        el('div', { class: 'chips' }, s.changed_metrics.length ? s.changed_metrics.map((m) => R.chip(m, 'warning')) : [R.chip('no change', 'ok')]));
      const charts = el('div', {});
      col.appendChild(charts);
      cols.appendChild(col);
      return [s, i, charts];
    });
    // every column is in place before any chart measures its width
    for (const [s, i, charts] of placed.filter(Boolean)) {
      const shown = [...s.metrics].sort((a, b) => (b.change ? 1 : 0) - (a.change ? 1 : 0)).slice(0, 3);
      for (const m of shown) {
        R.chart(charts, 'chart-stage-' + i + '-' + m.metric.replace(/[^A-Za-z0-9_-]/g, '_'), { title: m.metric, height: 120, legend: false,
          t: m.series.map((p) => p[0]), series: { [m.metric]: m.series.map((p) => p[1]) }, ref: m.baseline ? m.baseline.median : null });
      }
    }
  }

  // -- review queue and automation metrics ---------------------------------------------
  // {value, n, ci: [lo, hi]} -> "91.0% (n 200, 87.1–93.9%)"
  function rate(r) {
    if (!r || r.value === null || r.value === undefined) return 'no audited items yet';
    return R.pct(r.value) + ' (n ' + r.n + (r.ci ? ', ' + R.pct(r.ci[0]) + '–' + R.pct(r.ci[1]) : '') + ')';
  }

  async function review(model) {
    const name = encodeURIComponent(model);
    const [m, items] = await Promise.all([
      R.api('/v1/models/' + name + '/automation'),
      R.api('/v1/models/' + name + '/review/items?status=pending&limit=15')]);
    const body = panel('review', 'Review queue and automation', 'Review');
    body.dataset.queue = String(m.queue_length);
    const w = m.wait_s || {};
    R.replace(body,
      el('dl', { class: 'kv' },
        el('dt', { text: 'level' }), el('dd', {}, R.chip(m.level, m.level === 'full' ? 'ok' : 'pending'), ' ', el('span', { class: 'muted', text: '(' + m.source + ')' })),
        el('dt', { text: 'automation rate' }), el('dd', { text: R.pct(m.automation_rate) + ' of ' + m.answered + ' answered' }),
        el('dt', { text: 'queue' }), el('dd', { text: m.queue_length + ' waiting' + (m.disputed ? ', ' + m.disputed + ' disputed' : '') }),
        el('dt', { text: 'wait (p50 / p90)' }), el('dd', { text: R.num(w.p50) + ' s / ' + R.num(w.p90) + ' s' }),
        el('dt', { text: 'accuracy automated' }), el('dd', { text: rate(m.accuracy && m.accuracy.automated) }),
        el('dt', { text: 'model on reviewed' }), el('dd', { text: rate(m.accuracy && m.accuracy.model_on_reviewed) })),
      el('p', {}, el('a', { href: '/review/' + name, text: 'Open the review page →' })),
      items.items.length ? R.table(['waiting', 'reason', 'status', 'confidence', 'suggestion', 'labels'], items.items.map((i) => [
        R.num(i.age_s) + ' s', i.reason, R.chip(i.status, i.status === 'disputed' ? 'warning' : null), R.num(i.confidence),
        i.suggestion && i.suggestion.prediction !== undefined ? String(i.suggestion.prediction) : '–',
        i.n_labels + ' / ' + i.reviewers_needed])) : el('p', { class: 'muted', text: 'Nothing waiting.' }));
  }

  // -- retraining runs (admin API) -----------------------------------------------------
  // Everyone who may read the charts sees the runs; starting one needs the admin token
  // (the button says so instead of the panel vanishing).
  async function startRetrain(model, out) {
    out.className = 'result';
    out.textContent = 'starting…';
    try {
      const d = await R.api('/v1/models/' + encodeURIComponent(model) + '/retrain', { method: 'POST',
        json: { reason: 'from the dashboard' }, headers: { 'x-rampup-actor': 'dashboard' } });
      out.textContent = d.message;
    } catch (err) {
      out.className = 'result error';
      out.textContent = 'could not start: ' + err.message;
    }
  }

  async function retrain(model) {
    const d = await R.api('/v1/models/' + encodeURIComponent(model) + '/retrain/runs?limit=10');
    const body = panel('retrain', 'Retraining runs', 'Retraining');
    body.dataset.runs = String(d.runs.length);
    const has = !!R.token();
    let bar = body.parentNode.querySelector('.retrain-actions');
    if (!bar) {
      const out = el('div', { class: 'result', id: 'retrain-result' });
      const button = el('button', { id: 'retrain-start', onclick: () => startRetrain(model, out) }, 'Retrain now');
      bar = el('div', { class: 'retrain-actions' }, el('div', { class: 'actions' }, button),
        el('p', { class: 'admin-hint muted', id: 'retrain-hint', text: 'Use the admin token (top right) to start a run.' }), out);
      body.parentNode.insertBefore(bar, body);
    }
    bar.querySelector('#retrain-start').disabled = !has;
    bar.querySelector('#retrain-hint').hidden = has;
    R.replace(body, d.runs.length ? R.table(['run', 'started', 'trigger', 'state', 'champion → candidate', 'verdict', 'why'], d.runs.map((r) => [
      '#' + r.id, R.time(r.created_at), r.trigger, R.chip(r.state, r.state === 'failed' ? 'fail' : null),
      (r.champion || '–') + ' → ' + (r.candidate || '–'), r.verdict ? R.chip(r.verdict, r.verdict === 'passed' || r.verdict === 'pass' ? 'pass' : 'fail') : '–',
      r.error || (Array.isArray(r.reasons) ? r.reasons.join('; ') : r.reason || '')]))
      : el('p', { class: 'muted', text: 'No runs yet. Start one: rampup retrain ' + model }));
  }

  // Called by model.js after each refresh; a panel whose API is missing or refuses stays hidden.
  window.RampupExtras = async function (model, deployment) {
    const jobs = [review(model), retrain(model)];
    if (deployment && deployment.pipeline) jobs.push(pipeline(model, deployment.pipeline));
    const results = await Promise.allSettled(jobs);
    for (const r of results) if (r.status === 'rejected' && r.reason && r.reason.status >= 500) throw r.reason;
  };
})();
