// Staff page for cases (信访事项): the cases in the caller's scope (or those they own) with their
// clocks, and one case in detail — facts as the server redacted them for this viewer, the running
// deadline with its explanation, the timeline, 交办 / 督办 / 会商 slips, and 包案 for leaders.

import { initPage, showUser, showError } from './nav.js';
import { api, requireLogin, ApiError } from './api.js';
import { t, onLangChange } from './i18n.js';
import { date, dateTime } from './time.js';
import { initForms } from './case-forms.js';
import { initDocs } from './case-docs.js';

initPage();

const $ = (id) => document.getElementById(id);
const STATUSES = ['registered', 'forwarded', 'assigned', 'objection_returned', 'accepted', 'not_accepted', 'in_progress',
  'extended', 'answered', 'review', 'rereview', 'closed', 'evaluated', 'archived'];
const units = new Map(); // id → unit, from the caller's units and the units they may route to
let me = null;
let current = 0;
let forms = null;
let docs = null;

const unitName = (id) => (id ? units.get(id)?.name || `#${id}` : t('cases.none'));
// Times are the office's (time.js): Beijing time, the zone the legal day is counted in.
const day = date;
const when = dateTime;

function fail(box, err) {
  showError(box, err instanceof ApiError ? err : null, t('err.network'));
}

function el(tag, text, cls) {
  const e = document.createElement(tag);
  if (text !== undefined) e.textContent = text;
  if (cls) e.className = cls;
  return e;
}

// deadlineBadges renders a deadline's due day with its warning and provisional marks.
function deadlineBadges(d) {
  const span = el('span');
  if (!d) {
    span.textContent = '—';
    return span;
  }
  span.append(el('span', d.due));
  if (d.warning >= 50 && d.party === 'unit') span.append(el('span', t('cases.warn.' + d.warning), 'warn warn-' + d.warning));
  if (d.provisional) {
    const p = el('span', t('cases.provisional'), 'warn provisional');
    p.title = d.note;
    span.append(p);
  }
  if (d.paused) span.append(el('span', t('cases.paused'), 'warn warn-50'));
  return span;
}

function fillStatusFilter() {
  const sel = $('f-status');
  const keep = sel.value;
  sel.replaceChildren(el('option', t('cases.filter.all')));
  sel.firstChild.value = '';
  for (const s of STATUSES) {
    const o = el('option', t('cs.' + s));
    o.value = s;
    sel.append(o);
  }
  sel.value = keep;
}

async function loadList() {
  $('list-error').hidden = true;
  try {
    const owned = $('f-owned').checked;
    const status = $('f-status').value;
    const res = await api('GET', owned ? '/api/v1/me/owned-cases' : `/api/v1/cases${status ? '?status=' + encodeURIComponent(status) : ''}`);
    const rows = $('case-rows');
    rows.replaceChildren();
    for (const { case: c, deadline } of res.cases) {
      if (owned && status && c.status !== status) continue;
      const tr = el('tr');
      tr.dataset.id = String(c.id);
      if (c.id === current) tr.className = 'selected';
      tr.append(el('td', c.number), el('td', c.title), el('td', t('cs.' + c.status)), el('td', unitName(c.responsible_unit_id)));
      const due = el('td');
      due.append(deadlineBadges(deadline));
      tr.append(due);
      const flags = [];
      if (c.supervised) flags.push(t('cases.flag.supervised'));
      if (c.owner_leader_id) flags.push(t('cases.flag.owned'));
      tr.append(el('td', flags.join('、')));
      tr.addEventListener('click', () => {
        location.hash = String(c.id);
      });
      rows.append(tr);
    }
    $('case-empty').hidden = rows.children.length > 0;
  } catch (err) {
    fail($('list-error'), err);
  }
}

