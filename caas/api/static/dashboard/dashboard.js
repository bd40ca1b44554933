// caas live view: reads the v1 API (and its events extension) with the
// caller's token, updates from the Server-Sent Events stream. No framework,
// no build step; every text is set with textContent, never parsed as HTML.
'use strict';

const TOKEN_KEY = 'caas-token';
const API_VERSION = 'container-infra latest';
const MAX_TIMELINE = 300;
const MAX_LIST = 20;

const state = {
  token: sessionStorage.getItem(TOKEN_KEY),
  clusters: new Map(),    // uuid -> cluster (from /v1/clusters/detail)
  latest: new Map(),      // cluster uuid -> newest event
  events: new Map(),      // cluster uuid -> [events] (timeline)
  takeovers: [],
  selected: null,
  lastEventId: null,
  streamAbort: null,
  refreshTimer: null,
};

const $ = (id) => document.getElementById(id);

function el(tag, attrs, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (k === 'class') node.className = v;
    else if (k === 'text') node.textContent = v;
    else node.setAttribute(k, v);
  }
  for (const c of children) {
    if (c !== null && c !== undefined) node.append(c);
  }
  return node;
}

function headers(extra) {
  const h = Object.assign({'Accept': 'application/json',
                           'OpenStack-API-Version': API_VERSION}, extra || {});
  if (state.token) h['X-Auth-Token'] = state.token;
  return h;
}

class Unauthorized extends Error {}
class Forbidden extends Error {}

async function api(path) {
  const res = await fetch(path, {headers: headers(), credentials: 'omit',
                                 cache: 'no-store'});
  if (res.status === 401) throw new Unauthorized(path);
  if (res.status === 403) throw new Forbidden(path);
  if (!res.ok) throw new Error(path + ': HTTP ' + res.status);
  return res.json();
}

function setConnection(text) { $('connection').textContent = text; }

function showLogin(message) {
  $('login').hidden = false;
  $('login-error').textContent = message || '';
  setConnection('Not signed in');
  if (state.streamAbort) state.streamAbort.abort();
}

// -- progress ---------------------------------------------------------------

function family(status) {
  if (!status) return '';
  if (status.endsWith('_COMPLETE')) return 'COMPLETE';
  if (status.endsWith('_FAILED')) return 'FAILED';
  if (status.endsWith('_IN_PROGRESS')) return 'IN_PROGRESS';
  return '';
}

// Percent done of the cluster's current (or last) operation: steps done
// out of the flow's steps.
function progressOf(cluster) {
  const fam = family(cluster.status);
  const ev = state.latest.get(cluster.uuid);
  if (fam === 'COMPLETE') return 100;
  if (!ev || !ev.step_count) return 0;
  const part = ev.state === 'SUCCEEDED' ? 1 : 0;
  const idx = Math.max(ev.step_index, 1);
  return Math.round(100 * (idx - 1 + part) / ev.step_count);
}

// -- rendering --------------------------------------------------------------

function renderClusters() {
  const body = $('cluster-rows');
  const rows = [...state.clusters.values()].sort(
    (a, b) => (a.created_at || '').localeCompare(b.created_at || ''));
  body.replaceChildren();
  if (!rows.length) {
    body.append(el('tr', {class: 'empty'}, el('td', {colspan: 6, text: 'No clusters yet.'})));
    return;
  }
  for (const c of rows) {
    const fam = family(c.status);
    const pct = progressOf(c);
    const bar = el('progress', {max: 100, value: pct,
                                'aria-label': 'Progress of ' + c.name});
    if (fam === 'FAILED') bar.classList.add('failed');
    const running = fam === 'IN_PROGRESS';
    const ev = state.latest.get(c.uuid);
    let step = '—';
    if (running) step = c.status_reason || 'queued';
    else if (fam === 'FAILED') {
      step = ev && ev.state === 'FAILED' && ev.step ?
        'failed at step ' + ev.step_index + '/' + ev.step_count + ' ' + ev.step : 'failed';
    }
    const button = el('button', {type: 'button', 'data-cluster': c.uuid,
                                 'aria-pressed': String(state.selected === c.uuid),
                                 text: 'Timeline'});
    button.setAttribute('aria-label', 'Timeline of ' + c.name);
    button.addEventListener('click', () => selectCluster(c.uuid));
    body.append(el('tr', {'data-cluster': c.uuid, 'data-status': c.status},
      el('th', {scope: 'row', text: c.name}),
      el('td', {class: 'status status-' + fam, text: c.status}),
      el('td', {class: 'health', text: c.health_status || 'UNKNOWN'}),
      el('td', {class: 'step', text: step}),
      el('td', {}, bar, el('span', {class: 'pct', text: pct + ' %'})),
      el('td', {}, button)));
  }
  renderFailures();
}

