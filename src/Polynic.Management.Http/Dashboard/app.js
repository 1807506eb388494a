// The dashboard: sign-in, then a poll every second (NICs, their detail and counters, switches,
// captures), the module catalog, the forms, and the event stream.

import { ApiProblem, getJson, onUnauthorized, readEvents, sendJson, takeTokenFromFragment, token } from './api.js';
import { NicCard, act, logEvent, renderModules } from './panels.js';
import { drawTopology } from './topology.js';

const $ = id => document.getElementById(id);
const cards = new Map();
let polling = null;
let events = null;
let busy = false;

function showSignIn(message) {
  stop();
  $('dashboard').hidden = true;
  $('sign-out').hidden = true;
  $('sign-in').hidden = false;
  $('sign-in-problem').textContent = message ?? '';
  $('server-status').textContent = 'signed out';
  $('server-status').dataset.state = 'signed-out';
  $('token-input').focus();
}

function stop() {
  if (polling) clearInterval(polling);
  polling = null;
  events?.abort();
  events = null;
}

async function start() {
  $('sign-in').hidden = true;
  try {
    await refreshModules();
  } catch (e) {
    if (!(e instanceof ApiProblem && e.status === 401)) showSignIn(e.message);
    return;
  }
  $('dashboard').hidden = false;
  $('sign-out').hidden = false;
  $('server-status').textContent = 'connected';
  $('server-status').dataset.state = 'connected';
  await refreshNics();
  polling = setInterval(refreshNics, 1000);
  followEvents();
}

/** GET an optional resource: null when this server does not have it (404 for the route). */
async function optional(path) {
  try { return await getJson(path); } catch (e) { if (e instanceof ApiProblem && e.status === 404) return null; throw e; }
}

async function refreshNics() {
  if (busy) return;
  busy = true;
  try {
    const time = performance.now();
    const [nics, switches, captures] = await Promise.all([getJson('/api/v1/nics'), optional('/api/v1/switches'), optional('/api/v1/captures')]);
    const details = new Map();
    await Promise.all(nics.filter(n => n.state === 'serving').map(async n => {
      const detail = await optional(`/api/v1/nics/${encodeURIComponent(n.name)}/detail`);
      if (detail) details.set(n.name, detail);
    }));
    const list = $('nics');
    for (const [name, card] of cards) {
      if (!nics.some(n => n.name === name)) { card.element.remove(); cards.delete(name); }
    }
    for (const n of nics) {
      let card = cards.get(n.name);
      if (!card) {
        card = new NicCard(n.name, refreshNics);
        cards.set(n.name, card);
        list.append(card.element);
      }
      card.update(n, details.get(n.name), time);
      if (captures) {
        const latest = captures.filter(c => c.nic === n.name).at(-1) ?? null;
        if (latest || card.capture) card.showCapture(latest);
      }
    }
    drawTopology($('topology'), nics, details, switches ?? []);
    $('server-status').textContent = `connected · ${nics.length} NICs · ${new Date().toLocaleTimeString()}`;
    $('server-status').dataset.state = 'connected';
  } catch (e) {
    $('server-status').textContent = `not reachable: ${e.message}`;
    $('server-status').dataset.state = 'error';
  } finally {
    busy = false;
  }
}

async function refreshModules() {
  const modules = await getJson('/api/v1/modules');
  renderModules($('modules').tBodies[0], modules, (name, button, problem) => act(button, problem, async () => {
    await sendJson('DELETE', `/api/v1/modules/${encodeURIComponent(name)}`);
    await refreshModules();
  }));
}

/** The event stream, read for as long as the page is signed in; reconnects after a pause. */
async function followEvents() {
  const controller = new AbortController();
  events = controller;
  const status = $('events-status');
  while (!controller.signal.aborted) {
    try {
      status.textContent = '(live)';
      status.dataset.state = 'live';
      await readEvents('/api/v1/events', (type, data) => {
        logEvent($('events'), type, data);
        if (type.startsWith('module-')) refreshModules().catch(() => {});
        else refreshNics();
      }, controller.signal);
      status.textContent = '(stream ended; reconnecting)';
    } catch (e) {
      if (controller.signal.aborted) return;
      status.textContent = e instanceof ApiProblem && e.status === 404 ? '(this server has no event stream)' : `(${e.message}; reconnecting)`;
    }
    status.dataset.state = 'waiting';
    await new Promise(resolve => setTimeout(resolve, 3000));
  }
}

function wireForms() {
  $('sign-in-form').addEventListener('submit', event => {
    event.preventDefault();
    token.set($('token-input').value.trim());
    $('token-input').value = '';
    start();
  });
  $('sign-out').addEventListener('click', () => { token.clear(); showSignIn(); });
  $('nic-form').addEventListener('submit', event => {
    event.preventDefault();
    act($('nic-add'), $('nic-form-problem'), async () => {
      const created = await sendJson('POST', '/api/v1/nics', { spec: $('nic-spec').value.trim() });
      $('nic-spec').value = '';
      if (created?.warning) $('nic-form-problem').textContent = created.warning;
      await refreshNics();
    });
  });
  $('module-form').addEventListener('submit', event => {
    event.preventDefault();
    act($('module-load'), $('module-form-problem'), async () => {
      await sendJson('POST', '/api/v1/modules', { path: $('module-path').value.trim() });
      $('module-path').value = '';
      await refreshModules();
    });
  });
}

onUnauthorized.handler = detail => {
  token.clear();
  showSignIn(`The server refused the token${detail ? `: ${detail}` : ''}. Paste the current one.`);
};
takeTokenFromFragment();
wireForms();
if (token.get()) start(); else showSignIn();
