/* A pipeline page's stage inputs: each stage's image/audio input metrics beside its
 * reference, and a sample of recent inputs (thumbnails, audio players) for a window,
 * shown only when the server keeps input bytes and no privacy rule protects the field. */
(function () {
  'use strict';
  const R = window.Rampup;
  const el = R.el;
  const urls = {};  // file -> blob URL (fetched once, with the token)
  const chosen = {};  // stage -> the window the person picked (epoch s of its start)

  async function blobUrl(file) {
    if (urls[file]) return urls[file];
    const headers = {};
    if (R.token()) headers.authorization = 'Bearer ' + R.token();
    const r = await fetch('/dashboard/api/inputs/' + encodeURIComponent(file), { headers });
    if (!r.ok) throw new Error('HTTP ' + r.status);
    urls[file] = URL.createObjectURL(await r.blob());
    return urls[file];
  }

  function panel() {
    let sec = document.getElementById('stage-inputs');
    if (sec) return sec.querySelector('.panel-body');
    const body = el('div', { class: 'panel-body' });
    sec = el('section', { class: 'panel', id: 'stage-inputs' }, el('h2', { text: 'Stage inputs' }),
      el('p', { class: 'muted', text: 'Each stage\'s image/audio input metrics (answered traffic of the stage) — dashed: the stage model\'s reference. Below, a sample of the inputs of a window.' }), body);
    document.getElementById('extra-panels').appendChild(sec);
    document.getElementById('extra-tabs').appendChild(el('a', { href: '#stage-inputs', text: 'Stage inputs' }));
    return body;
  }

  function media(names) {
    return names.filter((n) => n.includes('.'));  // "audio.rms_dbfs": a metric of a media input
  }

  // The window to sample by default: the one whose metrics stray furthest from the
  // reference (relative to the reference's own scale), else the latest with data.
  function drifting(d, names) {
    let best = null, bestScore = -1;
    d.t.forEach((t, i) => {
      let score = 0, seen = false;
      for (const n of names) {
        const f = d.inputs.features[n], v = f.values[i], ref = f.reference_mean;
        if (v === null || v === undefined) continue;
        seen = true;
        if (ref !== null && ref !== undefined) score = Math.max(score, Math.abs(v - ref) / Math.max(Math.abs(ref), 1e-9));
      }
      if (seen && score >= bestScore) { best = t; bestScore = score; }
    });
    return best;
  }

  function picker(d, stage, start, onPick) {
    const sel = el('select', { 'aria-label': 'window of ' + stage, class: 'sample-window', dataset: { stage } });
    const opts = d.t.slice().reverse().map((t) => el('option', { value: String(t), text: R.time(t) + ' (' + Math.round(d.step / 60) + ' min)' }));
    R.replace(sel, opts);
    if (start !== null) sel.value = String(start);
    sel.onchange = () => { chosen[stage] = Number(sel.value); onPick(Number(sel.value)); };
    return sel;
  }

  async function sampleBox(model, stage, box, start, step) {
    const now = Date.now() / 1000;
    const w = start === null ? { since: now - 300, until: now + 1 } : { since: start, until: start + step };
    const q = new URLSearchParams({ stage, since: 'epoch:' + Math.floor(w.since), until: 'epoch:' + Math.ceil(w.until), limit: '6' });
    const d = await R.api('/dashboard/api/models/' + encodeURIComponent(model) + '/sample?' + q);
    // the same items as shown: keep the players (a poll must not stop one playing)
    const key = w.since + '|' + d.available + '|' + d.items.map((i) => i.file).join(',');
    if (box.dataset.key === key && start !== null) return;
    box.dataset.key = key;
    box.dataset.available = String(d.available);
    box.dataset.items = String(d.items.length);
    const head = el('h3', { text: 'Inputs ' + R.time(w.since) + ' – ' + new Date(w.until * 1000).toLocaleTimeString() });
    if (!d.available) { R.replace(box, head, el('p', { class: 'muted sample-off', text: d.reason })); return; }
    const note = d.protected.length ? el('p', { class: 'muted', text: 'not shown (privacy rules): ' + d.protected.join(', ') }) : null;
    if (!d.items.length) { R.replace(box, head, note, el('p', { class: 'muted', text: 'no kept inputs in this window' })); return; }
    const cards = d.items.map((it) => {
      const m = it.metrics || {};
      const facts = Object.entries(m).filter(([k]) => k !== 'sample_rate').slice(0, 4)
        .map(([k, v]) => k + ' ' + R.num(v, 2)).join(' · ');
      const holder = el('div', { class: 'sample-media' });
      blobUrl(it.file).then((u) => {
        R.replace(holder, it.type === 'image' ? el('img', { src: u, alt: it.feature + ' ' + it.id, class: 'thumb' })
          : el('audio', { src: u, controls: '', preload: 'none', 'aria-label': it.feature + ' ' + it.id }));
      }).catch((e) => R.replace(holder, el('span', { class: 'muted', text: 'unavailable (' + e.message + ')' })));
      return el('div', { class: 'sample-card', dataset: { type: it.type } }, holder,
        el('div', { class: 'muted', text: R.time(it.ts) + ' · ' + (it.version || '') }), el('div', { class: 'num', text: facts }));
    });
    R.replace(box, head, note, el('div', { class: 'samples' }, cards));
  }

  async function stages(model, names) {
    const body = panel();
    if (body.dataset.built !== names.join('\u0000')) {  // built once; polls update it
      body.dataset.built = names.join('\u0000');
      body.dataset.stages = String(names.length);
      R.replace(body, names.map((stage) => el('div', { class: 'stage-inputs', dataset: { stage } },
        el('h3', { text: stage }), el('div', { class: 'charts' }), el('div', { class: 'picker' }),
        el('div', { class: 'sample', dataset: { stage } }))));
    }
    for (const col of body.querySelectorAll('.stage-inputs')) {
      const stage = col.dataset.stage;
      const charts = col.querySelector('.charts'), sample = col.querySelector('.sample');
      const d = await R.api('/dashboard/api/models/' + encodeURIComponent(model) + '/metrics?range=' +
        encodeURIComponent(R.range()) + '&stage=' + encodeURIComponent(stage));
      const feats = d.inputs.features;
      const shown = media(Object.keys(feats)).filter((n) => feats[n].stat === 'mean');
      charts.dataset.metrics = String(shown.length);
      if (!shown.length) R.replace(charts, el('p', { class: 'muted', text: d.model + ': no reference profile of image/audio inputs' }));
      for (const name of shown) {
        const f = feats[name];
        R.chart(charts, 'chart-stage-input-' + stage + '-' + name.replace(/[^A-Za-z0-9_-]/g, '_'), {
          title: name + ' · mean', t: d.t, series: { [stage]: f.values }, ref: f.reference_mean, height: 120, legend: false });
      }
      if (!shown.length) continue;
      const start = chosen[stage] !== undefined ? chosen[stage] : drifting(d, shown);
      const box = col.querySelector('.picker');
      if (!box.contains(document.activeElement)) {  // never rebuild a list being used
        R.replace(box, el('label', { class: 'muted sample-label' }, 'sample of the window at ',
          picker(d, stage, start, (t) => sampleBox(model, stage, sample, t, d.step))));
      }
      await sampleBox(model, stage, sample, start, d.step);
    }
  }

  window.RampupMedia = async function (model, deployment) {
    if (deployment && deployment.pipeline) await stages(model, deployment.pipeline);
  };
})();
