// Small SVG charts for the dashboard, drawn here with no library: a ring for a rate, horizontal
// stacked bars, stacked columns and a grid of counts. Each returns an <svg> element sized by its
// viewBox (the page's CSS sets the width); text goes in with textContent, colours as attributes
// (the pages' CSP allows no inline style). Every mark has a <title>, so a pointer or a screen
// reader gets the number.

const NS = 'http://www.w3.org/2000/svg';

// PALETTE tells series apart; it repeats after eight.
export const PALETTE = ['#1f5fbf', '#e08a1e', '#2e9d5b', '#c62828', '#7b4fb5', '#0f8a8a', '#8d6e63', '#5f6b7d'];
export const color = (i) => PALETTE[i % PALETTE.length];

function node(tag, attrs = {}, text) {
  const e = document.createElementNS(NS, tag);
  for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, String(v));
  if (text !== undefined) e.textContent = text;
  return e;
}

// svg is drawn at its natural size; CSS may shrink it to fit (max-width), never blow it up.
function svg(width, height, label) {
  const s = node('svg', { viewBox: `0 0 ${width} ${height}`, width, height, role: 'img', 'aria-label': label, class: 'chart' });
  s.append(node('title', {}, label));
  return s;
}

function titled(e, text) {
  e.append(node('title', {}, text));
  return e;
}

// ring draws a share (0–1) as a ring with the percentage inside.
export function ring(value, label) {
  const s = svg(120, 120, label);
  const r = 48;
  const c = 2 * Math.PI * r;
  s.append(node('circle', { cx: 60, cy: 60, r, fill: 'none', stroke: '#e3e7ee', 'stroke-width': 14 }));
  const v = Math.max(0, Math.min(1, value));
  // The arc starts at twelve o'clock and runs clockwise.
  s.append(titled(node('circle', {
    cx: 60, cy: 60, r, fill: 'none', stroke: PALETTE[0], 'stroke-width': 14,
    'stroke-dasharray': `${(v * c).toFixed(2)} ${c.toFixed(2)}`, transform: 'rotate(-90 60 60)', class: 'ring-value',
  }), label));
  s.append(node('text', { x: 60, y: 66, 'text-anchor': 'middle', 'font-size': 18, 'font-weight': 600, fill: '#1d2330' },
    `${(v * 100).toFixed(1)}%`));
  return s;
}

// hbars draws one bar per row, its parts stacked: rows [{label, parts: [n, …]}], parts named by
// names (for titles).
export function hbars(rows, names, label) {
  const rowH = 26;
  const left = 180;
  const width = 640;
  const s = svg(width, rows.length * rowH + 8, label);
  const max = Math.max(1, ...rows.map((r) => r.parts.reduce((a, b) => a + b, 0)));
  const scale = (width - left - 40) / max;
  rows.forEach((row, i) => {
    const y = 4 + i * rowH;
    const g = node('g', { class: 'bar-row', 'data-label': row.label });
    g.append(node('text', { x: left - 8, y: y + 17, 'text-anchor': 'end', 'font-size': 13, fill: '#1d2330' }, row.label));
    let x = left;
    row.parts.forEach((n, j) => {
      if (!n) return;
      const w = n * scale;
      g.append(titled(node('rect', { x, y: y + 3, width: w.toFixed(2), height: rowH - 8, fill: color(j), class: 'bar', 'data-value': n }),
        `${row.label} · ${names[j]}: ${n}`));
      x += w;
    });
    const total = row.parts.reduce((a, b) => a + b, 0);
    g.append(node('text', { x: x + 6, y: y + 17, 'font-size': 13, fill: '#5f6b7d' }, String(total)));
    s.append(g);
  });
  return s;
}

