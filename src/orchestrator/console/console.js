// self-heal console: reads /api/heals and the live /api/events stream, draws the metrics, the
// chart, the table and one heal's timeline. Plain JavaScript, no dependency, nothing fetched
// from another origin. Every string from the API reaches the page through textContent or an
// attribute set with setAttribute on a fixed name: never parsed as markup.
'use strict';

(() => {
  const SVG_NS = 'http://www.w3.org/2000/svg';
  const TOKEN_KEY = 'self-heal.console.token';
  const PAGE = 200; // heals per /api/heals request
  const MAX_LOADED = 5000; // never hold more heals than this in the page
  const SHOW_STEP = 100; // rows added by "Show older heals"
  const WINDOWS = {
    '1h': { ms: 3600e3, buckets: 12, label: 'last hour' },
    '24h': { ms: 86400e3, buckets: 24, label: 'last 24 hours' },
    '7d': { ms: 7 * 86400e3, buckets: 28, label: 'last 7 days' },
  };
  // Outcome → group (colour), icon and words. The icon and the words carry the meaning; the
  // colour only repeats it.
  const OUTCOMES = {
    running: { group: 'running', icon: '↻', text: 'running' },
    healed: { group: 'ok', icon: '✔', text: 'healed' },
    healthy: { group: 'ok', icon: '✔', text: 'healthy' },
    planned: { group: 'other', icon: '◇', text: 'planned' },
    manual: { group: 'manual', icon: '⚠', text: 'manual' },
    refused: { group: 'refused', icon: '⊘', text: 'refused' },
    not_healed: { group: 'fail', icon: '✖', text: 'not healed' },
    error: { group: 'fail', icon: '✖', text: 'error' },
    timeout: { group: 'fail', icon: '◷', text: 'timeout' },
    interrupted: { group: 'fail', icon: '✖', text: 'interrupted' },
    failed: { group: 'fail', icon: '✖', text: 'worker failed' },
  };
  const GROUPS = [
    ['ok', '✔', 'healed or healthy'],
    ['manual', '⚠', 'manual'],
    ['fail', '✖', 'not healed, error, timeout, interrupted'],
    ['refused', '⊘', 'refused'],
    ['other', '◇', 'planned'],
    ['running', '↻', 'running'],
  ];

  const $ = (id) => document.getElementById(id);

  const state = {
    token: sessionStorage.getItem(TOKEN_KEY) || '',
    heals: new Map(), // id → summary (plus live findings/action for running heals)
    next: undefined, // the API's paging cursor past the oldest loaded heal (null: no more)
    shown: SHOW_STEP, // rows the table shows
    window: '24h',
    service: '',
    open: null, // id of the heal whose timeline is open
    openEvents: [], // its events, in order
    openKeys: new Set(), // their identities, so a live frame and the fetched list merge once
    generation: 0, // bumped when the filter changes, so stale loads are dropped
    openSummary: null, // its summary as /api/heals/{id} returned it
    tokenWaiters: null,
    fetchingSummary: new Set(),
  };

  // ---------- small DOM helpers (text only) ----------

  function el(tag, cls, text) {
    const node = document.createElement(tag);
    if (cls) node.className = cls;
    if (text !== undefined && text !== null) node.textContent = String(text);
    return node;
  }

  function svg(tag, attrs) {
    const node = document.createElementNS(SVG_NS, tag);
    for (const [k, v] of Object.entries(attrs || {})) node.setAttribute(k, String(v));
    return node;
  }

  function clear(node) {
    while (node.firstChild) node.removeChild(node.firstChild);
  }

  // ---------- formatting ----------

  const tzName = (() => {
    try {
      return Intl.DateTimeFormat().resolvedOptions().timeZone || 'local time';
    } catch (_) {
      return 'local time';
    }
  })();

  function parseTime(iso) {
    const t = Date.parse(iso);
    return Number.isNaN(t) ? null : t;
  }

  function utcText(ms) {
    return new Date(ms).toISOString().replace('T', ' ').replace(/\.\d+Z$/, ' UTC').replace(/Z$/, ' UTC');
  }

  function sameLocalDay(a, b) {
    const x = new Date(a);
    const y = new Date(b);
    return x.getFullYear() === y.getFullYear() && x.getMonth() === y.getMonth() && x.getDate() === y.getDate();
  }

  // <time> with the viewer's local time as text and UTC as its tooltip.
  function timeNode(iso, withMillis) {
    const node = el('time');
    const ms = parseTime(iso);
    if (ms === null) {
      node.textContent = iso ? String(iso) : '–';
      return node;
    }
    node.setAttribute('datetime', new Date(ms).toISOString());
    node.setAttribute('title', utcText(ms));
    const opts = { hour: '2-digit', minute: '2-digit', second: '2-digit', hour12: false };
    if (withMillis) opts.fractionalSecondDigits = 3;
    if (!sameLocalDay(ms, Date.now())) {
      opts.month = 'short';
      opts.day = 'numeric';
    }
    node.textContent = new Date(ms).toLocaleString(undefined, opts);
    return node;
  }

  function fmtDuration(ms) {
    if (ms === null || ms === undefined || Number.isNaN(ms)) return '–';
    if (ms < 1000) return `${Math.round(ms)} ms`;
    const s = ms / 1000;
    if (s < 60) return `${s.toFixed(s < 10 ? 1 : 0)} s`;
    const m = Math.floor(s / 60);
    const rest = Math.floor(s % 60);
    if (m < 60) return rest ? `${m} min ${rest} s` : `${m} min`;
    return m % 60 ? `${Math.floor(m / 60)} h ${m % 60} min` : `${Math.floor(m / 60)} h`;
  }

  function outcomeOf(h) {
    if (h.status === 'running' || !h.outcome) return h.status === 'running' ? 'running' : 'failed';
    return h.outcome;
  }

  function outcomeInfo(name) {
    return OUTCOMES[name] || { group: 'other', icon: '?', text: String(name) };
  }

  function badge(name) {
    const info = outcomeInfo(name);
    const node = el('span', `badge b-${info.group}`);
    node.setAttribute('data-outcome', name);
    const icon = el('span', 'icon', info.icon);
    icon.setAttribute('aria-hidden', 'true');
    node.append(icon, el('span', 'word', info.text));
    return node;
  }

  function durationOf(h) {
    if (typeof h.duration_ms === 'number') return h.duration_ms;
    const start = parseTime(h.started);
    if (start === null) return null;
    const end = h.finished ? parseTime(h.finished) : Date.now();
    return end === null ? null : Math.max(0, end - start);
  }

  // ---------- API access with the optional bearer token ----------

  class Unauthorized extends Error {}

  function headers(accept) {
    const h = { Accept: accept };
    if (state.token) h.Authorization = `Bearer ${state.token}`;
    return h;
  }

  async function api(path, accept, signal) {
    const res = await fetch(path, { headers: headers(accept), cache: 'no-store', signal });
    if (res.status === 401) throw new Unauthorized('token required');
    if (!res.ok) {
      let message = `${res.status} ${res.statusText}`;
      try {
        const body = await res.json();
        if (body && body.error && body.error.message) message = String(body.error.message);
      } catch (_) {
        // not JSON: keep the status line
      }
      throw new Error(message);
    }
    return res;
  }

  async function getJson(path) {
    for (;;) {
      try {
        return await (await api(path, 'application/json')).json();
      } catch (e) {
        if (!(e instanceof Unauthorized)) throw e;
        await askToken();
      }
    }
  }

  // Shows the token dialog (once for everyone waiting) and resolves when a token was entered.
  function askToken() {
    if (state.tokenWaiters) return state.tokenWaiters.promise;
    let resolve;
    const promise = new Promise((r) => {
      resolve = r;
    });
    state.tokenWaiters = { promise, resolve };
    const dialog = $('token-dialog');
    $('token-error').textContent = state.token ? 'The orchestrator refused this token.' : '';
    $('token-input').value = '';
    setConn('token', 'token required');
    if (!dialog.open) dialog.showModal();
    return promise;
  }

  function submitToken(event) {
    event.preventDefault();
    const value = $('token-input').value.trim();
    // A header value must be visible ASCII; say so instead of letting fetch throw.
    if (!/^[\x21-\x7e]+$/.test(value)) {
      $('token-error').textContent = 'A token is printable ASCII without spaces.';
      return;
    }
    state.token = value;
    sessionStorage.setItem(TOKEN_KEY, value);
    $('token-dialog').close();
    const waiters = state.tokenWaiters;
    state.tokenWaiters = null;
    if (waiters) waiters.resolve();
  }

  // ---------- the heals in memory ----------

  // Merges a summary from the list, a frame or a detail. A finished heal is never turned back
  // into a running one by a late or replayed frame.
  function upsert(summary) {
    if (!summary || typeof summary.id !== 'string') return;
    if (state.service && summary.service !== state.service) return;
    const old = state.heals.get(summary.id);
    if (old && old.status === 'done' && summary.status !== 'done') return;
    const merged = Object.assign({}, summary);
    if (old && summary.status !== 'done') {
      // Keep what live lines taught us about a running heal.
      merged.findings = union(old.findings, summary.findings);
      merged.action = summary.action || old.action || null;
      merged.message = summary.message || old.message;
    }
    state.heals.set(summary.id, merged);
    if (!old && state.heals.size > MAX_LOADED) {
      // A page left open for days: forget the oldest beyond the bound.
      const oldest = sortedHeals().slice(MAX_LOADED);
      for (const h of oldest) state.heals.delete(h.id);
    }
  }

  function union(a, b) {
    const out = Array.isArray(a) ? a.slice() : [];
    for (const x of Array.isArray(b) ? b : []) if (!out.includes(x)) out.push(x);
    return out;
  }

  // What a worker line tells about its running heal: findings and the planned action.
  function learn(h, line) {
    if (!line || typeof line !== 'object' || h.status === 'done') return;
    if (line.event === 'finding' && typeof line.code === 'string') h.findings = union(h.findings, [line.code]);
    if (line.event === 'plan' && typeof line.action === 'string') h.action = line.action;
    if (typeof line.message === 'string') h.message = line.message;
  }

  function sortedHeals() {
    const list = Array.from(state.heals.values());
    list.sort((a, b) => (parseTime(b.started) || 0) - (parseTime(a.started) || 0) || (a.id < b.id ? 1 : a.id > b.id ? -1 : 0));
    return list;
  }

  function query(before) {
    const p = new URLSearchParams({ limit: String(PAGE) });
    if (state.service) p.set('service', state.service);
    if (before) p.set('before', before);
    return `/api/heals?${p}`;
  }

  // Loads pages until the longest metrics window is covered (or the API has no more).
  async function loadHistory() {
    const gen = state.generation;
    const horizon = Date.now() - WINDOWS['7d'].ms;
    let before = null;
    for (;;) {
      const page = await getJson(query(before));
      if (gen !== state.generation) return;
      const heals = Array.isArray(page.heals) ? page.heals : [];
      heals.forEach(upsert);
      // The cursor is only advanced by the first load; a reload after a reconnect keeps it.
      if (before !== null || state.next === undefined) state.next = page.next ?? null;
      scheduleRender();
      const oldest = heals.length ? parseTime(heals[heals.length - 1].started) : null;
      if (!page.next || oldest === null || oldest < horizon || state.heals.size >= MAX_LOADED) break;
      before = page.next;
    }
  }

  async function loadOlder() {
    const button = $('older');
    state.shown += SHOW_STEP;
    if (state.heals.size < state.shown && state.next) {
      button.disabled = true;
      const gen = state.generation;
      try {
        const page = await getJson(query(state.next));
        if (gen === state.generation) {
          (page.heals || []).forEach(upsert);
          state.next = page.next ?? null;
        }
      } catch (e) {
        showError(e);
      } finally {
        button.disabled = false;
      }
    }
    scheduleRender();
  }

  // A heal we have no summary for (it started before we connected): fetch it once.
  async function fetchSummary(id) {
    if (state.fetchingSummary.has(id)) return;
    state.fetchingSummary.add(id);
    try {
      const heal = await getJson(`/api/heals/${encodeURIComponent(id)}`);
      if (!state.heals.has(id) || state.heals.get(id).status !== 'done') {
        const { events, ...summary } = heal;
        upsert(summary);
        scheduleRender();
      }
    } catch (e) {
      showError(e);
    } finally {
      state.fetchingSummary.delete(id);
    }
  }

  // ---------- the live stream ----------

  function setConn(kind, text) {
    const node = $('conn');
    node.setAttribute('data-state', kind);
    node.querySelector('.conn-icon').textContent = { live: '●', reconnecting: '○', token: '⚠', connecting: '○' }[kind] || '○';
    $('conn-text').textContent = text;
  }

  const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

  async function stream() {
    let delay = 1000;
    let first = true;
    for (;;) {
      try {
        const res = await api('/api/events', 'text/event-stream');
        setConn('live', 'live');
        delay = 1000;
        if (!first) loadHistory().catch(showError); // catch up on what happened while away
        first = false;
        await readFrames(res.body.getReader());
      } catch (e) {
        if (e instanceof Unauthorized) {
          await askToken();
          continue;
        }
      }
      setConn('reconnecting', 'reconnecting…');
      await sleep(delay);
      delay = Math.min(delay * 2, 15000);
    }
  }

  // Server-sent events from a byte stream: `data:` lines joined, a blank line ends a frame,
  // comments (`: keep-alive`) ignored; lines end with LF, CRLF or CR.
  async function readFrames(reader) {
    const decoder = new TextDecoder();
    let buf = '';
    let data = [];
    for (;;) {
      const { value, done } = await reader.read();
      if (done) return;
      buf += decoder.decode(value, { stream: true });
      for (;;) {
        const m = /\r\n|\n|\r/.exec(buf);
        if (!m) break;
        // A CR at the very end may be the first half of a CRLF: wait for more.
        if (m[0] === '\r' && m.index === buf.length - 1) break;
        const line = buf.slice(0, m.index);
        buf = buf.slice(m.index + m[0].length);
        if (line === '') {
          if (data.length) handleFrame(data.join('\n'));
          data = [];
        } else if (line.startsWith('data:')) {
          data.push(line.slice(line.startsWith('data: ') ? 6 : 5));
        }
      }
    }
  }

  function handleFrame(text) {
    let msg;
    try {
      msg = JSON.parse(text);
    } catch (_) {
      return;
    }
    if (!msg || typeof msg !== 'object') return;
    if ((msg.type === 'heal_started' || msg.type === 'heal_finished') && msg.heal) {
      upsert(msg.heal);
      if (state.open === msg.heal.id) renderDetailHead();
      scheduleRender();
    } else if (msg.type === 'heal_event' && typeof msg.id === 'string' && msg.event) {
      const h = state.heals.get(msg.id);
      if (h) {
        learn(h, msg.event.line);
        scheduleRender();
      } else if (!state.service) {
        fetchSummary(msg.id);
      }
      if (state.open === msg.id) addDetailEvent(msg.event, true);
    }
  }

  // ---------- rendering: metrics, chart, table ----------

  let renderPending = false;
  function scheduleRender() {
    if (renderPending) return;
    renderPending = true;
    requestAnimationFrame(() => {
      renderPending = false;
      render();
    });
  }

  function render() {
    const list = sortedHeals();
    renderMetrics(list);
    renderChart(list);
    renderTable(list);
    renderServices(list);
  }

  function inWindow(list) {
    const from = Date.now() - WINDOWS[state.window].ms;
    return list.filter((h) => (parseTime(h.started) || 0) >= from);
  }

  function topCounts(items, n) {
    const counts = new Map();
    for (const x of items) counts.set(x, (counts.get(x) || 0) + 1);
    return Array.from(counts.entries())
      .sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : 1))
      .slice(0, n);
  }

  function fillTop(node, entries, empty, short) {
    clear(node);
    if (!entries.length) {
      node.append(el('li', 'none', empty));
      return;
    }
    for (const [name, count] of entries) {
      const li = el('li');
      const label = el('span', 'name', short ? short(name) : name);
      label.setAttribute('title', name);
      li.append(label, el('span', 'count', `${count}×`));
      li.setAttribute('data-name', name);
      li.setAttribute('data-count', String(count));
      node.append(li);
    }
  }

  function renderMetrics(list) {
    const win = inWindow(list);
    const finished = win.filter((h) => h.status === 'done');
    const ok = finished.filter((h) => h.outcome === 'healed' || h.outcome === 'healthy');
    const label = WINDOWS[state.window].label;
    const rate = $('m-success-rate');
    rate.textContent = finished.length ? `${Math.round((ok.length / finished.length) * 100)}%` : '–';
    rate.setAttribute('data-ok', String(ok.length));
    rate.setAttribute('data-finished', String(finished.length));
    $('m-success-detail').textContent = finished.length
      ? `${ok.length} of ${finished.length} finished heals healed or healthy`
      : `no finished heal in the ${label}`;

    const healed = finished.filter((h) => h.outcome === 'healed' && typeof durationOf(h) === 'number');
    const avg = healed.length ? healed.reduce((s, h) => s + durationOf(h), 0) / healed.length : null;
    const avgNode = $('m-avg-time');
    avgNode.textContent = avg === null ? '–' : fmtDuration(avg);
    avgNode.setAttribute('data-healed', String(healed.length));
    $('m-avg-detail').textContent = healed.length
      ? `over ${healed.length} healed service${healed.length === 1 ? '' : 's'}`
      : `nothing healed in the ${label}`;

    const codes = [];
    for (const h of win) for (const c of Array.isArray(h.findings) ? h.findings : []) if (c !== 'Healthy') codes.push(String(c));
    fillTop($('m-failures'), topCounts(codes, 3), 'no failure found');
    // Services as namespace/name; the name alone when the window has a single namespace.
    const oneNamespace = new Set(win.map((h) => h.namespace)).size <= 1;
    const short = oneNamespace ? (key) => key.slice(key.indexOf('/') + 1) : null;
    fillTop($('m-services'), topCounts(win.map((h) => `${h.namespace}/${h.service}`), 3), 'no heal', short);

    const manual = finished.filter((h) => h.outcome === 'manual').length;
    $('m-manual').textContent = String(manual);
    $('m-manual-detail').textContent = manual ? `heal${manual === 1 ? '' : 's'} a human must finish` : `none in the ${label}`;
    const total = $('m-total');
    total.textContent = `${win.length} heal${win.length === 1 ? '' : 's'} in the ${label}`;
    total.setAttribute('data-count', String(win.length));
  }

  function renderChart(list) {
    const chart = $('chart');
    const win = WINDOWS[state.window];
    const now = Date.now();
    const from = now - win.ms;
    const step = win.ms / win.buckets;
    const buckets = Array.from({ length: win.buckets }, () => ({}));
    for (const h of inWindow(list)) {
      const t = parseTime(h.started);
      const i = Math.min(win.buckets - 1, Math.floor((t - from) / step));
      const g = outcomeInfo(outcomeOf(h)).group;
      buckets[i][g] = (buckets[i][g] || 0) + 1;
    }
    const max = Math.max(1, ...buckets.map((b) => Object.values(b).reduce((s, n) => s + n, 0)));
    while (chart.lastChild && chart.lastChild.nodeName !== 'desc') chart.removeChild(chart.lastChild);
    const W = 720;
    const H = 140;
    const top = 4;
    const base = H - 1;
    const left = 0;
    const bw = (W - left) / win.buckets;
    chart.append(svg('line', { class: 'grid', x1: left, x2: W, y1: base, y2: base }));
    chart.append(svg('line', { class: 'grid', x1: left, x2: W, y1: top, y2: top }));
    buckets.forEach((b, i) => {
      let y = base;
      const x = left + i * bw + 1;
      const parts = [];
      for (const [g, , words] of GROUPS) {
        const n = b[g] || 0;
        if (!n) continue;
        const h = ((base - top) * n) / max;
        y -= h;
        const rect = svg('rect', { class: `g-${g}`, x: x.toFixed(1), y: y.toFixed(1), width: Math.max(1, bw - 2).toFixed(1), height: h.toFixed(1) });
        const tip = svg('title');
        tip.textContent = `${n} ${words}`;
        rect.append(tip);
        chart.append(rect);
        parts.push(`${n} ${words}`);
      }
      if (parts.length) {
        // One transparent bar per interval carrying the whole count as its tooltip.
        const start = from + i * step;
        const hit = svg('rect', { x: x.toFixed(1), y: top, width: Math.max(1, bw - 2).toFixed(1), height: base - top, fill: 'transparent' });
        const tip = svg('title');
        tip.textContent = `${new Date(start).toLocaleString()} – ${new Date(start + step).toLocaleTimeString()}: ${parts.join(', ')}`;
        hit.append(tip);
        chart.append(hit);
      }
    });
    $('axis-scale').textContent = `top line: ${max} heal${max === 1 ? '' : 's'} per ${fmtDuration(step)}`;
    const fromNode = $('axis-from');
    fromNode.textContent = new Date(from).toLocaleString(undefined, { month: 'short', day: 'numeric', hour: '2-digit', minute: '2-digit', hour12: false });
    fromNode.setAttribute('title', utcText(from));
  }

  function cell(tr, cls, label) {
    const td = el('td', cls);
    if (label) td.setAttribute('data-label', label);
    tr.append(td);
    return td;
  }

  const rows = new Map(); // id → <tr>

  function makeRow(id) {
    const tr = el('tr');
    tr.setAttribute('data-id', id);
    const service = cell(tr, 'c-service');
    const a = el('a');
    a.setAttribute('href', `#heal=${encodeURIComponent(id)}`);
    service.append(a);
    cell(tr, 'c-ns');
    cell(tr, 'c-started', 'started');
    cell(tr, 'c-duration');
    cell(tr, 'c-findings', 'findings');
    cell(tr, 'c-action');
    cell(tr, 'c-outcome');
    cell(tr, 'c-exit');
    tr.addEventListener('click', (e) => {
      if (e.target.closest('a')) return; // the link opens it through the hash
      location.hash = `heal=${encodeURIComponent(id)}`;
    });
    return tr;
  }

  function setText(node, text) {
    const t = String(text);
    if (node.textContent !== t) node.textContent = t;
  }

  function fillRow(tr, h) {
    const c = tr.children;
    const outcome = outcomeOf(h);
    tr.setAttribute('data-outcome', outcome);
    tr.setAttribute('data-service', h.service);
    setText(c[0].firstChild, h.service);
    c[0].setAttribute('title', `${h.namespace}/${h.service}`);
    setText(c[1], h.namespace);
    if (c[2].getAttribute('data-started') !== String(h.started)) {
      clear(c[2]);
      c[2].append(timeNode(h.started));
      c[2].setAttribute('data-started', String(h.started));
    }
    setText(c[3], fmtDuration(durationOf(h)));
    const findings = (Array.isArray(h.findings) ? h.findings : []).join(', ');
    setText(c[4], findings || '–');
    c[4].setAttribute('title', findings);
    setText(c[5], h.action || '–');
    if (c[6].getAttribute('data-outcome') !== outcome) {
      clear(c[6]);
      c[6].append(badge(outcome));
      c[6].setAttribute('data-outcome', outcome);
    }
    setText(c[7], h.exit_code === null || h.exit_code === undefined ? '–' : h.exit_code);
    tr.classList.toggle('selected', state.open === h.id);
  }

  function renderTable(list) {
    const wrap = $('table-wrap');
    const body = $('rows');
    const visible = list.slice(0, state.shown);
    // Keep the row at the top of the view where it is when rows arrive above it.
    let anchor = null;
    let anchorTop = 0;
    if (wrap.scrollTop > 0) {
      for (const tr of body.children) {
        if (tr.offsetTop + tr.offsetHeight > wrap.scrollTop) {
          anchor = tr;
          anchorTop = tr.offsetTop;
          break;
        }
      }
    }
    const keep = new Set(visible.map((h) => h.id));
    for (const [id, tr] of rows) {
      if (!keep.has(id)) {
        tr.remove();
        rows.delete(id);
      }
    }
    let prev = null;
    for (const h of visible) {
      let tr = rows.get(h.id);
      if (!tr) {
        tr = makeRow(h.id);
        rows.set(h.id, tr);
      }
      fillRow(tr, h);
      const want = prev ? prev.nextSibling : body.firstChild;
      if (want !== tr) body.insertBefore(tr, want);
      prev = tr;
    }
    if (anchor && anchor.isConnected) wrap.scrollTop += anchor.offsetTop - anchorTop;
    $('empty').hidden = visible.length > 0;
    $('older').hidden = !(list.length > state.shown || state.next);
  }

  function renderServices(list) {
    const names = new Set(list.map((h) => h.service));
    const dl = $('services');
    if (dl.childElementCount === names.size) return;
    clear(dl);
    for (const n of Array.from(names).sort()) {
      const o = el('option');
      o.value = n;
      dl.append(o);
    }
  }

  // Running heals: their duration ticks.
  function tick() {
    for (const [id, tr] of rows) {
      const h = state.heals.get(id);
      if (h && h.status === 'running') setText(tr.children[3], fmtDuration(durationOf(h)));
    }
    if (state.open) {
      const h = state.heals.get(state.open);
      const node = $('d-facts').querySelector('[data-fact="duration"]');
      if (h && node) setText(node, fmtDuration(durationOf(h)));
    }
  }

  // ---------- one heal's timeline ----------

  const KUBECTL = /kubectl\s[^;()\n]*/g;

  // The exact kubectl commands a recommendation names.
  function kubectlCommands(text) {
    const out = [];
    for (const m of String(text || '').matchAll(KUBECTL)) {
      const cmd = m[0].replace(/[\s.,:]+$/, '');
      if (!out.includes(cmd)) out.push(cmd);
    }
    return out;
  }

  function eventKey(ev) {
    const line = ev && ev.line;
    if (line && typeof line === 'object' && typeof line.seq === 'number') return `seq:${line.seq}`;
    return `raw:${ev.ts}:${JSON.stringify(line)}`;
  }

  function lineText(line) {
    if (!line || typeof line !== 'object') return String(line);
    const s = (x) => (x === null || x === undefined ? '' : String(x));
    switch (line.event) {
      case 'started':
        return `${s(line.command) || 'heal'} started${line.error ? ` after “${s(line.error)}”` : ''}${line.url ? ` for ${s(line.url)}` : ''}${line.dry_run ? ' (dry run)' : ''}`;
      case 'progress':
        return `${s(line.message)}`;
      case 'finding':
        return `${s(line.code)} (${s(line.severity)}): ${s(line.message)}`;
      case 'plan':
        return `plan: ${s(line.action)}: ${s(line.reason)}`;
      case 'action':
        return `${s(line.action)} ${s(line.status)}: ${s(line.message)}`;
      case 'rollout':
        return `${s(line.ready)}/${s(line.desired)} ready, ${s(line.updated)} updated, ${s(line.available)} available: ${s(line.message)}`;
      case 'check':
        return `${s(line.check)} check ${line.ok ? 'passed' : 'failed'} (${s(line.latency_ms)} ms): ${s(line.message)}`;
      case 'result': {
        const fix = line.fix_applied ? ` Fix applied: ${s(line.fix_applied)}.` : line.fix_attempted ? ` Fix attempted: ${s(line.fix_attempted)}.` : '';
        return `${s(line.outcome)} (exit ${s(line.exit_code)}): ${s(line.diagnosis)}${fix}`;
      }
      default:
        return line.message ? s(line.message) : JSON.stringify(line);
    }
  }

  function lineTone(line) {
    if (!line || typeof line !== 'object') return '';
    if (line.event === 'check') return line.ok ? 'good' : 'bad';
    if (line.event === 'action') return line.status === 'failed' ? 'bad' : line.status === 'succeeded' ? 'good' : '';
    if (line.event === 'result') return line.success ? 'good' : 'bad';
    if (line.event === 'finding' && line.severity === 'critical') return 'bad';
    return '';
  }

  function renderEventItem(ev) {
    const line = ev.line;
    const kind = line && typeof line === 'object' && line.event ? String(line.event) : 'line';
    const li = el('li', `k-${kind.replace(/[^a-z_]/g, '')}`);
    const tone = lineTone(line);
    if (tone) li.classList.add(tone);
    const head = el('div', 'ev-head');
    const t = timeNode((line && typeof line === 'object' && line.ts) || ev.ts, true);
    t.classList.add('ev-time');
    head.append(t, el('span', 'ev-kind', kind), el('span', 'ev-text', lineText(line)));
    const raw = el('details');
    raw.append(el('summary', null, 'line'), el('pre', null, JSON.stringify(line, null, 2)));
    li.append(head, raw);
    return li;
  }

  function addDetailEvent(ev, live) {
    if (!ev) return;
    const key = eventKey(ev);
    if (state.openKeys.has(key)) return;
    state.openKeys.add(key);
    state.openEvents.push(ev);
    $('d-events').append(renderEventItem(ev));
    if (live) renderDetailHead();
  }

  function fact(dl, name, value, key) {
    dl.append(el('dt', null, name));
    const dd = el('dd');
    if (value instanceof Node) dd.append(value);
    else dd.textContent = value === null || value === undefined || value === '' ? '–' : String(value);
    if (key) dd.setAttribute('data-fact', key);
    dl.append(dd);
  }

  function recommendationOf(h) {
    if (h && h.recommendation) return String(h.recommendation);
    for (let i = state.openEvents.length - 1; i >= 0; i--) {
      const line = state.openEvents[i].line;
      if (line && typeof line === 'object') {
        if (line.recommendation) return String(line.recommendation);
        if (line.event === 'plan' && line.detail && line.detail.recommendation) return String(line.detail.recommendation);
      }
    }
    return '';
  }

  function renderDetailHead() {
    const id = state.open;
    if (!id) return;
    const h = state.heals.get(id) || state.openSummary;
    if (!h) return;
    const title = $('d-title');
    clear(title);
    title.append(el('span', null, `${h.namespace}/${h.service} `), badge(outcomeOf(h)));
    const dl = $('d-facts');
    clear(dl);
    fact(dl, 'Heal', h.id);
    if (h.run) fact(dl, 'Worker run', h.run);
    fact(dl, 'Started', timeNode(h.started));
    fact(dl, 'Finished', h.finished ? timeNode(h.finished) : h.status === 'running' ? 'still running' : '–');
    fact(dl, 'Duration', fmtDuration(durationOf(h)), 'duration');
    fact(dl, 'Caller’s error', h.issue);
    fact(dl, 'Findings', (h.findings || []).join(', '));
    fact(dl, 'Action', h.action);
    fact(dl, 'Exit code', h.exit_code);
    fact(dl, 'Message', h.message);
    if (typeof h.requests === 'number') fact(dl, 'Requests waiting on it', h.requests);
    const rec = recommendationOf(h);
    $('d-rec').hidden = !rec;
    $('d-rec-text').textContent = rec;
    const cmds = $('d-cmds');
    clear(cmds);
    for (const cmd of kubectlCommands(rec)) {
      const row = el('div', 'cmd');
      const pre = el('pre');
      pre.append(el('code', null, cmd));
      row.append(pre);
      if (navigator.clipboard && window.isSecureContext) {
        const copy = el('button', null, 'Copy');
        copy.type = 'button';
        copy.addEventListener('click', () => {
          navigator.clipboard.writeText(cmd).then(() => {
            copy.textContent = 'Copied';
          }, () => {});
        });
        row.append(copy);
      }
      cmds.append(row);
    }
    $('d-status').textContent = h.status === 'running' ? 'Live: new lines appear as the worker writes them.' : '';
  }

  async function openDetail(id) {
    const dialog = $('detail');
    state.open = id;
    state.openEvents = [];
    state.openKeys = new Set();
    state.openSummary = null;
    clear($('d-events'));
    clear($('d-facts'));
    $('d-title').textContent = 'Loading…';
    $('d-rec').hidden = true;
    $('d-status').textContent = '';
    if (!dialog.open) dialog.showModal();
    renderDetailHead();
    scheduleRender();
    try {
      const heal = await getJson(`/api/heals/${encodeURIComponent(id)}`);
      if (state.open !== id) return;
      const { events, ...summary } = heal;
      state.openSummary = summary;
      if (!state.service || summary.service === state.service) upsert(summary);
      // Lines that arrived live while the detail loaded are merged by identity, then sorted.
      const live = state.openEvents;
      state.openEvents = [];
      state.openKeys = new Set();
      clear($('d-events'));
      const all = (Array.isArray(events) ? events : []).concat(live);
      all.sort((a, b) => seqOf(a) - seqOf(b));
      all.forEach((ev) => addDetailEvent(ev, false));
      renderDetailHead();
    } catch (e) {
      if (state.open === id) $('d-status').textContent = `Could not load this heal: ${e.message}`;
    }
  }

  function seqOf(ev) {
    const line = ev && ev.line;
    return line && typeof line === 'object' && typeof line.seq === 'number' ? line.seq : Number.MAX_SAFE_INTEGER;
  }

  function closeDetail() {
    state.open = null;
    if ($('detail').open) $('detail').close();
    if (location.hash) history.replaceState(null, '', location.pathname + location.search);
    scheduleRender();
  }

  function route() {
    const m = /^#heal=(.+)$/.exec(location.hash);
    if (m) {
      let id;
      try {
        id = decodeURIComponent(m[1]);
      } catch (_) {
        return;
      }
      if (id !== state.open) openDetail(id);
    } else if (state.open) {
      closeDetail();
    }
  }

  // ---------- wiring ----------

  function showError(e) {
    $('error').textContent = e && e.message ? `Error: ${e.message}` : '';
  }

  function setFilter(value) {
    const v = value.trim();
    if (v === state.service) return;
    state.service = v;
    state.generation += 1;
    state.heals.clear();
    state.next = undefined;
    state.shown = SHOW_STEP;
    scheduleRender();
    loadHistory().catch(showError);
  }

  function start() {
    $('tz').textContent = `Times in ${tzName}; hover for UTC.`;
    const legend = $('legend');
    for (const [g, icon, words] of GROUPS) {
      const li = el('li');
      const sw = el('span', `swatch g-${g}`);
      sw.setAttribute('aria-hidden', 'true');
      li.append(sw, el('span', null, `${icon} ${words}`));
      legend.append(li);
    }
    for (const input of document.querySelectorAll('input[name="window"]')) {
      input.addEventListener('change', () => {
        state.window = input.value;
        scheduleRender();
      });
      if (input.checked) state.window = input.value;
    }
    let filterTimer = null;
    $('filter').addEventListener('input', (e) => {
      clearTimeout(filterTimer);
      filterTimer = setTimeout(() => setFilter(e.target.value), 300);
    });
    $('older').addEventListener('click', loadOlder);
    $('d-close').addEventListener('click', closeDetail);
    $('detail').addEventListener('close', () => {
      if (state.open) closeDetail();
    });
    $('token-form').addEventListener('submit', submitToken);
    $('token-dialog').addEventListener('cancel', (e) => e.preventDefault());
    window.addEventListener('hashchange', route);
    setInterval(tick, 1000);
    setInterval(scheduleRender, 30000); // the windows slide
    stream();
    loadHistory().catch(showError);
    route();
    scheduleRender();
  }

  start();
})();
