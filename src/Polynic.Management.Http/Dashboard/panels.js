// The NIC cards (state, link toggle, throughput, faults, capture, remove) and the module catalog.

import { request, sendJson } from './api.js';
import { ThroughputPlot } from './plot.js';
import { linkState } from './topology.js';

function html(tag, attributes = {}, ...children) {
  const element = document.createElement(tag);
  for (const [key, value] of Object.entries(attributes)) {
    if (value === false || value === undefined || value === null) continue;
    element.setAttribute(key, value === true ? '' : String(value));
  }
  element.append(...children);
  return element;
}

/** Runs an API call for a button: disabled meanwhile, refusals shown in `problem` (the server's detail). */
export async function act(button, problem, action) {
  if (button) button.disabled = true;
  if (problem) { problem.textContent = ''; problem.removeAttribute('data-status'); }
  try {
    return await action();
  } catch (e) {
    if (problem) {
      problem.textContent = e.message;
      problem.dataset.status = String(e.status ?? '');
    }
    return undefined;
  } finally {
    if (button) button.disabled = false;
  }
}

const faultSliders = [
  { key: 'drop', label: 'drop', max: 1, step: 0.01 },
  { key: 'corrupt', label: 'corrupt', max: 0.2, step: 0.005 },
  { key: 'delayMs', label: 'delay ms', max: 500, step: 5 },
];

export class NicCard {
  constructor(name, refresh) {
    this.name = name;
    this.refresh = refresh;
    this.capture = null;
    this.plot = new ThroughputPlot(name);
    const e = {};
    e.state = html('span', { 'data-role': 'nic-state' });
    e.personality = html('span', { class: 'personality', 'data-role': 'nic-personality' });
    e.port = html('span', { 'data-role': 'nic-port' });
    e.connected = html('span', { 'data-role': 'nic-connected' });
    e.link = html('span', { 'data-role': 'link-state' });
    e.linkToggle = html('button', { type: 'button', 'data-role': 'link-toggle', 'data-nic': name }, 'link');
    e.linkProblem = html('span', { class: 'problem', 'data-role': 'link-problem' });
    e.remove = html('button', { type: 'button', 'data-role': 'nic-remove', 'data-nic': name }, 'Remove');
    e.removeProblem = html('span', { class: 'problem', 'data-role': 'nic-problem' });
    e.counters = html('span', { class: 'small', 'data-role': 'nic-counters' });

    const faults = html('fieldset', { class: 'faults', 'data-role': 'faults' }, html('legend', {}, 'Faults'));
    e.sliders = {};
    for (const f of faultSliders) {
      const input = html('input', { type: 'range', min: 0, max: f.max, step: f.step, value: 0, 'data-role': `fault-${f.key}`, 'data-nic': name });
      const value = html('output', { 'data-role': `fault-${f.key}-value` }, '0');
      input.addEventListener('input', () => { value.textContent = input.value; });
      e.sliders[f.key] = input;
      faults.append(html('label', {}, `${f.label} `, input, ' ', value));
    }
    e.faultsApply = html('button', { type: 'button', 'data-role': 'faults-apply', 'data-nic': name }, 'Apply');
    e.faultsClear = html('button', { type: 'button', 'data-role': 'faults-clear', 'data-nic': name }, 'Clear');
    e.faultsMessage = html('span', { class: 'problem', 'data-role': 'faults-message' });
    faults.append(e.faultsApply, e.faultsClear, e.faultsMessage);

    const capture = html('fieldset', { class: 'capture', 'data-role': 'capture' }, html('legend', {}, 'Capture'));
    e.captureStart = html('button', { type: 'button', 'data-role': 'capture-start', 'data-nic': name }, 'Start');
    e.captureStop = html('button', { type: 'button', 'data-role': 'capture-stop', 'data-nic': name, disabled: true }, 'Stop');
    e.captureDownload = html('button', { type: 'button', 'data-role': 'capture-download', 'data-nic': name, disabled: true }, 'Download');
    e.captureDelete = html('button', { type: 'button', 'data-role': 'capture-delete', 'data-nic': name, disabled: true }, 'Delete');
    e.captureStatus = html('span', { class: 'small', 'data-role': 'capture-status' }, 'no capture');
    e.captureProblem = html('span', { class: 'problem', 'data-role': 'capture-problem' });
    capture.append(e.captureStart, e.captureStop, e.captureDownload, e.captureDelete, ' ', e.captureStatus, ' ', e.captureProblem);

    this.element = html('article', { class: 'nic-card', 'data-nic': name, 'data-role': 'nic' },
      html('h3', {}, name, ' ', e.personality, ' ', e.state),
      html('p', {}, 'port ', e.port, ' · ', e.connected, ' · link ', e.link, ' ', e.linkToggle, ' ', e.linkProblem),
      html('p', {}, e.counters),
      this.plot.element,
      html('div', { class: 'controls' }, faults, capture),
      html('p', {}, e.remove, ' ', e.removeProblem));
    this.e = e;
    this.wire();
  }