// loadEscalated lists the open 督办 items that climbed to an office the caller supervises from
// (GET /supervisions/escalated); a row opens its case.
async function loadEscalated() {
  $('escalated').hidden = !me.can.includes('case.supervise');
  if ($('escalated').hidden) return;
  $('esc-error').hidden = true;
  try {
    const res = await api('GET', '/api/v1/supervisions/escalated');
    const rows = $('esc-rows');
    rows.replaceChildren();
    for (const s of res.supervisions) {
      const tr = el('tr');
      tr.dataset.case = String(s.case_id);
      tr.append(el('td', s.case_number), el('td', unitName(s.unit_id)), el('td', unitName(s.escalated_unit_id)),
        el('td', `${t('sup.' + s.level)} · ${t('esc.' + s.escalation)}`), el('td', s.deadline), el('td', String(s.overdue)));
      tr.addEventListener('click', () => {
        location.hash = String(s.case_id);
      });
      rows.append(tr);
    }
    $('esc-empty').hidden = rows.children.length > 0;
  } catch (err) {
    fail($('esc-error'), err);
  }
}

function fact(dl, key, value) {
  dl.append(el('dt', t(key)), el('dd', value));
}

function renderDeadline(d) {
  const box = $('d-deadline');
  box.replaceChildren();
  if (!d) {
    box.append(el('p', t('cases.noClock')));
    return;
  }
  const head = el('p');
  head.append(el('strong', d.party === 'petitioner' ? t('cases.dl.petitioner', { name: d.name, due: d.due })
    : t('cases.dl', { name: d.name, due: d.due, percent: d.percent })));
  head.append(deadlineBadges({ ...d, due: '' }));
  box.append(head);
  if (d.provisional) box.append(el('p', d.note, 'note'));
  box.append(el('p', d.explanation, 'muted'));
}

function renderTimeline(events) {
  const ol = $('d-timeline');
  ol.replaceChildren();
  for (const e of events) {
    let what = t('ev.' + e.kind);
    if (e.kind === 'status') what = e.from ? t('ev.status', { from: t('cs.' + e.from), to: t('cs.' + e.to) }) : t('cs.' + e.to);
    const li = el('li');
    li.append(el('span', `${when(e.at)} · ${what}`));
    const detail = [e.reason, e.days ? `+${e.days}` : '', e.actor].filter(Boolean).join(' · ');
    if (detail) li.append(el('span', ' — ' + detail, 'muted'));
    // An extension's written notice to the petitioner (the server leaves it out of redacted views).
    if (e.notice) li.append(el('div', t('cases.notice', { notice: e.notice }), 'muted small'));
    ol.append(li);
  }
}

function renderAssignments(list) {
  const ul = $('d-assignments');
  ul.replaceChildren();
  if (!list.length) ul.append(el('li', t('cases.none'), 'muted'));
  for (const a of list) {
    const li = el('li', t('cases.a', { unit: unitName(a.responsible_unit_id), due: a.feedback_due, objection: a.objection_due || '—',
      status: t('as.' + a.status) }));
    li.dataset.id = String(a.id);
    if (a.objection_reason) li.append(el('span', ' — ' + a.objection_reason, 'muted'));
    const obj = forms.objection(a);
    if (obj) li.append(obj);
    ul.append(li);
  }
}

function renderSupervisions(list) {
  const ul = $('d-supervisions');
  ul.replaceChildren();
  if (!list.length) ul.append(el('li', t('cases.none'), 'muted'));
  for (const s of list) {
    const li = el('li', t('cases.s', { level: t('sup.' + s.level), unit: unitName(s.unit_id), deadline: s.deadline,
      escalation: t('esc.' + s.escalation), closed: s.closed_at ? t('cases.s.closed', { opinion: t('op.' + s.opinion) }) : '' }));
    const reports = el('ul');
    for (const r of s.reports) {
      reports.append(el('li', t('cases.s.report', { kind: t('rep.' + r.kind), text: r.text }) +
        (r.requested_deadline ? ` → ${r.requested_deadline}${r.decision ? ' · ' + r.decision : ''}` : ''), 'muted'));
    }
    li.append(reports);
    ul.append(li);
  }
}