function renderFailures() {
  const list = $('failure-list');
  const failed = [...state.clusters.values()]
    .filter((c) => family(c.status) === 'FAILED')
    .sort((a, b) => (b.updated_at || '').localeCompare(a.updated_at || ''))
    .slice(0, MAX_LIST);
  list.replaceChildren();
  if (!failed.length) { list.append(el('li', {class: 'empty', text: 'None.'})); return; }
  for (const c of failed) {
    list.append(el('li', {'data-cluster': c.uuid},
      el('strong', {text: c.name + ' '}), el('span', {text: c.status + ': '}),
      el('span', {class: 'failure-reason', text: c.status_reason || 'no reason given'})));
  }
}

function renderTakeovers() {
  const list = $('takeover-list');
  list.replaceChildren();
  if (!state.takeovers.length) {
    list.append(el('li', {class: 'empty', text: 'None so far.'}));
    return;
  }
  for (const ev of state.takeovers.slice(-MAX_LIST).reverse()) {
    const c = state.clusters.get(ev.cluster_id);
    list.append(el('li', {class: 'takeover', 'data-cluster': ev.cluster_id},
      el('time', {datetime: ev.created_at, text: shortTime(ev.created_at) + ' '}),
      el('span', {text: (c ? c.name : ev.cluster_id.slice(0, 8)) + ': ' +
                        ev.data.from + ' → ' + ev.conductor +
                        ' after ' + ev.data.after + ' s'})));
  }
}

function renderConductors(body) {
  const rows = $('conductor-rows');
  rows.replaceChildren();
  for (const c of body.conductors) {
    const ops = c.operations.map((op) => {
      const cl = state.clusters.get(op.cluster_id);
      return op.kind + ' of ' + (cl ? cl.name : op.cluster_id.slice(0, 8)) +
        ' (epoch ' + op.epoch + ')';
    });
    rows.append(el('tr', {'data-host': c.host},
      el('th', {scope: 'row', text: c.host}),
      el('td', {class: 'state-' + c.state, text: c.state}),
      el('td', {class: 'mono', text: c.heartbeat_age === null ? '—' : c.heartbeat_age + ' s ago'}),
      el('td', {class: 'ops', text: ops.length ? ops.join('; ') : 'none'})));
  }
}

function shortTime(iso) {
  return iso ? iso.replace(/^.*T/, '').replace(/\..*$/, '').replace(/\+.*$/, '') : '';
}

function renderTimeline() {
  const list = $('timeline-list');
  list.replaceChildren();
  if (!state.selected) return;
  const c = state.clusters.get(state.selected);
  $('timeline-title').textContent = 'Timeline of ' + (c ? c.name : state.selected);
  $('timeline-hint').hidden = true;
  for (const ev of state.events.get(state.selected) || []) {
    const step = ev.step ? 'step ' + ev.step_index + '/' + ev.step_count + ' ' + ev.step : 'operation';
    list.append(el('li', {'data-state': ev.state},
      el('time', {datetime: ev.created_at, text: shortTime(ev.created_at) + ' '}),
      el('span', {text: ev.kind + ' ' + step + ' '}),
      el('span', {class: 'state', text: ev.state}),
      ev.message ? el('span', {text: ' — ' + ev.message}) : null,
      el('span', {class: 'mono', text: ' [' + ev.conductor + ', epoch ' + ev.epoch + ']'})));
  }
}

async function selectCluster(uuid) {
  state.selected = uuid;
  try {
    const body = await api('/v1/clusters/' + uuid + '/events?limit=' + MAX_TIMELINE);
    state.events.set(uuid, body.events);
  } catch (err) {
    if (err instanceof Unauthorized) return showLogin();
  }
  renderClusters();
  renderTimeline();
}

// -- data -------------------------------------------------------------------

// Events that say where an operation got to (a revert walks back over the
// steps and a resume starts from where it was: neither moves the bar).
const ADVANCING = new Set(['STARTED', 'PROGRESS', 'SUCCEEDED', 'FAILED', 'RETRYING']);