  wire() {
    const e = this.e, nic = encodeURIComponent(this.name);
    e.linkToggle.addEventListener('click', () => act(e.linkToggle, e.linkProblem, async () => {
      const up = e.linkToggle.dataset.next === 'up';
      this.update(this.status, await sendJson('PUT', `/api/v1/nics/${nic}/link`, { up }));
    }));
    const sendFaults = (button, spec) => act(button, e.faultsMessage, async () => {
      await sendJson('PUT', `/api/v1/nics/${nic}/faults`, { spec });
      e.faultsMessage.textContent = spec === 'none' ? 'cleared' : `applied: ${spec}`;
      e.faultsMessage.dataset.status = 'ok';
    });
    e.faultsApply.addEventListener('click', () =>
      sendFaults(e.faultsApply, faultSliders.map(f => `${f.key}=${e.sliders[f.key].value}`).join(',')));
    e.faultsClear.addEventListener('click', () => {
      for (const f of faultSliders) { e.sliders[f.key].value = 0; e.sliders[f.key].dispatchEvent(new Event('input')); }
      sendFaults(e.faultsClear, 'none');
    });
    e.captureStart.addEventListener('click', () => act(e.captureStart, e.captureProblem, async () => {
      this.showCapture(await sendJson('POST', '/api/v1/captures', { nic: this.name }));
    }));
    e.captureStop.addEventListener('click', () => act(e.captureStop, e.captureProblem, async () => {
      this.showCapture(await sendJson('POST', `/api/v1/captures/${encodeURIComponent(this.capture.id)}/stop`));
    }));
    e.captureDownload.addEventListener('click', () => act(e.captureDownload, e.captureProblem, async () => {
      // Fetched with the token and handed to the browser as a blob: a plain link could not send it.
      const response = await request('GET', `/api/v1/captures/${encodeURIComponent(this.capture.id)}/pcapng`);
      const url = URL.createObjectURL(await response.blob());
      const link = html('a', { href: url, download: `${this.name}-${this.capture.id}.pcapng`, hidden: true });
      document.body.append(link);
      link.click();
      link.remove();
      setTimeout(() => URL.revokeObjectURL(url), 60_000);
      e.captureStatus.dataset.downloaded = 'true';
    }));
    e.captureDelete.addEventListener('click', () => act(e.captureDelete, e.captureProblem, async () => {
      // The server stops it first if it still runs; its files are gone afterwards.
      await sendJson('DELETE', `/api/v1/captures/${encodeURIComponent(this.capture.id)}`);
      this.showCapture(null);
    }));
    e.remove.addEventListener('click', () => act(e.remove, e.removeProblem, async () => {
      const removed = await sendJson('DELETE', `/api/v1/nics/${nic}`);
      if (removed?.warning) e.removeProblem.textContent = removed.warning;
      await this.refresh();
    }));
  }

  /** A capture of this NIC as the server reports it (CaptureInfo), or null. */
  showCapture(info) {
    const e = this.e;
    this.capture = info;
    const running = info?.state === 'running';
    e.captureStart.disabled = running;
    e.captureStop.disabled = !running;
    e.captureDownload.disabled = !info;
    e.captureDelete.disabled = !info;
    e.captureStatus.dataset.state = info?.state ?? 'none';
    e.captureStatus.dataset.capture = info?.id ?? '';
    e.captureStatus.textContent = info ? `${info.id}: ${info.state}, ${info.packets ?? 0} packets, ${info.bytes ?? 0} bytes` : 'no capture';
  }

  /** Shows the NIC's status (GET /nics) and, when the server has it, its detail (GET /nics/{name}/detail). */
  update(status, detail, time = performance.now()) {
    const e = this.e;
    this.status = status;
    if (detail) this.detail = detail;
    const d = this.detail;
    const connected = d?.connected ?? status.connected;
    e.personality.textContent = status.personality;
    e.state.textContent = status.state === 'failed' ? `failed: ${status.reason ?? ''}` : status.state;
    e.state.dataset.state = status.state;
    e.port.textContent = status.port ?? 'unplugged';
    e.connected.textContent = connected ? 'VMM attached' : 'no VMM';
    e.connected.dataset.connected = String(connected);
    const link = linkState(d);
    e.link.textContent = link + (d?.link?.carrier === false && link === 'up' ? ' (no carrier)' : '');
    e.link.dataset.link = link;
    e.linkToggle.dataset.link = link;
    e.linkToggle.dataset.next = link === 'down' ? 'up' : 'down';
    e.linkToggle.textContent = link === 'down' ? 'Plug cable (link up)' : 'Pull cable (link down)';
    this.element.dataset.connected = String(connected);
    this.element.dataset.link = link;
    if (detail?.counters) {
      this.plot.add(detail.counters, time);
      const c = detail.counters;
      e.counters.textContent = `rx ${c.rx_frames ?? 0} frames / ${c.rx_bytes ?? 0} B · tx ${c.tx_frames ?? 0} frames / ${c.tx_bytes ?? 0} B`;
    }
  }
}

export function renderModules(tbody, modules, onUnload) {
  tbody.replaceChildren(...modules.map(m => {
    const problem = html('span', { class: 'problem', 'data-role': 'problem' });
    const unload = html('button', { type: 'button', 'data-role': 'module-unload', 'data-module': m.name }, 'Unload');
    unload.addEventListener('click', () => onUnload(m.name, unload, problem));
    const state = String(m.state).toLowerCase();
    return html('tr', { 'data-module': m.name, 'data-state': state },
      html('td', {}, m.name),
      html('td', {}, String(m.kind).toLowerCase()),
      html('td', { title: m.reason ?? '' }, state + (m.reason ? `: ${m.reason}` : '')),
      html('td', {}, (m.personalities ?? []).join(', ') + (m.dependsOn ? ` (behaviour of ${m.dependsOn})` : '')),
      html('td', { class: 'small' }, m.file),
      html('td', {}, unload, ' ', problem));
  }));
}

export function logEvent(list, type, data) {
  const time = data.time ? new Date(data.time) : new Date();
  const subject = data.nic ?? data.module ?? data.capture ?? '';
  const item = html('li', { 'data-type': type, 'data-subject': subject },
    html('time', { datetime: time.toISOString() }, time.toLocaleTimeString()), ' ',
    html('strong', {}, type), ' ', subject, data.detail ? ` — ${data.detail}` : '');
  list.prepend(item);
  while (list.children.length > 200) list.lastElementChild.remove();
}
