// The topology as a picture: per NIC its VMM (attached or not), the NIC (personality, link) and
// its port — a tap, a socket, or a port of one of Polynic's switches, drawn as the switch with
// its ports and VLANs.

import { svg } from './plot.js';

const row = 70, nicX = 90, nicWidth = 230, portX = 400, portWidth = 250, vmmX = 30;

/** What a NIC's port is, from its name: tap:IF, stream-*:ADDR / dgram..., SWITCH:NIC, none. */
export function portKind(nic, switches) {
  const port = nic.port ?? '';
  if (!port) return 'none';
  if (port.startsWith('tap:')) return 'tap';
  if (switches.some(s => port.startsWith(`${s.name}:`))) return 'switch';
  if (/^(stream-server|stream-client|dgram):/.test(port)) return 'socket';
  // A switch port is named SWITCH:NIC; without the switch list it is still recognisable.
  return /^[A-Za-z][A-Za-z0-9_.-]*:/.test(port) ? 'switch' : 'other';
}

/** The link as one word: up, down (cable pulled) or unknown (no detail). */
export function linkState(detail) {
  if (!detail?.link) return 'unknown';
  return detail.link.up === false || detail.link.cable === false ? 'down' : 'up';
}

export function drawTopology(element, nics, details, switches) {
  element.replaceChildren();
  // Switch ports first, grouped by switch, so each switch is one box beside its NICs.
  const rows = [];
  const groups = [];
  for (const s of switches) {
    const members = nics.filter(n => (n.port ?? '').startsWith(`${s.name}:`));
    // A port is named after its NIC, with or without the switch's prefix.
    const ownedBy = (p, n) => p.name === n.port || p.name === n.name || `${s.name}:${p.name}` === n.port;
    const extraPorts = s.ports.filter(p => !members.some(n => ownedBy(p, n)));
    groups.push({ sw: s, first: rows.length, count: members.length + extraPorts.length });
    for (const n of members) rows.push({ nic: n, sw: s });
    for (const p of extraPorts) rows.push({ sw: s, orphan: p });
  }
  for (const n of nics) if (!rows.some(r => r.nic === n)) rows.push({ nic: n });

  const heightOf = Math.max(1, rows.length) * row + 20;
  element.setAttribute('viewBox', `0 0 ${portX + portWidth + 20} ${heightOf}`);
  element.setAttribute('data-nics', String(nics.length));
  if (rows.length === 0) {
    element.append(svg('text', { x: 20, y: 40, class: 'topology-empty' }, 'no NICs'));
    return;
  }

  for (const g of groups) {
    const y = 10 + g.first * row;
    const box = svg('g', { 'data-switch': g.sw.name, 'data-role': 'topology-switch' });
    box.append(svg('rect', { x: portX, y, width: portWidth, height: g.count * row - 10, rx: 6, class: 'switch' }));
    box.append(svg('text', { x: portX + portWidth - 8, y: y + 16, 'text-anchor': 'end', class: 'switch-name' },
      `switch ${g.sw.name}`));
    box.append(svg('text', { x: portX + portWidth - 8, y: y + 30, 'text-anchor': 'end', class: 'small' },
      `${g.sw.macTable?.length ?? 0} MACs learned`));
    element.append(box);
  }

  rows.forEach((r, i) => {
    const y = 10 + i * row;
    const middle = y + (row - 10) / 2;
    if (r.orphan) {
      element.append(portBox(r.sw.name, r.orphan, y));
      return;
    }
    const nic = r.nic;
    const detail = details.get(nic.name);
    const kind = portKind(nic, switches);
    const link = linkState(detail);
    const connected = detail?.connected ?? nic.connected;
    const group = svg('g', {
      'data-role': 'topology-nic', 'data-nic': nic.name, 'data-personality': nic.personality,
      'data-connected': String(connected), 'data-link': link, 'data-port-kind': kind, 'data-state': nic.state,
    });
    // The VMM end: filled when a VMM is attached.
    group.append(svg('circle', { cx: vmmX, cy: middle, r: 14, class: connected ? 'vmm attached' : 'vmm detached' }));
    group.append(svg('text', { x: vmmX, y: middle + 4, 'text-anchor': 'middle', class: 'small vmm-label' }, 'VMM'));
    group.append(svg('line', { x1: vmmX + 14, y1: middle, x2: nicX, y2: middle, class: connected ? 'wire' : 'wire absent' }));

    group.append(svg('rect', { x: nicX, y, width: nicWidth, height: row - 10, rx: 4, class: `nic ${nic.state}` }));
    group.append(svg('text', { x: nicX + 8, y: y + 18, class: 'nic-name' }, `${nic.name}`));
    group.append(svg('text', { x: nicX + nicWidth - 8, y: y + 18, 'text-anchor': 'end', class: 'personality' }, nic.personality));
    const status = nic.state === 'failed' ? `failed: ${nic.reason ?? ''}`
      : `${connected ? 'VMM attached' : 'no VMM'} · link ${link}${detail?.link && detail.link.carrier === false && link === 'up' ? ' (no carrier)' : ''}`;
    group.append(svg('text', { x: nicX + 8, y: y + 38, class: 'small', 'data-role': 'topology-status' }, status));
    if (detail?.interrupts) {
      group.append(svg('text', { x: nicX + 8, y: y + 53, class: 'small' },
        `${detail.interrupts.mode}${detail.interrupts.vectors ? ` ×${detail.interrupts.vectors}` : ''} · ${detail.dmaRegions ?? 0} DMA regions`));
    }

    group.append(svg('line', { x1: nicX + nicWidth, y1: middle, x2: portX, y2: middle, class: link === 'down' ? 'wire absent' : 'wire' }));
    if (kind === 'switch') {
      const switchName = r.sw?.name ?? nic.port.slice(0, nic.port.indexOf(':'));
      const name = nic.port.slice(switchName.length + 1);
      const p = r.sw?.ports.find(q => q.name === name || q.name === nic.name || q.name === nic.port) ?? { name: `${switchName}:${name}` };
      group.append(portLabel(p, y, middle));
    } else {
      group.append(svg('rect', { x: portX, y: y + 8, width: portWidth, height: row - 26, rx: 4, class: `port ${kind}` }));
      group.append(svg('text', { x: portX + 8, y: middle + 4, class: 'port-name', 'data-role': 'topology-port' },
        kind === 'none' ? 'unplugged' : nic.port));
    }
    element.append(group);
  });
}

function vlanText(p) {
  if (p.trunk) return ` · trunk ${[].concat(p.trunk).join(',')}`;
  return p.vlan === undefined ? '' : ` · vlan ${p.vlan}`;
}

function portLabel(p, y, middle) {
  const group = svg('g', { 'data-port': p.name });
  group.append(svg('rect', { x: portX - 6, y: middle - 6, width: 12, height: 12, class: 'switch-port' }));
  group.append(svg('text', { x: portX + 12, y: middle + 4, class: 'port-name', 'data-role': 'topology-port' },
    `port ${p.name}${vlanText(p)}`));
  return group;
}

function portBox(switchName, p, y) {
  const middle = y + (row - 10) / 2;
  const group = portLabel(p, y, middle);
  group.setAttribute('data-switch-port', `${switchName}:${p.name}`);
  return group;
}