// renderConsultations shows each 会商 with the opinions, the units recorded absent (reason, who,
// when) and the units still missing; a member of the competent unit records an absence and signs,
// the sign button held back, with the missing units named, until every other unit is accounted for.
// events (the case's timeline) name who recorded each absence: the event bears the same instant.
function renderConsultations(list, events) {
  const box = $('d-consultations');
  box.replaceChildren();
  if (!list.length) box.append(el('p', t('cases.none'), 'muted'));
  const recorder = (a) => events.find((e) => e.kind === 'consultation_absence' && e.at === a.at)?.actor || `#${a.by}`;
  for (const k of list) {
    const div = el('div', undefined, 'case-consultation');
    div.dataset.id = String(k.id);
    div.append(el('p', t('cases.k.subject', { subject: k.subject })));
    const ul = el('ul', undefined, 'k-opinions');
    for (const o of k.opinions) {
      const li = el('li', `${unitName(o.unit_id)}：${o.text}`);
      if (o.dissent) li.append(el('span', t('cases.k.dissent'), 'dissent'));
      if (o.at) li.append(el('span', ' · ' + when(o.at), 'muted'));
      ul.append(li);
    }
    div.append(ul);
    if (k.absences.length) {
      const abs = el('ul', undefined, 'k-absences');
      for (const a of k.absences) {
        abs.append(el('li', t('quorum.absent', { unit: unitName(a.unit_id), reason: a.reason, by: recorder(a), at: when(a.at) }), 'muted'));
      }
      div.append(el('p', t('quorum.absences')), abs);
    }
    const missing = k.missing_unit_ids.map(unitName).join('、');
    if (!k.final && missing) div.append(el('p', t('quorum.missing', { units: missing }), 'warn warn-50 k-missing'));
    div.append(el('p', k.final ? t('cases.k.final', { conclusion: k.conclusion }) : t('cases.k.draft'), k.final ? '' : 'muted'));
    if (!k.final && me.can.includes('case.handle') && me.grants.some((g) => g.unit_id === k.competent_unit_id)) {
      div.append(competentControls(k, missing));
    }
    box.append(div);
  }
}

// competentControls: the competent unit's absence form and its signature, for consultation k.
function competentControls(k, missing) {
  const box = el('div', undefined, 'case-form k-competent');
  if (k.missing_unit_ids.length) {
    const f = el('div', undefined, 'row2');
    const sel = el('select', undefined, 'k-absent-unit');
    sel.dataset.field = 'unit_id';
    for (const id of k.missing_unit_ids) {
      const o = el('option', unitName(id));
      o.value = String(id);
      sel.append(o);
    }
    const unitField = el('label', undefined, 'field');
    unitField.append(el('span', t('quorum.unit')), sel);
    const reason = el('input', undefined, 'k-absent-reason');
    reason.maxLength = 500;
    reason.dataset.field = 'reason';
    const reasonField = el('label', undefined, 'field');
    reasonField.append(el('span', t('quorum.reason')), reason);
    f.append(unitField, reasonField);
    const rec = el('button', t('quorum.record'), 'btn k-absent-submit');
    rec.type = 'button';
    rec.addEventListener('click', () => act(rec, `/api/v1/consultations/${k.id}/absences`,
      { unit_id: Number(sel.value), reason: reason.value.trim() }, t('quorum.recorded')));
    box.append(el('h4', t('quorum.record.heading')), f, rec);
  }
  const conclusion = el('textarea', undefined, 'k-conclusion');
  conclusion.rows = 2;
  conclusion.dataset.field = 'conclusion';
  const cf = el('label', undefined, 'field');
  cf.append(el('span', t('quorum.conclusion')), conclusion);
  const sign = el('button', t('quorum.sign'), 'btn btn-primary k-sign');
  sign.type = 'button';
  sign.disabled = k.missing_unit_ids.length > 0;
  if (sign.disabled) sign.title = t('quorum.missing', { units: missing });
  sign.addEventListener('click', () => act(sign, `/api/v1/consultations/${k.id}/sign`, { conclusion: conclusion.value.trim() }, t('quorum.signed')));
  box.append(cf, sign);
  if (sign.disabled) box.append(el('span', ' ' + t('quorum.wait', { units: missing }), 'muted small k-sign-why'));
  return box;
}

