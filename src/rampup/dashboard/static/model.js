/* A model's page: deployment, metrics over time, drift, alarms, explorer. */
(function () {
  'use strict';
  const R = window.Rampup;
  const el = R.el;
  const model = document.body.dataset.model;
  const base = '/dashboard/api/models/' + encodeURIComponent(model);
  const admin = '/v1/admin/models/' + encodeURIComponent(model);
  const $ = (id) => document.getElementById(id);
  const SOFTWARE = [
    ['throughput', 'Throughput', 'req/s', (s) => s.expected_qps],
    ['server_error_rate', 'Server errors (5xx)', '%', (s) => s.max_error_rate],
    ['client_error_rate', 'Client errors (4xx: refused input)', '%', () => null],
    ['latency_p50', 'Latency p50', 'ms', (s) => s.latency_p50_ms],
    ['latency_p95', 'Latency p95', 'ms', () => null],
    ['latency_p99', 'Latency p99', 'ms', (s) => s.latency_p99_ms],
    ['in_flight', 'In flight', '', () => null],
    ['model_cpu_ms', 'Model CPU per call', 'ms', () => null],
    ['invalid_input_rate', 'Invalid input rate', '%', () => null],
  ];
  let last = null;  // the latest metrics payload
  let lastDeployment = null;
  let selected = null;  // heat-map cell {feature, i}

  const safeId = (s) => String(s).replace(/[^A-Za-z0-9_-]/g, (c) => '_' + c.charCodeAt(0).toString(16));
  const chart = (parent, id, spec) => R.chart($(parent), id, Object.assign({ t: last.t }, spec));

  // -- metrics over time ---------------------------------------------------------------
  function drawMetrics(d) {
    for (const [m, title, unit, slo] of SOFTWARE) {
      chart('software-charts', 'chart-' + m, { title: title + ' · per version and role', series: d.software[m] || {},
        unit: unit === '%' ? '' : unit, pct: unit === '%', slo: slo(d.slo) });
    }
    // process levels belong to a serving process (whatever versions it serves): per replica
    for (const [m, title, unit] of [['cpu_percent', 'CPU', '%cpu'], ['memory_rss_mb', 'Memory (RSS)', 'MB']]) {
      chart('software-charts', 'chart-' + m, { title: title + ' · per process (replica)',
        series: (d.processes || {})[m] || {}, unit: unit });
    }
    for (const [name, f] of Object.entries(d.inputs.features)) {
      chart('input-charts', 'chart-missing-' + safeId(name), { title: name + ' · missing fraction',
        series: { [name]: f.missing_fraction }, pct: true, ref: f.reference_missing });
      chart('input-charts', 'chart-stat-' + safeId(name), { title: name + ' · ' + f.stat.replace('_', ' '),
        series: { [name]: f.values }, pct: f.stat === 'unseen_fraction', zero: f.stat !== 'mean',
        ref: f.stat === 'mean' ? f.reference_mean : null });
    }
    for (const [name, s] of Object.entries(d.inputs.custom)) {
      chart('input-charts', 'chart-custom-' + safeId(name), { title: 'user metric ' + name + ' · mean', series: { [name]: s } });
    }
    chart('input-charts', 'chart-input-length', { title: 'input length (records per request)',
      series: { all: d.inputs.input_length_mean } });
    const o = d.outputs;
    chart('output-charts', 'chart-class-share', { title: 'Class mix', series: o.class_share, pct: true });
    chart('output-charts', 'chart-confidence', { title: 'Confidence (mean) · per version and role', series: o.confidence_mean });
    chart('output-charts', 'chart-null', { title: 'Null outputs', series: o.null_fraction, pct: true });
    chart('output-charts', 'chart-output-mean', { title: 'Output mean (regression)', series: o.output_mean,
      empty: 'no numeric outputs' });
    chart('output-charts', 'chart-repeats', { title: 'Repeated queries', series: { all: o.repeated_query_rate }, pct: true });
    chart('output-charts', 'chart-events', { title: 'User events (per prediction)', series: o.events, pct: true,
      empty: 'no user events yet (POST /v1/models/{name}/feedback with events)' });
    const p = d.performance;
    chart('performance-charts', 'chart-accuracy', { title: 'Accuracy', series: p.accuracy, pct: true,
      empty: 'no labels yet' });
    chart('performance-charts', 'chart-f1', { title: 'F1 (macro)', series: p.f1_macro, empty: 'no labels yet' });
    chart('performance-charts', 'chart-label-rate', { title: 'Labelled share', series: p.label_rate, pct: true });
    chart('performance-charts', 'chart-mae', { title: 'MAE (regression)', series: p.mae, empty: 'no numeric labels' });
  }

  // -- drift heat map ------------------------------------------------------------------
  function color(v) {
    if (v === null || v === undefined) return null;
    const x = Math.min(1, v / (last.drift.alert * 1.5));
    return 'hsl(' + Math.round(140 - 140 * x) + ' 65% ' + (50 + 5 * (1 - x)) + '%)';
  }

  function drawDrift(d) {
    const h = d.drift;
    $('drift-note').textContent = 'Jensen–Shannon distance (less its sampling noise) of each feature (rows) against ' +
      (h.reference_version ? h.reference_version + "'s reference profile" : 'the reference') +
      ' per ' + Math.round(h.step / 60) + ' min (columns), primary version\'s answers. ≥ ' + h.warn +
      ': worth a look, ≥ ' + h.alert + ': drifting. Click a cell for the histograms.';
    const root = $('heatmap');
    root.dataset.features = String(h.features.length);
    if (!h.features.length) {
      R.replace(root, el('p', { class: 'muted', text: 'No reference profile: register the version with --reference to see drift.' }));
      return;
    }
    root.style.gridTemplateColumns = 'minmax(80px, auto) repeat(' + h.t.length + ', minmax(10px, 1fr))';
    const cells = [];
    h.features.forEach((f, r) => {
      cells.push(el('div', { class: 'name', text: f, title: f }));
      h.cells[r].forEach((v, i) => {
        const isSel = selected && selected.feature === f && selected.i === i;
        cells.push(el('button', { class: 'cell' + (v === null ? ' empty' : '') + (isSel ? ' selected' : ''),
          style: v === null ? {} : { background: color(v) }, dataset: { feature: f, i: String(i) },
          title: f + ' · ' + new Date(h.t[i] * 1000).toLocaleString() + ' · ' + (v === null ? 'too little data' : 'JS ' + v.toFixed(3)),
          'aria-label': f + ' ' + (v === null ? 'no data' : v.toFixed(3)),
          onclick: () => { selected = { feature: f, i }; drawDrift(last); histogram(f, h.t[i], h.t[i] + h.step); } }));
      });
    });
    cells.push(el('div', {}));
    h.t.forEach((t, i) => cells.push(el('div', { class: 'axis', text: i % Math.ceil(h.t.length / 6) === 0
      ? new Date(t * 1000).toLocaleTimeString([], { hour: '2-digit', minute: '2-digit' }) : '' })));
    R.replace(root, cells);
    R.replace($('drift-legend'), el('div', { class: 'legend-scale' }, el('span', { text: '0' }), el('span', { class: 'bar' }),
      el('span', { text: R.num(h.alert * 1.5) + '+' }),
      R.chip('latest: ' + ({ ok: 'no drift', warning: 'worth a look', drift: 'drifting', no_data: 'no data' })[h.level] +
        (h.feature ? ' (' + h.feature + ' ' + R.num(h.distance, 3) + ')' : ''), h.level)));
    drawUnseen(h);
  }

  // Values the reference never had: their share per cell, as a row of coloured cells.
  function drawUnseen(h) {
    const root = $('drift-unseen');
    const feats = Object.keys(h.unseen || {});
    root.dataset.features = String(feats.length);
    if (!feats.length) { R.replace(root); return; }
    const rows = feats.map((f) => {
      const shares = h.unseen[f];
      const latest = shares.filter((v) => v !== null).slice(-1)[0];
      return el('div', { class: 'hist-row' },
        el('span', { class: 'label', text: f, title: f }),
        el('div', { class: 'unseen-cells' }, shares.map((v, i) => el('span', {
          class: 'cell' + (v === null ? ' empty' : ''),
          style: v === null ? {} : { background: 'hsl(0 70% ' + Math.round(95 - 45 * Math.min(1, v / 0.05)) + '%)' },
          title: f + ' · ' + new Date(h.t[i] * 1000).toLocaleString() + ' · ' + (v === null ? 'no data' : R.pct(v) + ' unseen') }))),
        el('span', { class: 'num', text: latest === undefined ? '-' : R.pct(latest) }));
    });
    R.replace(root, el('h3', { text: 'Values the reference never had (share of rows per cell; alert on drift.feature[NAME].unseen_share)' }), ...rows);
  }

  async function histogram(feature, since, until) {
    const box = $('histogram');
    const q = '?since=epoch:' + since + '&until=epoch:' + until;
    const d = await R.api(base + '/drift/' + encodeURIComponent(feature) + q);
    const max = Math.max(1e-9, ...d.reference, ...d.current);
    const rows = d.labels.map((label, i) => el('div', { class: 'hist-row' },
      el('span', { class: 'label', text: label, title: label }),
      el('div', { class: 'hist-bars' },
        el('div', { class: 'ref', style: { width: (100 * (d.reference[i] || 0) / max) + '%' }, title: 'reference ' + R.pct(d.reference[i]) }),
        el('div', { class: 'cur', style: { width: (100 * (d.current[i] || 0) / max) + '%' }, title: 'window ' + R.pct(d.current[i]) })),
      el('span', { class: 'num', text: R.pct(d.current[i]) })));
    R.replace(box, el('h3', { text: feature + ' · ' + R.time(since) + ' – ' + new Date(until * 1000).toLocaleTimeString() }),
      el('p', { class: 'muted', text: 'grey: reference (' + d.version + '), colour: live window · ' + d.current_count +
        ' values · missing ' + R.pct(d.current_missing) + ' (reference ' + R.pct(d.reference_missing) + ') · JS distance ' + R.num(d.distance, 3) }),
      el('div', { id: 'histogram-rows', dataset: { bins: String(d.labels.length) } }, rows));
  }

  // -- deployment ----------------------------------------------------------------------
  function drawSplit(d) {
    const root = $('split');
    root.dataset.deployment = String(d.deployment_id || '');
    root.dataset.primary = d.policy ? Object.entries(d.policy.routes).sort((a, b) => b[1] - a[1])[0][0] : '';
    if (!d.policy) { R.replace(root, el('p', { class: 'muted', text: 'not deployed' })); return; }
    const colors = R.colors();
    const routes = Object.entries(d.policy.routes);
    R.replace(root,
      el('div', { class: 'split' }, routes.map(([v, w], i) => el('div', {
        style: { width: w + '%', background: colors[i % colors.length] }, text: w >= 10 ? v + ' ' + w + '%' : '', title: v + ' ' + w + '%' }))),
      el('dl', { class: 'kv' },
        routes.map(([v, w]) => [el('dt', { text: v }), el('dd', { text: w + '% of answers' })]).flat(),
        Object.entries(d.policy.mirrors || {}).map(([v, w]) => [el('dt', { text: v }), el('dd', { text: 'shadow of ' + w + '% of requests' })]).flat(),
        d.policy.standby ? [el('dt', { text: d.policy.standby }), el('dd', { text: 'warm standby' })] : [],
        el('dt', { text: 'automation' }), el('dd', { text: d.automation || 'full (model answers)' }),
        el('dt', { text: 'deployment' }), el('dd', { text: '#' + d.deployment_id })));
  }

  function drawRollout(d) {
    const r = d.rollout;
    const root = $('rollout');
    root.dataset.state = r ? r.state : '';
    if (!r) { R.replace(root, el('p', { class: 'muted', text: 'No rollout yet. Start one: rampup deploy ' + model + ' VERSION' })); return; }
    const steps = r.steps.map((s, i) => el('span', { class: 'step' + (i < r.step || r.state === 'promoted' ? ' done' : '') +
      (i === r.step && r.state !== 'promoted' ? ' current' : ''), text: s }));
    R.replace(root,
      el('div', {}, R.chip(r.state, { promoted: 'ok', rolled_back: 'fail', aborted: 'fail', paused: 'warning' }[r.state] || 'pending'),
        ' ', el('strong', { text: r.candidate }), ' against ', el('strong', { text: r.baseline }),
        el('span', { class: 'muted', text: ' · ' + r.strategy + ' · started ' + R.ago(r.created_at) })),
      el('div', { class: 'steps' }, steps),
      el('div', { class: 'muted', text: r.reason || '' }));
  }

  function checkValues(results) {
    const list = Array.isArray(results) ? results : (results && results.checks) || [];
    return el('div', {}, list.map((c) => el('div', {},
      R.chip(c.verdict || '', c.verdict), ' ', el('code', { text: c.check || c.text || c.metric || '' }), ' ',
      el('span', { class: 'muted', text: (c.value !== undefined ? 'value ' + R.num(c.value) : '') +
        (c.baseline_value !== undefined && c.baseline_value !== null ? ' · baseline ' + R.num(c.baseline_value) : '') +
        (c.n ? ' · n ' + c.n : '') +
        (c.threshold !== undefined && c.threshold !== null ? ' · threshold ' + R.num(c.threshold) : '') }))));
  }

  function drawChecks(d) {
    const root = $('checks');
    root.dataset.count = String(d.checks.length);
    if (!d.checks.length) { R.replace(root, el('p', { class: 'muted', text: 'No check results yet.' })); return; }
    R.replace(root, R.table(['time', 'step', 'verdict', 'decision', 'checks', 'reason'], d.checks.map((c) => [
      R.time(c.ts), String(c.step), R.chip(c.verdict, c.verdict), c.decision, checkValues(c.results), c.reason])));
  }

  function drawTimeline(d) {
    const items = d.history.map((h) => ({ ts: h.created_at, what: 'deployment #' + h.id,
      detail: Object.entries(h.policy.routes || {}).map(([v, w]) => v + ' ' + w + '%').join(', ') +
        (Object.keys(h.policy.mirrors || {}).length ? ' · shadow ' + Object.keys(h.policy.mirrors).join(', ') : ''),
      actor: h.actor, reason: h.reason }));
    for (const r of d.rollouts) {
      items.push({ ts: r.created_at, what: 'rollout #' + r.id + ' ' + r.strategy, detail: r.candidate + ' vs ' + r.baseline + ' → ' + r.state,
        actor: r.actor, reason: r.reason });
    }
    items.sort((a, b) => b.ts - a.ts);
    R.replace($('timeline'), R.table(['time', 'what', 'detail', 'by', 'reason'],
      items.map((i) => [R.time(i.ts), i.what, i.detail, i.actor, i.reason])));
  }

  function drawAdmin(d) {
    const has = !!R.token();
    const state = d.rollout ? d.rollout.state : null;
    const active = state && !['promoted', 'rolled_back', 'aborted'].includes(state);
    const can = { pause: active && state !== 'paused', resume: state === 'paused', promote: active,
      rollback: d.history.length > 1 };
    for (const b of document.querySelectorAll('#admin-actions button')) b.disabled = !has || !can[b.dataset.action];
    $('admin-hint').hidden = has;
  }

  async function act(action) {
    const out = $('action-result');
    const path = action === 'pause' || action === 'resume' ? admin + '/rollout/' + action : admin + '/' + action;
    out.className = 'result';
    out.textContent = action + '…';
    try {
      await R.api(path, { method: 'POST', json: { reason: 'from the dashboard' }, headers: { 'x-rampup-actor': 'dashboard' } });
      out.textContent = action + ' done';
    } catch (err) {
      out.className = 'result error';
      out.textContent = action + ' failed: ' + err.message;
    }
    await refreshDeployment();
  }
  for (const b of document.querySelectorAll('#admin-actions button')) b.addEventListener('click', () => act(b.dataset.action));

  async function refreshDeployment() {
    const d = await R.api(base + '/deployment');
    lastDeployment = d;
    drawSplit(d); drawRollout(d); drawChecks(d); drawTimeline(d); drawAdmin(d);
  }

  // -- alarms --------------------------------------------------------------------------
  function metricLink(metric) {
    // drift.* and concept.* come from the drift checks, not from windows: their panels
    if (metric.startsWith('drift.')) return el('a', { href: '#drift', text: metric });
    if (metric.startsWith('concept.')) return el('a', { href: '#performance', text: metric });
    return el('a', { href: '#explore', text: metric, onclick: () => explore(metric).catch((e) => R.banner(e.message)) });
  }

  async function refreshAlarms() {
    const d = await R.api(base + '/alerts');
    const rules = $('alarm-rules');
    rules.dataset.firing = String(d.counts.firing || 0);
    R.replace(rules, d.rules.length ? R.table(['state', 'rule', 'condition', 'value', 'since', 'severity'], d.rules.map((r) => [
      R.chip(r.state, r.state), r.name + (r.scope ? ' (' + r.scope + ')' : ''),
      el('span', {}, metricLink(r.metric), ' ' + r.condition.slice(r.metric.length)), R.num(r.value), R.ago(r.since), r.severity]))
      : el('p', { class: 'muted', text: 'No alert rules. Add some in rampup.yaml or with rampup alerts add.' }));
    const hist = $('alarm-history');
    R.replace(hist, d.history.length ? R.table(['time', 'rule', 'event', 'value', 'message'], d.history.map((h) => [
      R.time(h.ts), h.rule, R.chip(h.kind === 'state' ? h.state || 'state' : h.kind, h.kind === 'state' ? h.state : null),
      R.num(h.value), h.message || '']))
      : el('p', { class: 'muted', text: 'Nothing yet.' }));
  }

  // -- explorer (any metric; alarms link here) -------------------------------------------
  let explored = null;
  async function explore(metric) {
    if (metric) { explored = metric; $('explore-metric').value = metric; }
    if (!explored) return;
    const steps = { '15m': '1m', '1h': '1m', '6h': '5m', '24h': '10m', '7d': '1h' };
    const q = new URLSearchParams({ metric: explored, since: '-' + R.range(), step: steps[R.range()] });
    const d = await R.api('/v1/models/' + encodeURIComponent(model) + '/metrics?' + q);
    const s = d.series[explored] || [];
    const box = R.chart($('explore-chart'), 'chart-explore', { title: explored, t: s.map((p) => p[0]),
      series: { [explored]: s.map((p) => p[1]) } });
    if (metric) { box.classList.add('flash'); setTimeout(() => box.classList.remove('flash'), 1500); }
  }
  $('explore-form').addEventListener('submit', (e) => { e.preventDefault(); explore($('explore-metric').value.trim()).catch((err) => R.banner(err.message)); });

  async function catalogue() {
    const d = await R.api('/v1/models/' + encodeURIComponent(model) + '/metrics/catalogue');
    R.replace($('metric-names'), d.metrics.map((m) => el('option', { value: m })));
  }

  // -- polling -------------------------------------------------------------------------
  let catalogued = false;
  async function refresh() {
    const d = await R.api(base + '/metrics?range=' + encodeURIComponent(R.range()));
    last = d;
    document.body.dataset.points = String(d.points);
    document.body.dataset.range = d.range;
    drawMetrics(d);
    drawDrift(d);
    await Promise.all([refreshDeployment(), refreshAlarms(), explore()]);
    if (!catalogued) { catalogued = true; catalogue().catch(() => { catalogued = false; }); }
    if (window.RampupExtras) await window.RampupExtras(model, lastDeployment);
    if (window.RampupMedia) await window.RampupMedia(model, lastDeployment);
  }
  R.poll(refresh);
})();
