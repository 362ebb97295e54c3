/* rampup dashboard: shared helpers. Plain JS, no build step.
 * Untrusted text (model names, feature values, reasons...) only ever reaches the page
 * through textContent / setAttribute, never innerHTML. */
(function () {
  'use strict';
  const R = (window.Rampup = {});
  const TOKEN_KEY = 'rampup.token';
  const RANGE_KEY = 'rampup.range';
  R.POLL_MS = 5000;

  // -- DOM -----------------------------------------------------------------------------
  R.el = function (tag, attrs, ...children) {
    const node = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) {
      if (v === null || v === undefined || v === false) continue;
      if (k === 'text') node.textContent = String(v);
      else if (k === 'class') node.className = v;
      else if (k === 'dataset') Object.assign(node.dataset, v);
      else if (k === 'style') Object.assign(node.style, v);
      else if (k.startsWith('on')) node.addEventListener(k.slice(2), v);
      else node.setAttribute(k, v === true ? '' : String(v));
    }
    for (const c of children.flat()) {
      if (c === null || c === undefined || c === false) continue;
      node.appendChild(c instanceof Node ? c : document.createTextNode(String(c)));
    }
    return node;
  };
  R.replace = function (node, ...children) {
    node.replaceChildren(...children.flat().filter((c) => c !== null && c !== undefined));
  };
  R.table = function (headers, rows) {
    return R.el('table', {},
      R.el('thead', {}, R.el('tr', {}, headers.map((h) => R.el('th', { text: h })))),
      R.el('tbody', {}, rows.map((cells) => R.el('tr', {}, cells.map((c) =>
        c instanceof Node && c.tagName === 'TD' ? c : R.el('td', {}, c))))));
  };
  R.chip = function (text, level) {
    return R.el('span', { class: 'chip' + (level ? ' lvl-' + level : ''), text });
  };

  // -- formatting ----------------------------------------------------------------------
  R.num = function (v, digits) {
    if (v === null || v === undefined || Number.isNaN(v)) return '–';
    const a = Math.abs(v);
    if (digits !== undefined) return v.toFixed(digits);
    if (a !== 0 && (a < 0.01 || a >= 1e6)) return v.toExponential(2);
    return a >= 100 ? v.toFixed(0) : a >= 10 ? v.toFixed(1) : v.toFixed(3).replace(/\.?0+$/, '');
  };
  R.pct = (v) => (v === null || v === undefined ? '–' : (100 * v).toFixed(v < 0.1 ? 2 : 1) + '%');
  R.time = (t) => (t ? new Date(t * 1000).toLocaleString() : '–');
  R.ago = function (t) {
    if (!t) return '–';
    const s = Math.max(0, Date.now() / 1000 - t);
    if (s < 90) return Math.round(s) + ' s ago';
    if (s < 5400) return Math.round(s / 60) + ' min ago';
    if (s < 129600) return Math.round(s / 3600) + ' h ago';
    return Math.round(s / 86400) + ' d ago';
  };

  // -- token, range, API ---------------------------------------------------------------
  R.token = () => sessionStorage.getItem(TOKEN_KEY) || '';
  R.range = () => document.getElementById('range').value;
  R.api = async function (path, options) {
    const opts = Object.assign({ method: 'GET' }, options || {});
    const headers = Object.assign({ accept: 'application/json' }, opts.headers || {});
    const token = R.token();
    if (token) headers.authorization = 'Bearer ' + token;
    if (opts.json !== undefined) {
      headers['content-type'] = 'application/json';
      opts.body = JSON.stringify(opts.json);
    }
    const resp = await fetch(path, { method: opts.method, headers, body: opts.body });
    let body = null;
    try { body = await resp.json(); } catch (e) { body = null; }
    if (!resp.ok) {
      const msg = body && body.message ? body.message : resp.status + ' ' + resp.statusText;
      const fix = body && body.fix ? ' (' + body.fix + ')' : '';
      const err = new Error(msg + fix);
      err.status = resp.status;
      throw err;
    }
    return body;
  };
  // Background workers that are down (died and restarting, or stalled): shown on every
  // page, because a dead log writer or monitor makes every chart here quietly wrong.
  R.workers = async function () {
    const box = document.getElementById('workers');
    let data;
    try { data = await R.api('/dashboard/api/workers'); } catch (e) { return; }
    const down = Object.entries(data.down || {});
    box.hidden = down.length === 0;
    box.dataset.down = down.map(([name]) => name).join(' ');
    R.replace(box, down.length ? [
      R.el('strong', { text: down.length === 1 ? 'A background worker is down' : down.length + ' background workers are down' }),
      R.el('ul', {}, down.map(([name, why]) => R.el('li', { dataset: { worker: name } },
        R.el('code', { text: name }), ' ' + why + ' · restarts ' + data.workers[name].restarts))),
      R.el('span', { class: 'muted', text: 'The server keeps answering; see /readyz, the worker metrics and rampup log dead-letters.' }),
    ] : []);
  };
  R.banner = function (message) {
    const b = document.getElementById('banner');
    b.hidden = !message;
    b.textContent = message || '';
  };

  const listeners = [];
  R.onChange = (fn) => listeners.push(fn);  // token or range changed: redraw now
  const changed = () => listeners.forEach((fn) => fn());

  function setupControls() {
    const range = document.getElementById('range');
    const saved = sessionStorage.getItem(RANGE_KEY);
    if (saved && [...range.options].some((o) => o.value === saved)) range.value = saved;
    range.addEventListener('change', () => { sessionStorage.setItem(RANGE_KEY, range.value); changed(); });
    const form = document.getElementById('token-form');
    const input = document.getElementById('token');
    const clear = document.getElementById('token-clear');
    const show = () => {
      const has = !!R.token();
      input.hidden = has; document.getElementById('token-save').hidden = has; clear.hidden = !has;
      document.body.classList.toggle('admin', has);
    };
    form.addEventListener('submit', (e) => {
      e.preventDefault();
      if (input.value) sessionStorage.setItem(TOKEN_KEY, input.value);
      input.value = '';
      show(); changed();
    });
    clear.addEventListener('click', () => { sessionStorage.removeItem(TOKEN_KEY); show(); changed(); });
    show();
  }

  // Run ``fn`` now and every POLL_MS; a failure marks the page stale and shows why.
  R.poll = function (fn) {
    const live = document.getElementById('live');
    let timer = null;
    let running = false;
    async function tick() {
      clearTimeout(timer);
      if (!running) {
        running = true;
        try {
          await fn();
          await R.workers();
          live.classList.remove('stale');
          live.textContent = 'live · ' + new Date().toLocaleTimeString();
          R.banner('');
        } catch (err) {
          live.classList.add('stale');
          live.textContent = 'stale';
          R.banner(err.status === 401 || err.status === 403
            ? 'This server needs a token to read data: ' + err.message
            : 'Could not refresh: ' + err.message);
        } finally {
          running = false;
        }
      }
      timer = setTimeout(tick, R.POLL_MS);
    }
    R.onChange(tick);
    tick();
    return tick;
  };

  // -- charts (uPlot) ------------------------------------------------------------------
  const css = (name) => getComputedStyle(document.documentElement).getPropertyValue(name).trim();
  R.colors = () => ['--c1', '--c2', '--c3', '--c4', '--c5', '--c6'].map(css);
  const charts = new Map();

  function countPoints(data) {
    let n = 0;
    for (let i = 1; i < data.length; i++) for (const v of data[i]) if (v !== null && v !== undefined) n++;
    return n;
  }

  function hline(value, color, dash) {
    return (u) => {
      if (value === null || value === undefined) return;
      const y = u.valToPos(value, 'y', true);
      if (!Number.isFinite(y) || y < u.bbox.top || y > u.bbox.top + u.bbox.height) return;
      const ctx = u.ctx;
      ctx.save();
      ctx.strokeStyle = color; ctx.lineWidth = 1.5 * devicePixelRatio;
      ctx.setLineDash(dash.map((d) => d * devicePixelRatio));
      ctx.beginPath(); ctx.moveTo(u.bbox.left, y); ctx.lineTo(u.bbox.left + u.bbox.width, y);
      ctx.stroke(); ctx.restore();
    };
  }

  /* Draw or update a line chart inside ``parent`` (created on first use, keyed by ``id``).
   * spec: {title, t: [epoch s], series: {label: [values]}, unit, fmt, slo, ref, pct}.
   * The wrapper carries data-points (non-null values) and data-series for tests. */
  R.chart = function (parent, id, spec) {
    let box = document.getElementById(id);
    if (!box) {
      box = R.el('div', { class: 'chart', id, dataset: { points: '0', series: '0' } },
        R.el('div', { class: 'chart-title', text: spec.title }), R.el('div', { class: 'plot' }));
      parent.appendChild(box);
      observe(box.querySelector('.plot'), id);
    }
    box.querySelector('.chart-title').textContent = spec.title;  // the range may change it
    const labels = Object.keys(spec.series || {});
    const data = [spec.t, ...labels.map((l) => spec.series[l])];
    const points = countPoints(data);
    box.dataset.points = String(points);
    box.dataset.series = String(labels.length);
    const plot = box.querySelector('.plot');
    const sparse = labels.map((l) => (spec.series[l] || []).filter((v) => v !== null && v !== undefined).length < 3);
    const key = labels.join('\u0000') + '|' + spec.slo + '|' + spec.ref + '|' + sparse.join(',');
    let entry = charts.get(id);
    if (!labels.length || !points) {
      if (entry) { entry.u.destroy(); charts.delete(id); }
      R.replace(plot, R.el('div', { class: 'chart-empty', text: spec.empty || 'no data in this range' }));
      return box;
    }
    if (entry && entry.key === key && entry.u.root.isConnected) {
      entry.u.setData(data);
      return box;
    }
    if (entry) entry.u.destroy();
    plot.replaceChildren();
    const colors = R.colors();
    const fmt = spec.pct ? R.pct : (v) => R.num(v) + (spec.unit ? ' ' + spec.unit : '');
    const grid = { stroke: css('--line'), width: 1 };
    const axis = { stroke: css('--muted'), grid, ticks: grid };
    const width = plot.clientWidth || parent.clientWidth || 320;
    const u = new uPlot({
      width, height: spec.height || 180,
      cursor: { drag: { x: false, y: false } },
      legend: { show: spec.legend !== false },
      scales: { x: { time: true }, y: { range: (self, lo, hi) => {
        const extra = [spec.slo, spec.ref].filter((v) => v !== null && v !== undefined);
        let a = Math.min(lo ?? 0, ...extra, spec.zero === false ? Infinity : 0);
        let b = Math.max(hi ?? 1, ...extra);
        if (a === b) b = a + 1;
        return [a, b + (b - a) * 0.08];
      } } },
      axes: [axis, Object.assign({ size: 60, values: (self, ticks) => ticks.map((v) => spec.pct ? R.pct(v) : R.num(v)) }, axis)],
      series: [{ value: (self, v) => (v ? new Date(v * 1000).toLocaleTimeString() : '–') },
        ...labels.map((l, i) => ({ label: l, stroke: colors[i % colors.length], width: 1.5,
          spanGaps: false, points: { show: sparse[i], size: 6 }, value: (self, v) => (v === null ? '–' : fmt(v)) }))],
      hooks: { draw: [hline(spec.slo, css('--bad'), [6, 4]), hline(spec.ref, css('--muted'), [3, 3])] },
    }, data, plot);
    charts.set(id, { u, key });
    return box;
  };

  // Keep every chart as wide as its box, whatever changes the box (the window, a grid
  // reflowing, a scroll bar appearing): a canvas wider than its card spills out of it.
  const resized = new Set();
  let resizeFrame = null;
  const observer = new ResizeObserver((entries) => {
    for (const e of entries) resized.add(e.target.closest('.chart').id);
    cancelAnimationFrame(resizeFrame);
    resizeFrame = requestAnimationFrame(() => {
      for (const id of resized) {
        const entry = charts.get(id);
        const plot = document.getElementById(id)?.querySelector('.plot');
        if (entry && plot && plot.clientWidth && plot.clientWidth !== entry.u.width) {
          entry.u.setSize({ width: plot.clientWidth, height: entry.u.height });
        }
      }
      resized.clear();
    });
  });
  function observe(plot) { observer.observe(plot); }

  setupControls();  // the script tags sit after the header they wire up
})();