// act posts body to url from button btn and reloads the case, or shows the server's refusal.
async function act(btn, url, body, message) {
  $('d-error').hidden = true;
  btn.disabled = true;
  try {
    await api('POST', url, body);
    await changed(message);
  } catch (err) {
    fail($('d-error'), err);
    btn.disabled = false;
  }
}

// renderRecordings lists the case's recorded hearings with a link to play each, for those who may
// see the petitioner's face and voice; anyone else with the role sees the server's reason.
async function renderRecordings(id) {
  const box = $('d-recordings-box');
  box.hidden = !me.can.includes('recording.view');
  if (box.hidden) return;
  const ul = $('d-recordings');
  ul.replaceChildren();
  let res;
  try {
    res = await api('GET', `/api/v1/cases/${id}/recordings`);
  } catch (err) {
    ul.append(el('li', err instanceof ApiError ? err.message : t('err.network'), 'muted'));
    return;
  }
  if (!res.recordings.length) ul.append(el('li', t('cases.none'), 'muted'));
  for (const r of res.recordings) {
    const li = el('li');
    li.dataset.hearing = r.hearing;
    const secs = Math.round(r.duration_ms / 1000);
    li.append(el('span', t('cases.rec', { start: when(r.started_at || r.recorded_at),
      duration: `${Math.floor(secs / 60)}:${String(secs % 60).padStart(2, '0')}`, tracks: r.tracks.length })));
    const seal = r.head ? t('cases.rec.sealed', { alg: r.algorithm || '', head: r.head.slice(0, 12) }) : t('cases.rec.unsealed');
    li.append(el('span', ' · ' + seal, 'muted'));
    if (r.retention === 'deleted') li.append(el('span', t('cases.rec.deleted'), 'warn warn-50'));
    if (r.problem) li.append(el('span', ' · ' + r.problem, 'warn warn-100'));
    if (!r.problem) {
      const a = el('a', t('cases.rec.open'));
      a.href = `playback.html?case=${id}&hearing=${encodeURIComponent(r.hearing)}`;
      li.append(' ', a);
    }
    ul.append(li);
  }
}

