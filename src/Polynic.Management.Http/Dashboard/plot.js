// Live throughput of one NIC from its counters: rates between successive samples of the
// cumulative counters, drawn as two small SVG line plots (frames/s and bits/s, rx and tx).

const svgNs = 'http://www.w3.org/2000/svg';
const keep = 60;           // samples shown (one a second: the last minute)
const width = 360, height = 64, left = 56, right = 4, top = 6;

export function svg(name, attributes = {}, text) {
  const element = document.createElementNS(svgNs, name);
  for (const [key, value] of Object.entries(attributes)) element.setAttribute(key, String(value));
  if (text !== undefined) element.textContent = text;
  return element;
}

export function formatRate(value, unit) {
  const steps = [[1e9, 'G'], [1e6, 'M'], [1e3, 'k']];
  for (const [size, prefix] of steps) if (value >= size) return `${(value / size).toFixed(1)} ${prefix}${unit}`;
  return `${value.toFixed(value < 10 && value > 0 ? 1 : 0)} ${unit}`;
}

export class ThroughputPlot {
  constructor(nic) {
    this.previous = null;
    this.rates = [];
    this.element = svg('svg', {
      viewBox: `0 0 ${width} ${2 * height + 8}`, class: 'plot', 'data-role': 'throughput', 'data-nic': nic,
      'data-samples': 0, role: 'img', 'aria-label': `throughput of ${nic}`,
    });
    this.charts = [
      this.chart(0, 'frames/s', r => r.rxFrames, r => r.txFrames, 'frames'),
      this.chart(height + 8, 'bits/s', r => r.rxBits, r => r.txBits, 'bits'),
    ];
  }

  chart(y, unit, rx, tx, kind) {
    const group = svg('g', { transform: `translate(0 ${y})`, 'data-chart': kind });
    group.append(svg('rect', { x: left, y: top, width: width - left - right, height: height - top - 12, class: 'plot-frame' }));
    const max = svg('text', { x: left - 4, y: top + 8, class: 'plot-axis', 'text-anchor': 'end' }, '0');
    const label = svg('text', { x: left - 4, y: height - 12, class: 'plot-axis', 'text-anchor': 'end' }, unit);
    const rxLine = svg('polyline', { class: 'plot-rx', points: '', 'data-direction': 'rx' });
    const txLine = svg('polyline', { class: 'plot-tx', points: '', 'data-direction': 'tx' });
    const legend = svg('text', { x: left + 4, y: height - 1, class: 'plot-legend' }, '');
    group.append(max, label, rxLine, txLine, legend);
    this.element.append(group);
    return { rx, tx, max, rxLine, txLine, legend, unit };
  }

  /** Adds a sample of the NIC's cumulative counters (tx_frames, tx_bytes, rx_frames, rx_bytes) taken at time (ms). */
  add(counters, time) {
    const now = {
      time, rxFrames: counters.rx_frames ?? 0, txFrames: counters.tx_frames ?? 0,
      rxBytes: counters.rx_bytes ?? 0, txBytes: counters.tx_bytes ?? 0,
    };
    const before = this.previous;
    this.previous = now;
    if (!before || now.time <= before.time) return;
    const seconds = (now.time - before.time) / 1000;
    // A counter that went backwards was reset (NIC re-created): no rate for this interval.
    const rate = (a, b) => (a >= b ? (a - b) / seconds : 0);
    this.rates.push({
      rxFrames: rate(now.rxFrames, before.rxFrames), txFrames: rate(now.txFrames, before.txFrames),
      rxBits: 8 * rate(now.rxBytes, before.rxBytes), txBits: 8 * rate(now.txBytes, before.txBytes),
    });
    if (this.rates.length > keep) this.rates.shift();
    this.draw();
  }

  draw() {
    const last = this.rates[this.rates.length - 1];
    const e = this.element;
    e.dataset.samples = String(this.rates.length);
    e.dataset.rxFramesPerSecond = last.rxFrames.toFixed(1);
    e.dataset.txFramesPerSecond = last.txFrames.toFixed(1);
    e.dataset.rxBitsPerSecond = last.rxBits.toFixed(0);
    e.dataset.txBitsPerSecond = last.txBits.toFixed(0);
    for (const chart of this.charts) {
      const peak = Math.max(1, ...this.rates.map(r => Math.max(chart.rx(r), chart.tx(r))));
      chart.max.textContent = formatRate(peak, '').trim();
      const plotWidth = width - left - right, plotHeight = height - top - 12;
      const points = select => this.rates.map((r, i) => {
        const x = left + (plotWidth * (i + keep - this.rates.length)) / (keep - 1);
        const y = top + plotHeight - (plotHeight * select(r)) / peak;
        return `${x.toFixed(1)},${y.toFixed(1)}`;
      }).join(' ');
      chart.rxLine.setAttribute('points', points(chart.rx));
      chart.txLine.setAttribute('points', points(chart.tx));
      chart.legend.textContent = `rx ${formatRate(chart.rx(last), chart.unit)}   tx ${formatRate(chart.tx(last), chart.unit)}`;
    }
  }
}
