// The leaders' dashboard: the rates of a scope and period with their parts, overdue cases by
// unit, and the cases by category × territory × month, drawn as SVG by charts.js. Every figure
// comes from GET /api/v1/rates, which computes it from the cases' timelines at the time of the
// request; the page only draws.

import { $, start, fail, today } from './staff.js';
import { api } from './api.js';
import { t, onLangChange } from './i18n.js';
import { ring, hbars, columns, grid, legend } from './charts.js';

// The roles that may read the statistics (the server's policy table, stats.read): the scope
// choices are the subtrees of the caller's grants in these roles. The server checks again.
const STATS_ROLES = ['leader', 'supervisor'];
const RATES = ['timely_routing', 'timely_forwarding', 'timely_acceptance', 'on_time_closure', 'satisfaction', 'participation', 'repeat', 'repetitioned'];

const units = new Map(); // id → unit
const categories = new Map(); // id → name
let data = null;
let loads = 0;

const unitName = (id) => units.get(id)?.name || `#${id}`;
const categoryName = (id) => categories.get(id) || `#${id}`;
// A territory is a division code; the unit with that code names it.
function territoryName(code) {
  for (const u of units.values()) if (u.code === code) return u.name;
  return code;
}

// months lists YYYY-MM from from to to, inclusive.
function months(from, to) {
  const out = [];
  let [y, m] = from.split('-').map(Number);
  const [ty, tm] = to.split('-').map(Number);
  while ((y < ty || (y === ty && m <= tm)) && out.length < 240) {
    out.push(`${y}-${String(m).padStart(2, '0')}`);
    m += 1;
    if (m > 12) {
      m = 1;
      y += 1;
    }
  }
  return out;
}

// lastDay is the last day of the month YYYY-MM, as YYYY-MM-DD.
function lastDay(month) {
  const [y, m] = month.split('-').map(Number);
  return new Date(Date.UTC(y, m, 0)).toISOString().slice(0, 10);
}

function el(tag, text, cls) {
  const e = document.createElement(tag);
  if (text !== undefined) e.textContent = text;
  if (cls) e.className = cls;
  return e;
}

function fillScope(me) {
  const sel = $('f-unit');
  const keep = sel.value;
  sel.replaceChildren();
  const all = el('option', t('db.f.all'));
  all.value = '';
  sel.append(all);
  const roots = me.grants.filter((g) => STATS_ROLES.includes(g.role)).map((g) => units.get(g.unit_id)?.path).filter(Boolean);
  const list = [...units.values()].filter((u) => roots.some((p) => u.path.startsWith(p))).sort((a, b) => a.path.localeCompare(b.path));
  const depth = (u) => u.path.split('/').length;
  const top = Math.min(...list.map(depth));
  for (const u of list) {
    const o = el('option', `${'　'.repeat(Math.max(0, depth(u) - top))}${u.name}`);
    o.value = String(u.id);
    sel.append(o);
  }
  sel.value = keep;
}

function renderRates() {
  const box = $('db-rates');
  box.replaceChildren();
  for (const key of RATES) {
    const r = data[key];
    const card = el('div', undefined, 'db-rate');
    card.id = `rate-${key}`;
    card.dataset.num = String(r.num);
    card.dataset.den = String(r.den);
    card.append(el('h3', t(`db.rate.${key}`)));
    if (r.den > 0) card.append(ring(r.value, t(`db.rate.${key}`)));
    else card.append(el('div', t('db.noData'), 'db-nodata'));
    card.append(el('p', t('db.parts', { num: r.num, den: r.den }), 'db-parts'));
    card.append(el('p', t(`db.rate.${key}.what`, { days: data.repetition_days, perLevel: data.forward_days_per_level }), 'muted small'));
    if (key === 'satisfaction') {
      const s = data.satisfaction_scores;
      card.append(el('p', t('db.scores', { satisfied: s.satisfied, basically: s.basically, unsatisfied: s.unsatisfied }), 'small'));
    }
    box.append(card);
  }
}

function renderOverdue() {
  const box = $('db-overdue');
  const names = [t('rv.db.overdue.routing'), t('db.overdue.forwarding'), t('db.overdue.acceptance'), t('db.overdue.handling')];
  $('db-overdue-legend').replaceChildren(legend(names));
  if (!data.overdue.length) {
    box.replaceChildren(el('p', t('db.overdue.none'), 'muted'));
    return;
  }
  box.replaceChildren(hbars(data.overdue.map((o) => ({ label: unitName(o.unit_id), parts: [o.routing, o.forwarding, o.acceptance, o.handling] })), names,
    t('db.overdue')));
}