async function showDetail(id) {
  current = id;
  $('detail').hidden = false;
  $('d-error').hidden = true;
  $('d-ok').hidden = true;
  for (const tr of $('case-rows').children) tr.className = tr.dataset.id === String(id) ? 'selected' : '';
  const base = `/api/v1/cases/${id}`;
  try {
    const [c, dl, tl, as, svs, ks] = await Promise.all([api('GET', base), api('GET', base + '/deadline'), api('GET', base + '/timeline'),
      api('GET', base + '/assignments'), api('GET', base + '/supervisions'), api('GET', base + '/consultations')]);
    $('d-heading').textContent = `${c.number} · ${c.title}`;
    const facts = $('d-facts');
    facts.replaceChildren();
    fact(facts, 'cases.col.status', t('cs.' + c.status));
    fact(facts, 'cases.f.form', t('form.' + c.form));
    fact(facts, 'cases.f.type', t('type.' + c.type));
    fact(facts, 'cases.f.registered', day(c.registered_at));
    fact(facts, 'cases.f.unit', unitName(c.unit_id));
    fact(facts, 'cases.f.responsible', unitName(c.responsible_unit_id));
    fact(facts, 'cases.f.petitioners', c.petitioners.map((p) => p.name).filter(Boolean).join('、') || '—');
    fact(facts, 'cases.f.involved', String(c.involved_count));
    fact(facts, 'cases.f.view', t('view.' + c.view));
    if (c.review_unit_id) fact(facts, 'rv.body', unitName(c.review_unit_id));
    if (c.repeat_of) fact(facts, 'rv.repeatOf', `${c.repeat_of.number} · ${c.repeat_of.why}`);
    if (c.outcome) fact(facts, 'rv.outcome', t('rv.out.' + c.outcome) + (c.channel ? ` · ${t('rv.ch.' + c.channel)}` : ''));
    // A final matter, or a repeat of one: say so above everything, with why it is the same.
    $('d-final').hidden = !c.final && !c.final_of_id;
    $('d-final').textContent = c.final_of_id ? `${t('rv.finalOf', { id: c.final_of_id })} ${c.final_why || ''}` : (c.final ? t('rv.final') : '');
    renderDeadline(dl.deadline);
    renderTimeline(tl.events);
    forms.show(c, as.assignments);
    renderAssignments(as.assignments);
    renderSupervisions(svs.supervisions);
    renderConsultations(ks.consultations, tl.events);
    renderRecordings(id);
    await docs.show(c);
    const leader = me.can.includes('case.own');
    $('d-own').hidden = !leader || Boolean(c.owner_leader_id);
    $('d-release').hidden = c.owner_leader_id !== me.user.id;
  } catch (err) {
    fail($('d-error'), err);
  }
}

async function setOwner(release) {
  $('d-error').hidden = true;
  try {
    await api('POST', `/api/v1/cases/${current}/owner`, { release });
    await showDetail(current);
    $('d-ok').textContent = t(release ? 'cases.released' : 'cases.owned');
    $('d-ok').hidden = false;
    loadList();
  } catch (err) {
    fail($('d-error'), err);
  }
}

$('d-own').addEventListener('click', () => setOwner(false));
$('d-release').addEventListener('click', () => setOwner(true));
$('f-status').addEventListener('change', loadList);
$('f-owned').addEventListener('change', loadList);
window.addEventListener('hashchange', () => {
  const id = Number(location.hash.slice(1));
  if (id > 0) showDetail(id);
});
// created shows a new case's number and its query code — once: only its hash is kept — and opens it.
function created(c) {
  const box = $('case-created');
  const code = el('strong', c.query_code, 'query-code');
  code.id = 'query-code';
  code.dataset.code = c.query_code;
  box.replaceChildren(el('span', t('cf.created', { number: c.number })), code, el('span', ' ' + t('cf.code.once')));
  box.hidden = false;
  loadList();
  location.hash = String(c.id);
}

// changed reloads the open case after a change and says what happened.
async function changed(message) {
  await showDetail(current);
  $('d-ok').textContent = message;
  $('d-ok').hidden = false;
  loadList();
}

onLangChange(() => {
  fillStatusFilter();
  if (forms) forms.labels();
  if (docs) docs.labels();
  loadList();
  if (me) loadEscalated();
  if (current) showDetail(current);
});

me = await requireLogin();
if (me) {
  showUser(me);
  $('nav-dashboard').hidden = !me.can.includes('stats.read');
  fillStatusFilter();
  let routing = [];
  try {
    const res = await api('GET', '/api/v1/units');
    if (me.can.includes('case.handle')) routing = (await api('GET', '/api/v1/routing-units')).units;
    for (const u of [...res.units, ...routing]) units.set(u.id, u);
  } catch {
    // Names are a convenience: without them the page shows unit numbers.
  }
  forms = initForms({ me, units, routing, created, changed });
  docs = initDocs({ canHandle: me.can.includes('case.handle'), bad: (err) => fail($('d-error'), err), changed });
  await Promise.all([loadList(), loadEscalated()]);
  const id = Number(location.hash.slice(1));
  if (id > 0) showDetail(id);
}