// columns draws stacked columns: one per x label, series [{name, values: [n per x]}].
export function columns(xs, series, label) {
  const width = 720;
  const height = 240;
  const left = 36;
  const bottom = 28;
  const s = svg(width, height, label);
  const totals = xs.map((_, i) => series.reduce((a, sr) => a + (sr.values[i] || 0), 0));
  const max = Math.max(1, ...totals);
  const plotH = height - bottom - 12;
  const step = (width - left - 8) / Math.max(1, xs.length);
  const barW = Math.max(4, step * 0.62);
  // Four grid lines with their counts.
  for (let k = 0; k <= 4; k++) {
    const v = Math.round((max * k) / 4);
    const y = 12 + plotH - (v / max) * plotH;
    s.append(node('line', { x1: left, x2: width - 8, y1: y, y2: y, stroke: '#e3e7ee' }));
    s.append(node('text', { x: left - 6, y: y + 4, 'text-anchor': 'end', 'font-size': 11, fill: '#5f6b7d' }, String(v)));
  }
  xs.forEach((x, i) => {
    const cx = left + step * i + (step - barW) / 2;
    const g = node('g', { class: 'column', 'data-x': x, 'data-total': totals[i] });
    let y = 12 + plotH;
    series.forEach((sr, j) => {
      const n = sr.values[i] || 0;
      if (!n) return;
      const h = (n / max) * plotH;
      y -= h;
      g.append(titled(node('rect', { x: cx.toFixed(2), y: y.toFixed(2), width: barW.toFixed(2), height: h.toFixed(2), fill: color(j), class: 'bar', 'data-value': n }),
        `${x} · ${sr.name}: ${n}`));
    });
    g.append(node('text', { x: (cx + barW / 2).toFixed(2), y: height - 10, 'text-anchor': 'middle', 'font-size': 11, fill: '#5f6b7d' }, x));
    s.append(g);
  });
  return s;
}

// grid draws a table of counts as shaded cells: rows × cols, cell(r, c) the count.
export function grid(rows, cols, cell, label) {
  const left = 150;
  const top = 30;
  const cw = 120;
  const ch = 28;
  const s = svg(left + cols.length * cw + 4, top + rows.length * ch + 4, label);
  let max = 1;
  rows.forEach((_, r) => cols.forEach((__, c) => { max = Math.max(max, cell(r, c)); }));
  cols.forEach((name, c) => {
    const x = left + c * cw + cw / 2;
    s.append(node('text', { x, y: top - 10, 'text-anchor': 'middle', 'font-size': 12, fill: '#1d2330' }, name));
  });
  rows.forEach((name, r) => {
    const y = top + r * ch;
    s.append(node('text', { x: left - 8, y: y + 18, 'text-anchor': 'end', 'font-size': 12, fill: '#1d2330' }, name));
    cols.forEach((col, c) => {
      const n = cell(r, c);
      const x = left + c * cw;
      // Shade from white to the palette's blue by the share of the largest cell.
      const a = n ? 0.15 + 0.85 * (n / max) : 0;
      s.append(titled(node('rect', { x: x + 1, y: y + 1, width: cw - 2, height: ch - 2, fill: PALETTE[0], 'fill-opacity': a.toFixed(3),
        stroke: '#e3e7ee', class: 'cell', 'data-row': name, 'data-col': col, 'data-value': n }), `${name} · ${col}: ${n}`));
      s.append(node('text', { x: x + cw / 2, y: y + 18, 'text-anchor': 'middle', 'font-size': 12, fill: a > 0.55 ? '#fff' : '#1d2330' }, String(n)));
    });
  });
  return s;
}

// legend lists names with their colours, as HTML.
export function legend(names) {
  const ul = document.createElement('ul');
  ul.className = 'chart-legend';
  names.forEach((n, i) => {
    const li = document.createElement('li');
    const sw = node('svg', { width: 12, height: 12, 'aria-hidden': 'true' });
    sw.append(node('rect', { width: 12, height: 12, rx: 2, fill: color(i) }));
    li.append(sw, document.createTextNode(n));
    ul.append(li);
  });
  return ul;
}