// renderOutcomes lists the cases that ended by how, each outcome on its own row (the API gives
// every outcome, 0 included), and the closed ones that name none.
function renderOutcomes() {
  const rows = $('db-outcomes');
  rows.replaceChildren();
  const add = (label, n, id) => {
    const tr = el('tr');
    tr.append(el('td', label));
    const td = el('td', String(n));
    td.id = id;
    tr.append(td);
    rows.append(tr);
  };
  for (const [o, n] of Object.entries(data.outcomes || {})) add(t('rv.out.' + o), n, `outcome-${o}`);
  if (data.unclassified) add(t('rv.db.unclassified'), data.unclassified, 'outcome-unclassified');
}

function renderCounts(from, to) {
  const cats = [...new Set(data.counts.map((c) => c.category_id))].sort((a, b) => a - b);
  const terrs = [...new Set(data.counts.map((c) => c.territory))].sort();
  const xs = months(from, to);
  const series = cats.map((id) => ({
    name: categoryName(id),
    values: xs.map((m) => data.counts.filter((c) => c.category_id === id && c.month === m).reduce((a, c) => a + c.count, 0)),
  }));
  $('db-months-legend').replaceChildren(legend(series.map((s) => s.name)));
  const rows = $('db-rows');
  rows.replaceChildren();
  if (!data.counts.length) {
    $('db-months').replaceChildren(el('p', t('db.counts.none'), 'muted'));
    $('db-territory').replaceChildren(el('p', t('db.counts.none'), 'muted'));
    return;
  }
  $('db-months').replaceChildren(columns(xs, series, t('db.months')));
  const sum = (terr, cat) => data.counts.filter((c) => c.territory === terr && c.category_id === cat).reduce((a, c) => a + c.count, 0);
  $('db-territory').replaceChildren(grid(terrs.map(territoryName), cats.map(categoryName), (r, c) => sum(terrs[r], cats[c]), t('db.territory')));
  for (const c of data.counts) {
    const tr = el('tr');
    for (const text of [c.month, territoryName(c.territory), categoryName(c.category_id), String(c.count)]) tr.append(el('td', text));
    rows.append(tr);
  }
}

function render() {
  if (!data) return;
  const from = $('f-from').value;
  const to = $('f-to').value;
  const summary = $('db-summary');
  summary.replaceChildren();
  const n = el('strong', String(data.cases));
  n.id = 'db-cases';
  n.dataset.count = String(data.cases);
  summary.append(document.createTextNode(t('db.summary.before', { scope: data.unit_id ? unitName(data.unit_id) : t('db.f.all'), from, to })), n,
    document.createTextNode(t('db.summary.after')));
  const unc = $('db-uncounted');
  unc.hidden = !data.uncounted;
  unc.textContent = t('db.uncounted', { n: data.uncounted });
  renderRates();
  renderOutcomes();
  renderOverdue();
  renderCounts(from, to);
}

async function load() {
  $('db-error').hidden = true;
  const from = $('f-from').value;
  const to = $('f-to').value;
  if (!from || !to) return;
  const q = new URLSearchParams({ from: `${from}-01`, to: lastDay(to) });
  if ($('f-unit').value) q.set('unit_id', $('f-unit').value);
  if ($('f-days').value) q.set('repetition_days', $('f-days').value);
  try {
    data = await api('GET', `/api/v1/rates?${q}`);
    render();
    loads += 1;
    window.sanjiDashboard = { loads, data };
  } catch (err) {
    fail($('db-error'), err, $('db-filters'));
  }
}

const me = await start();
if (me) {
  const thisMonth = today().slice(0, 7);
  const [y, m] = thisMonth.split('-').map(Number);
  const first = new Date(Date.UTC(y, m - 12, 1)).toISOString().slice(0, 7);
  $('f-from').value = first;
  $('f-to').value = thisMonth;
  try {
    const [u, c] = await Promise.all([api('GET', '/api/v1/units'), api('GET', '/api/v1/categories')]);
    for (const x of u.units) units.set(x.id, x);
    for (const x of c.categories) categories.set(x.id, x.name);
  } catch {
    // Names are a convenience: without them the page shows numbers and codes.
  }
  fillScope(me);
  $('db-filters').addEventListener('submit', (ev) => {
    ev.preventDefault();
    load();
  });
  $('f-unit').addEventListener('change', load);
  onLangChange(() => {
    fillScope(me);
    render();
  });
  await load();
}