function remember(ev) {
  const prev = state.latest.get(ev.cluster_id);
  if (ADVANCING.has(ev.state) && (!prev || prev.id < ev.id)) {
    state.latest.set(ev.cluster_id, ev);
  }
  const list = state.events.get(ev.cluster_id) || [];
  if (!list.length || list[list.length - 1].id < ev.id) list.push(ev);
  if (list.length > MAX_TIMELINE) list.shift();
  state.events.set(ev.cluster_id, list);
  if (ev.state === 'RESUMED' && ev.data && ev.data.from &&
      ev.data.from !== ev.conductor) {
    state.takeovers.push(ev);
  }
}

async function loadClusters() {
  const body = await api('/v1/clusters/detail');
  state.clusters = new Map(body.clusters.map((c) => [c.uuid, c]));
  renderClusters();
}

async function loadConductors() {
  try {
    renderConductors(await api('/v1/conductors'));
  } catch (err) {
    if (err instanceof Forbidden) {
      $('conductors-note').hidden = false;
      $('conductor-table').hidden = true;
      return;
    }
    throw err;
  }
}

async function loadRecent() {
  const body = await api('/v1/events?limit=500&sort_dir=desc');
  const events = body.events.reverse();
  for (const ev of events) remember(ev);
  if (events.length) state.lastEventId = events[events.length - 1].id;
  renderTakeovers();
}

function scheduleRefresh() {
  if (state.refreshTimer) return;
  state.refreshTimer = setTimeout(async () => {
    state.refreshTimer = null;
    try { await loadClusters(); } catch (err) { handleError(err); }
  }, 250);
}

function onEvent(ev) {
  remember(ev);
  state.lastEventId = ev.id;
  if (ev.state === 'RESUMED') { renderTakeovers(); loadConductors().catch(handleError); }
  renderClusters();
  if (state.selected === ev.cluster_id) renderTimeline();
  scheduleRefresh();
}

// EventSource cannot send X-Auth-Token, so the stream is read with fetch.
async function stream() {
  for (;;) {
    const abort = new AbortController();
    state.streamAbort = abort;
    const h = headers({'Accept': 'text/event-stream'});
    if (state.lastEventId !== null) h['Last-Event-ID'] = String(state.lastEventId);
    try {
      const res = await fetch('/v1/events/stream', {headers: h, signal: abort.signal,
                                                    credentials: 'omit', cache: 'no-store'});
      if (res.status === 401) return showLogin();
      if (!res.ok) throw new Error('stream: HTTP ' + res.status);
      setConnection('Live');
      await readEvents(res.body.getReader());
    } catch (err) {
      if (abort.signal.aborted) return;
      setConnection('Reconnecting…');
    }
    await new Promise((r) => setTimeout(r, 1000));
  }
}

async function readEvents(reader) {
  const decoder = new TextDecoder();
  let buffer = '';
  for (;;) {
    const {value, done} = await reader.read();
    if (done) return;
    buffer += decoder.decode(value, {stream: true});
    let cut;
    while ((cut = buffer.indexOf('\n\n')) >= 0) {
      const block = buffer.slice(0, cut);
      buffer = buffer.slice(cut + 2);
      let name = 'message';
      const data = [];
      for (const line of block.split('\n')) {
        if (line.startsWith('event:')) name = line.slice(6).trim();
        else if (line.startsWith('data:')) data.push(line.slice(5).trim());
      }
      if (name === 'progress' && data.length) onEvent(JSON.parse(data.join('\n')));
    }
  }
}

function handleError(err) {
  if (err instanceof Unauthorized) showLogin('The token was refused; give another.');
  else setConnection('Error: ' + err.message);
}

async function start() {
  try {
    await loadClusters();
  } catch (err) {
    return handleError(err);
  }
  $('login').hidden = true;
  $('forget').hidden = !state.token;
  try {
    await loadRecent();
    await loadConductors();
  } catch (err) { handleError(err); }
  renderClusters();
  stream();
  setInterval(() => { loadConductors().catch(handleError); }, 2000);
  setInterval(() => { loadClusters().catch(handleError); }, 5000);
}

document.addEventListener('DOMContentLoaded', () => {
  $('login-form').addEventListener('submit', (e) => {
    e.preventDefault();
    state.token = $('token').value.trim();
    sessionStorage.setItem(TOKEN_KEY, state.token);
    $('token').value = '';
    start();
  });
  $('forget').addEventListener('click', () => {
    sessionStorage.removeItem(TOKEN_KEY);
    state.token = null;
    location.reload();
  });
  start();
});
