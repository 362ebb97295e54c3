/* The overview: one card per model. */
(function () {
  'use strict';
  const R = window.Rampup;
  const el = R.el;
  const HEALTH = { ok: 'healthy', warning: 'degraded', critical: 'SLO breached', no_data: 'no traffic' };
  const DRIFT = { ok: 'no drift', warning: 'watch', drift: 'drifting', no_data: 'no data' };

  const RANGE = { '15m': 'last 15 minutes', '1h': 'last hour', '6h': 'last 6 hours', '24h': 'last 24 hours', '7d': 'last 7 days' };

  function split(m) {
    const policy = m.policy;
    if (m.pipeline) {
      return el('div', { class: 'pipeline-stages', dataset: { stages: String(m.pipeline.length) } },
        el('span', { class: 'muted', text: 'pipeline: ' }), m.pipeline.join(' → '));
    }
    if (!policy) return el('span', { class: 'muted', text: 'not deployed' });
    const colors = R.colors();
    const bar = el('div', { class: 'split' }, Object.entries(policy.routes).map(([v, w], i) =>
      el('div', { style: { width: w + '%', background: colors[i % colors.length] }, title: v + ': ' + w + '%',
        text: w >= 12 ? v + ' ' + w + '%' : '' })));
    const extras = [];
    for (const [v, w] of Object.entries(policy.mirrors || {})) extras.push(R.chip('shadow ' + v + ' ' + w + '%'));
    if (policy.standby) extras.push(R.chip('standby ' + policy.standby));
    return el('div', {}, bar, extras.length ? el('div', { class: 'chips' }, extras) : null);
  }

  // Its own traffic, then what it serves as a stage of pipelines (a stage model may have
  // no traffic of its own at all).
  function traffic(m) {
    const own = m.values || {};
    const parts = [el('span', { text: R.num(own.throughput) + ' req/s' })];
    for (const s of m.stages || []) {
      parts.push(el('div', { class: 'as-stage', dataset: { pipeline: s.pipeline, stage: s.stage } },
        R.num(s.values.throughput) + ' req/s as stage ', el('code', { text: s.stage }), ' of ',
        el('a', { href: '/dashboard/models/' + encodeURIComponent(s.pipeline), text: s.pipeline })));
    }
    return parts;
  }

  function card(m) {
    const href = '/dashboard/models/' + encodeURIComponent(m.name);
    const v = m.values || {};
    const rollout = m.rollout
      ? R.chip(m.rollout.strategy + ' ' + m.rollout.candidate + ' · ' + m.rollout.state, m.rollout.state === 'paused' ? 'warning' : 'ok')
      : el('span', { class: 'muted', text: 'none active' });
    const alarms = m.alerts.firing
      ? R.chip(m.alerts.firing + ' firing', 'firing')
      : m.alerts.pending ? R.chip(m.alerts.pending + ' pending', 'pending')
        : el('span', { class: 'muted', text: m.alerts.rules ? 'none of ' + m.alerts.rules + ' rules' : 'no rules' });
    const drift = m.drift.level === 'no_data'
      ? R.chip(DRIFT.no_data, 'no_data')
      : R.chip(DRIFT[m.drift.level] + (m.drift.feature ? ' · ' + m.drift.feature + ' ' + R.num(m.drift.distance, 2) : ''), m.drift.level);
    const box = el('article', { class: 'card', dataset: { model: m.name, health: m.health } },
      el('h2', {}, el('span', { class: 'dot lvl-' + m.health, title: HEALTH[m.health] }),
        el('a', { href, text: m.name }), R.chip(HEALTH[m.health], m.health)),
      m.description ? el('div', { class: 'muted', text: m.description }) : null,
      split(m),
      el('dl', { class: 'kv' },
        el('dt', { text: 'traffic' }), el('dd', { class: 'traffic' }, traffic(m)),
        el('dt', { text: 'server errors' }), el('dd', { class: 'server-errors', text: R.pct(v.server_error_rate) }),
        el('dt', { text: 'client errors' }), el('dd', { class: 'client-errors', title: 'requests refused with 4xx (bad input, unknown version, missing token): the callers\' errors, not the model\'s',
          text: R.pct(v.client_error_rate) }),
        el('dt', { text: 'latency p99' }), el('dd', { text: R.num(v.latency_p99) + ' ms' +
          (m.slo && m.slo.latency_p99_ms ? ' (SLO ' + m.slo.latency_p99_ms + ' ms)' : '') }),
        el('dt', { text: 'rollout' }), el('dd', {}, rollout),
        el('dt', { text: 'automation' }), el('dd', { text: m.automation || 'full (model answers)' }),
        el('dt', { text: 'alarms' }), el('dd', {}, alarms),
        el('dt', { text: 'drift' }), el('dd', {}, drift)),
      el('div', { class: 'spark' }));
    return box;
  }

  async function refresh() {
    const range = R.range();
    const data = await R.api('/dashboard/api/overview?range=' + encodeURIComponent(range));
    const root = document.getElementById('models');
    root.dataset.count = String(data.models.length);
    if (!data.models.length) {
      R.replace(root, el('p', { class: 'muted', text: 'No models yet. Register one: rampup register NAME PATH' }));
      return;
    }
    const old = new Map([...root.querySelectorAll('.card')].map((c) => [c.dataset.model, c]));
    const cards = data.models.map((m) => {
      const c = card(m);
      const prev = old.get(m.name);
      const spark = prev ? prev.querySelector('.spark') : c.querySelector('.spark');
      c.replaceChild(spark, c.querySelector('.spark'));
      return [c, spark, m];
    });
    R.replace(root, cards.map(([c]) => c));
    for (const [, spark, m] of cards) {
      const series = {};
      for (const [k, v] of Object.entries(m.spark.series)) series[k === 'own' ? m.name : k] = v;
      spark.dataset.range = data.range;
      R.chart(spark, 'spark-' + m.name, { title: 'requests/s, ' + (RANGE[data.range] || data.range), t: m.spark.t,
        series, unit: 'req/s', height: 90, legend: Object.keys(series).length > 1, slo: m.slo && m.slo.expected_qps });
    }
  }

  R.poll(refresh);
})();
