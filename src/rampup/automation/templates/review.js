(function () {
  "use strict";
  // The token is asked for once and kept for this tab only (sessionStorage); the server
  // says which reviewer it names. Only an open queue (no reviewer configured, loopback)
  // takes a typed name instead.
  const model = document.body.dataset.model;
  const openQueue = document.body.dataset.open === "true";
  const base = "/v1/models/" + encodeURIComponent(model) + "/review";
  const $ = (id) => document.getElementById(id);
  const store = window.sessionStorage;
  let token = store.getItem("rampup-review-token") || "";
  let me = null;
  let current = null;
  let choices = [];
  let names = {};  // label -> what it means (output_labels in rampup.yaml)
  let task = null;  // the output's metric family: transcription, detection, ... or null
  let marks = null;  // detection items: right (true) / wrong (false) per suggested box
  let busy = false;
  $("reviewer-box").hidden = !openQueue;
  $("reviewer").value = store.getItem("rampup-reviewer") || "";

  function headers() {
    const h = {"content-type": "application/json"};
    if (token) { h["authorization"] = "Bearer " + token; }
    if (openQueue && !token) { h["x-reviewer"] = $("reviewer").value.trim(); }
    return h;
  }
  function say(text, isError) {
    $("status").textContent = text;
    $("status").className = isError ? "error" : "";
  }
  function show(value) {
    return typeof value === "string" ? value : JSON.stringify(value);
  }
  function named(value) {
    const meaning = names[show(value)];
    return show(value) + (meaning ? " (" + meaning + ")" : "");
  }
  async function call(path, body, method) {
    const url = path.startsWith("/v1/") ? path : base + path;
    const res = await fetch(url, method === "GET" ? {headers: headers()} :
                            {method: "POST", headers: headers(), body: JSON.stringify(body || {})});
    const data = await res.json();
    if (!res.ok) {
      throw new Error((data.message || res.statusText) + (data.fix ? " (fix: " + data.fix + ")" : ""));
    }
    return data;
  }
  function reviewer() {
    if (me && !me.open) { return me.reviewer; }
    const name = $("reviewer").value.trim();
    store.setItem("rampup-reviewer", name);
    return name;
  }
  function signedIn(who) {
    me = who;
    $("who").textContent = who.open ? "" : "signed in as " + who.reviewer + (who.lead ? " (lead)" : "");
    $("token-box").hidden = !!token;
    $("sign-in").hidden = !!token;
    $("sign-out").hidden = !token;
  }
  async function signIn() {
    token = $("token").value.trim();
    $("token").value = "";
    try {
      const who = await call("/v1/review/whoami", null, "GET");
      if (token) { store.setItem("rampup-review-token", token); }
      signedIn(who);
      await next();
    } catch (e) {
      token = "";
      store.removeItem("rampup-review-token");
      signedIn({open: openQueue, reviewer: ""});
      say(e.message, true);
    }
  }
  function signOut() {
    token = "";
    store.removeItem("rampup-review-token");
    me = null;
    render(null);
    $("empty").hidden = true;
    signedIn({open: openQueue, reviewer: ""});
    say(openQueue ? "enter your name as reviewer, or a token" : "enter your reviewer token", false);
  }
  // An image or audio input arrives as its logged summary plus a data: URL of its bytes
  // (kept while the item waits); only image/audio data URLs of the known formats are used.
  const MEDIA = /^data:(image\/(png|jpeg)|audio\/(wav|flac));base64,[A-Za-z0-9+\/=]+$/;
  function isMedia(value) {
    return value && typeof value === "object" && (value.type === "image" || value.type === "audio");
  }
  function mediaCell(value) {
    const out = [];
    const ok = typeof value.data === "string" && MEDIA.test(value.data) &&
               value.data.startsWith("data:" + value.type + "/");
    if (ok && value.type === "image") {
      const img = document.createElement("img");
      img.className = "media";
      img.alt = "input image (" + value.format + ")";
      img.src = value.data;
      out.push(img);
    } else if (ok) {
      const audio = document.createElement("audio");
      audio.className = "media";
      audio.controls = true;
      audio.preload = "auto";
      audio.src = value.data;
      out.push(audio);
    } else {
      const note = document.createElement("p");
      note.className = "muted";
      note.textContent = value.type + " not kept for review (too large, or protected by the privacy rules)";
      out.push(note);
    }
    const meta = document.createElement("div");
    meta.className = "muted media-meta";
    const size = value.bytes == null ? "" : " · " + Math.round(value.bytes / 1024) + " KiB";
    meta.textContent = value.format + size + " · sha256 " + String(value.sha256 || "").slice(0, 12);
    out.push(meta);
    return out;
  }
  function renderMarks(boxes) {
    const list = $("marks-list");
    list.replaceChildren();
    boxes.forEach((b, i) => {
      const li = document.createElement("li");
      const btn = document.createElement("button");
      btn.className = "mark " + (marks[i] ? "right" : "wrong");
      btn.dataset.index = String(i);
      if (i < 9) {
        const k = document.createElement("kbd");
        k.textContent = String(i + 1);
        btn.append(k);
      }
      btn.append(document.createTextNode((marks[i] ? "right: " : "wrong: ") + show(b)));
      btn.addEventListener("click", () => toggleMark(i));
      li.append(btn);
      list.append(li);
    });
  }
  function toggleMark(i) {
    if (!marks || i >= marks.length || !current) { return; }
    marks[i] = !marks[i];
    renderMarks(current.suggestion.prediction);
  }
  function submitMarks() {
    if (!marks || !current) { return; }
    // the label: the detections the reviewer confirmed (the wrong ones left out)
    // (as ground truth: each box's score left out)
    decide(current.suggestion.prediction.filter((_, i) => marks[i]).map((d) => {
      if (!d || typeof d !== "object" || Array.isArray(d)) { return d; }
      const out = Object.assign({}, d);
      delete out.score;
      return out;
    }));
  }
  function submitTranscript() {
    const text = $("transcript").value.trim();
    if (!text) { say("type the transcript first", true); return; }
    decide(text);
  }
  function render(item) {
    current = item;
    $("item").hidden = !item;
    $("empty").hidden = !!item;
    if (!item) { return; }
    $("item-id").textContent = item.id;
    $("item-reason").textContent = item.reason;
    $("item-confidence").textContent = item.confidence == null ? "-" : item.confidence.toFixed(3);
    $("item-age").textContent = Math.round(item.age_s) + " s";
    const rows = $("inputs");
    rows.replaceChildren();
    const inputs = (item.inputs && typeof item.inputs === "object") ? item.inputs : {input: item.inputs};
    for (const [key, value] of Object.entries(inputs)) {
      const tr = document.createElement("tr");
      const th = document.createElement("th");
      const td = document.createElement("td");
      th.textContent = key;
      if (isMedia(value)) { td.append(...mediaCell(value)); }
      else { td.textContent = value == null ? "" : show(value); }
      tr.append(th, td);
      rows.append(tr);
    }
    const s = item.suggestion;
    $("suggestion").hidden = !s;
    $("suggestion-value").textContent = s ? named(s.prediction) : "";
    const box = $("labels");
    box.replaceChildren();
    const free = !choices || choices.length === 0;
    const transcribing = free && task === "transcription";
    marks = free && task === "detection" && s && Array.isArray(s.prediction) ? s.prediction.map(() => true) : null;
    $("transcript-box").hidden = !transcribing;
    $("free-label").hidden = !free || transcribing || !!marks;
    $("free-submit").hidden = !free || transcribing || !!marks;
    $("marks").hidden = !marks;
    if (transcribing) {
      $("transcript").value = s && typeof s.prediction === "string" ? s.prediction : "";
      $("transcript").focus();
    }
    if (marks) { renderMarks(s.prediction); }
    (choices || []).forEach((choice, i) => {
      const b = document.createElement("button");
      b.className = "label";
      b.dataset.index = String(i);
      if (i < 9) {
        const k = document.createElement("kbd");
        k.textContent = String(i + 1);
        b.append(k);
      }
      b.append(document.createTextNode(show(choice)));
      const meaning = names[show(choice)];
      if (meaning) {
        b.dataset.name = meaning;
        const n = document.createElement("span");
        n.className = "label-name";
        n.textContent = meaning;
        b.append(n);
      }
      b.addEventListener("click", () => decide(choice));
      box.append(b);
    });
  }
  async function next() {
    if (busy) { return; }
    const name = reviewer();
    if (!me || (me.open && !name)) {
      say(openQueue ? "enter your name as reviewer first" : "enter your reviewer token first", true);
      (openQueue ? $("reviewer") : $("token")).focus();
      return;
    }
    busy = true;
    try {
      const data = await call("/next", {reviewer: name});
      choices = data.choices || [];
      names = data.choice_names || {};
      task = data.task || null;
      render(data.item);
      say(data.item ? "" : "queue empty", false);
    } catch (e) { say(e.message, true); }
    busy = false;
  }
  async function decide(label) {
    if (!current || busy) { return; }
    busy = true;
    try {
      const data = await call("/items/" + encodeURIComponent(current.id) + "/decide",
                              {reviewer: reviewer(), label: label});
      say("decided " + data.item.id + ": " + show(label) + " (" + data.item.status + ")", false);
      busy = false;
      await next();
    } catch (e) { say(e.message, true); busy = false; }
  }
  async function skip() {
    if (!current || busy) { return; }
    busy = true;
    try {
      await call("/items/" + encodeURIComponent(current.id) + "/skip", {reviewer: reviewer()});
      busy = false;
      await next();
    } catch (e) { say(e.message, true); busy = false; }
  }
  function freeLabel() {
    const text = $("free-label").value.trim();
    if (!text) { return; }
    let value = text;
    try { value = JSON.parse(text); } catch (e) { value = text; }
    decide(value);
  }
  $("skip").addEventListener("click", skip);
  $("refresh").addEventListener("click", next);
  $("free-submit").addEventListener("click", freeLabel);
  $("reviewer").addEventListener("change", () => { if (openQueue && !token) { me = {open: true, reviewer: reviewer()}; next(); } });
  $("sign-in").addEventListener("click", signIn);
  $("sign-out").addEventListener("click", signOut);
  $("token").addEventListener("keydown", (ev) => { if (ev.key === "Enter") { signIn(); } });
  $("transcript-submit").addEventListener("click", submitTranscript);
  $("marks-submit").addEventListener("click", submitMarks);
  $("transcript").addEventListener("keydown", (ev) => {
    if (ev.key === "Enter" && !ev.shiftKey) { ev.preventDefault(); submitTranscript(); }
    else if (ev.key === "Escape") { $("transcript").blur(); }
  });
  document.addEventListener("keydown", (ev) => {
    if (ev.target instanceof HTMLInputElement || ev.target instanceof HTMLTextAreaElement) { return; }
    if (ev.key === "s") { skip(); return; }
    if (ev.key === "p") {  // play / pause the item's audio
      const audio = document.querySelector("#inputs audio");
      if (audio) { if (audio.paused) { audio.play(); } else { audio.pause(); } }
      return;
    }
    if (ev.key === "t" && !$("transcript-box").hidden) { ev.preventDefault(); $("transcript").focus(); return; }
    if (ev.key === "Enter" && marks) { submitMarks(); return; }
    const n = parseInt(ev.key, 10);
    if (marks) { if (n >= 1 && n <= 9) { toggleMark(n - 1); } return; }
    if (n >= 1 && n <= 9 && choices && n <= choices.length) { decide(choices[n - 1]); }
  });
  render(null);
  $("empty").hidden = true;
  if (token) { signIn(); }
  else if (openQueue && $("reviewer").value) { me = {open: true, reviewer: reviewer()}; signedIn(me); next(); }
  else { signedIn({open: openQueue, reviewer: ""}); me = null;
         say(openQueue ? "enter your name as reviewer (or a token) to start" : "enter your reviewer token to start", false); }
})();
