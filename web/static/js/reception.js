// The reception call page, one page for every seat: the leader's console (studio), the hall
// terminal (kiosk, large text), a responsible unit's view and the observers'. The server sends
// each participant its own call_state and case panel; the page only draws them and asks. What
// a participant may see and hear is decided in the SFU, never here.

import { api, ApiError, requireLogin, setCSRF } from './api.js';
import { applyI18n, errorText, initI18n, mountLangSwitch, onLangChange, setText, t, tIn } from './i18n.js';
import { drawNet, noticesByParticipant, qualityBadge, showNotice } from './quality.js';
import { HOLD, captionSelf, mountOperatorMenu, tileCaption, waitETA } from './hall.js';
import { watchReconnect } from './reconnect.js';
import { CallSession } from './session.js';
import { date, dateTime, dayStart, time, today } from './time.js';

const $ = (id) => document.getElementById(id);
const query = new URLSearchParams(location.search);
const sessionID = Number(query.get('session') || 0);
const seat = query.get('seat') || '';

let me = null;
let call = null; // CallSession
let state = null; // the last call_state
let panel = null; // the last case panel (null when none)
let quality = null; // the server's last quality report
let bannerError = null;
let outError = null; // why this page is not in the call (a refused seat, the call ended)
const tiles = new Map(); // participant id -> tile
const notices = [];
let speaker = '';
let handUp = false;
let announceTimer = 0;
let announced = ''; // the call last announced at the hall (appointment@called_at), so it is said once
const queueNo = new Map(); // appointment id -> queue number, remembered from the hall's waiting screen

function showBanner(err) {
  bannerError = err;
  $('banner-text').textContent = err ? reasonText(err) : '';
  $('banner').hidden = !err;
}

// ask sends a call request; errors go to the banner.
async function ask(type, data = {}) {
  try {
    await call.sig.request(type, data);
    return true;
  } catch (err) {
    showBanner(err);
    return false;
  }
}

// ---- choosing a session and a seat ----

async function showPicker() {
  $('picker').hidden = false;
  const start = dayStart(today()); // the office's day, not the browser's
  const end = new Date(start.getTime() + 24 * 3600 * 1000);
  const sessions = await api('GET', `/api/v1/sessions?from=${encodeURIComponent(start.toISOString())}&to=${encodeURIComponent(end.toISOString())}`);
  // The server says which seats this user would be granted (the join token's own rule): the
  // page offers those and no others, so nobody picks a seat only to be turned away.
  const offers = await Promise.all((sessions.sessions ?? []).map((s) =>
    api('GET', `/api/v1/sessions/${s.id}/seats`).then((o) => ({ s, o }), (err) => ({ s, err }))));
  const list = $('pick-list');
  list.replaceChildren();
  for (const { s, o, err } of offers) {
    if (err || !o.seats.length) continue; // nothing this user may take there
    const li = document.createElement('li');
    li.dataset.session = String(s.id);
    const h = document.createElement('h2');
    h.textContent = `${time(s.start)} ${s.title} · ${[s.leader_post, s.leader_name].filter(Boolean).join(' ')}`;
    li.append(h);
    if (o.closed) {
      // Not open now (not yet, over, cancelled): the server's reason, no seat to click.
      const p = document.createElement('p');
      p.className = 'muted rc-pick-closed';
      p.textContent = o.closed;
      li.append(p);
      list.append(li);
      continue;
    }
    for (const x of o.seats) {
      const a = document.createElement('a');
      a.className = 'btn';
      const q = new URLSearchParams({ session: s.id, seat: x.seat });
      if (x.hall_id) q.set('hall', x.hall_id);
      if (x.unit_id) q.set('unit', x.unit_id);
      a.href = `reception.html?${q}`;
      a.dataset.seat = x.seat;
      setText(a, `rc.seat.${x.seat}`, { name: x.name ?? '' });
      li.append(a);
    }
    list.append(li);
  }
  $('pick-empty').hidden = list.children.length > 0;
}

// showOut takes the call off the screen (its toolbar and controls act on nothing now) and says
// why: a seat refused, or the call ended. The server's reason is shown as it said it.
function showOut(err, heading = 'rc.out.refused') {
  setText($('out-heading'), heading);
  $('call').hidden = true;
  $('toolbar').hidden = true;
  $('out').hidden = false;
  outError = err;
  $('out-text').textContent = reasonText(err);
  showBanner(null);
}

// reasonText is what went wrong in the person's words: the API's message (already in the page's
// language), the protocol's message, or a catalog text.
function reasonText(err) {
  if (err instanceof ApiError) return err.message;
  return errorText(err);
}

// ---- tiles ----

function tileFor(id) {
  let tile = tiles.get(id);
  if (tile) return tile;
  const el = document.createElement('figure');
  el.className = 'tile remote no-video';
  el.dataset.participant = id;
  const video = document.createElement('video');
  video.autoplay = true;
  video.playsInline = true;
  video.muted = true;
  const audio = document.createElement('audio');
  audio.autoplay = true;
  const cap = document.createElement('figcaption');
  const name = document.createElement('span');
  name.className = 'name';
  cap.append(name);
  const q = qualityBadge(); // why the picture is lowered or frozen, never left unsaid
  el.append(video, audio, cap, q);
  tile = { id, el, video, audio, name, q, tracks: {} };
  tiles.set(id, tile);
  placeTiles();
  return tile;
}

function setTrack(id, kind, track) {
  const tile = tileFor(id);
  tile.tracks[kind] = track;
  const el = kind === 'video' ? tile.video : tile.audio;
  el.srcObject = track ? new MediaStream([track]) : null;
  if (track) {
    el.play()?.catch((err) => {
      if (err.name === 'NotAllowedError' && kind === 'audio') $('btn-sound').hidden = false;
    });
  }
  tile.el.classList.toggle('no-video', !tile.tracks.video);
  if (!tile.tracks.video && !tile.tracks.audio) {
    tile.el.remove();
    tiles.delete(id);
  }
  placeTiles();
}

// placeTiles puts the speaker (or, failing that, the first remote) in the large tile and the
// others in the strip; the large tile asks for the top simulcast layer, thumbnails the small one.
function placeTiles() {
  const ids = [...tiles.keys()];
  const mainID = tiles.has(speaker) ? speaker : ids[0];
  for (const [id, tile] of tiles) {
    tile.name.textContent = tileCaption(state, id); // the place, never the person logged in
    const parent = id === mainID ? $('main-tile') : $('thumbs');
    if (tile.el.parentElement !== parent) parent.append(tile.el);
    tile.el.classList.toggle('speaking', id === speaker);
    const v = tile.tracks.video;
    if (v && call) {
      const r = tile.video.getBoundingClientRect();
      const dpr = window.devicePixelRatio || 1;
      call.setTrackSettings(v.id, r.width * dpr, r.height * dpr, id === mainID ? 2 : 0);
    }
  }
  showQuality();
}

// showQuality puts each remote's notice on its tile, under the name the tile shows, and our own
// links in the toolbar (a hall sees when its own link makes it hard to see).
function showQuality() {
  const notices = noticesByParticipant(quality);
  for (const [id, tile] of tiles) showNotice(tile.q, notices.get(id) ?? null, tile.name.textContent);
  drawNet({ up: $('net-up'), down: $('net-down'), warn: $('net-warn') }, quality);
}

// ---- drawing the call state ----

function fmtTime(iso) {
  return iso ? time(iso) : '';
}

// phaseFor is the status the header shows this seat. The red recording badge is for the seats on
// stage once the hearing is recorded; a hall whose petitioner is not on stage is told it waits,
// and the other seats off stage only that a hearing is under way.
function phaseFor(st) {
  if (st.me.on_stage) return st.phase;
  if (st.seat === 'hall') return 'waiting';
  return st.phase === 'idle' ? 'idle' : 'elsewhere';
}

// announceCall tells the hall's waiting room that its petitioner is called: a flash, the words in
// the live region (for screen readers) and spoken aloud in Chinese, once per call.
function announceCall(st) {
  const clear = () => {
    clearTimeout(announceTimer);
    const box = $('call-announce');
    delete box.dataset.i18n; // not refilled on a language switch
    box.classList.remove('flash');
    box.replaceChildren();
  };
  for (const q of st.queue) queueNo.set(q.appointment_id, q.queue_no);
  const box = $('call-announce');
  const sg = st.stage;
  if (st.seat !== 'hall' || !st.me.on_stage || !sg) {
    announced = '';
    if (box.textContent) clear();
    return;
  }
  const key = `${sg.appointment_id}@${sg.called_at}`;
  if (key === announced) return;
  announced = key;
  const n = queueNo.get(sg.appointment_id);
  const msg = n ? 'rc.announce.number' : 'rc.announce.next';
  setText(box, msg, { n: n ?? '' });
  box.classList.remove('flash');
  void box.offsetWidth; // restart the animation
  box.classList.add('flash');
  clearTimeout(announceTimer);
  announceTimer = setTimeout(clear, 10000); // off the picture once the hall has seen it
  if ('speechSynthesis' in window && typeof SpeechSynthesisUtterance === 'function') {
    try {
      const u = new SpeechSynthesisUtterance(tIn('zh', msg, { n: n ?? '' }));
      u.lang = 'zh-CN';
      speechSynthesis.speak(u);
    } catch {
      // no voice: the screen still shows it
    }
  }
}

function draw() {
  const st = state;
  if (!st) return;
  $('title').textContent = `${st.title} · ${st.leader}`;
  setText($('seat-label'), `rc.seatLabel.${st.seat}`);
  const phase = $('phase');
  phase.hidden = false;
  const status = phaseFor(st);
  phase.dataset.phase = status;
  setText(phase, `rc.phase.${status}`);
  announceCall(st);
  drawHallScreen(st);
  const studio = st.seat === 'studio';
  const hall = st.seat === 'hall';
  document.body.dataset.seat = st.seat;
  document.body.dataset.phase = st.phase;

  // The hall's waiting screen: its next number, how many are ahead, when.
  const waiting = hall && !st.me.on_stage;
  $('waiting-screen').hidden = !waiting;
  if (waiting) {
    const mine = st.queue.find((q) => q.status === 'booked' || q.status === 'checked_in');
    if (mine) {
      setText($('wait-number'), 'rc.wait.number', { n: mine.queue_no });
      const ahead = Math.max(0, (st.me.position || 1) - 1);
      setText($('wait-ahead'), ahead ? 'rc.wait.ahead' : 'rc.wait.next', { n: ahead });
      drawWaitETA();
    } else {
      setText($('wait-number'), 'rc.wait.none');
      $('wait-ahead').textContent = '';
      $('wait-eta').textContent = '';
    }
    $('wait-number').dataset.position = String(st.me.position || 0);
  }

  const sg = st.stage;
  $('stage-card').hidden = !(studio || (sg && st.seat !== 'hall'));
  if (sg) {
    setText($('stage-text'), 'rc.stage.text', { hall: sg.hall_name, name: sg.petitioner || '—', people: sg.people || 1, number: sg.case_number });
    $('stage-units').textContent = sg.units.length ? t('rc.stage.units', { units: sg.units.map((u) => u.name).join('、') }) : '';
    if (studio) {
      // Units come and go during a hearing (会商, 联合接访) without ending it.
      for (const u of sg.units) {
        const b = document.createElement('button');
        b.type = 'button';
        b.className = 'btn btn-small';
        b.dataset.unit = String(u.id);
        b.textContent = `${u.name} · ${t('rc.unit.remove')}`;
        b.addEventListener('click', () => ask('stage_unit', { unit_id: u.id, on: false }));
        $('stage-units').append(' ', b);
      }
    }
  } else {
    setText($('stage-text'), 'rc.stage.none');
    $('stage-units').textContent = '';
  }

  $('controls-card').hidden = !studio;
  setText($('btn-broadcast'), st.broadcast ? 'rc.broadcast.off' : 'rc.broadcast.on');
  // The slip card stays on the console, its buttons saying why they wait, so the leader knows
  // where it is before the first petitioner comes.
  $('slip-card').hidden = !studio;
  if (studio) {
    fillSlipUnits(sg);
    fillStageUnits(st);
    drawReasons(st);
  }

  $('notice-card').hidden = !(hall && sg && !sg.recording_acknowledged);
  const keeping = hall && sg && sg.recording_acknowledged;
  $('record-card').hidden = !keeping;
  if (keeping) {
    $('record-confirm').hidden = sg.record_confirmed;
    $('record-done').hidden = !sg.record_confirmed;
    $('record-text').readOnly = sg.record_confirmed;
    if (document.activeElement !== $('record-text')) $('record-text').value = sg.record || '';
  }
  $('stage-record').hidden = !(studio && sg?.record);
  if (studio && sg?.record) $('stage-record').textContent = sg.record + (sg.record_confirmed ? ' ' + t('rc.record.confirmed') : '');

  $('queue-card').hidden = !studio;
  if (studio) drawQueue(st);
  $('hands-card').hidden = !studio;
  if (studio) drawPeople(st);

  handUp = st.me.hand;
  $('btn-hand').hidden = st.seat === 'observer' || studio;
  setText($('btn-hand').querySelector('.label'), handUp ? 'rc.hand.lower' : 'rc.hand.raise');
}

// ---- the hall terminal (seat=hall): a room screen ----

let operatorMenu = false;
let etaTimer = 0;

// drawHallScreen captions the pictures from the call's tiles and, at a hall, keeps the
// operator's controls in the operator's menu and the waiting time moving with the call.
function drawHallScreen(st) {
  for (const [id, tile] of tiles) tile.name.textContent = tileCaption(st, id);
  showQuality();
  if (st.seat !== 'hall') return;
  captionSelf($('self-tile').querySelector('.name'), st, call?.self?.id);
  if (!operatorMenu) {
    operatorMenu = true;
    mountOperatorMenu({ button: $('btn-operator'), dialog: $('operator-menu'), box: $('operator-controls'),
      close: $('btn-operator-close'), controls: ['btn-hand', 'btn-mic', 'btn-cam', 'btn-leave'].map($) });
    // Between two call states the time moves on by itself when the hearing on stage runs over.
    etaTimer = setInterval(drawWaitETA, 15000);
    window.addEventListener('pagehide', () => clearInterval(etaTimer));
  }
}

function drawWaitETA() {
  const st = state;
  if (!st || st.seat !== 'hall' || $('waiting-screen').hidden || !st.me.eta) return;
  setText($('wait-eta'), 'rc.wait.eta', { time: fmtTime(waitETA(st.me)) });
}

function drawQueue(st) {
  const ol = $('queue');
  ol.replaceChildren();
  for (const q of st.queue) {
    const li = document.createElement('li');
    li.dataset.status = q.status;
    li.dataset.appointment = String(q.appointment_id);
    const label = document.createElement('span');
    label.textContent = `${t('rc.queue.item', { hall: q.hall_name, no: q.queue_no, name: q.name })} · ${t('rc.status.' + q.status)}${q.eta ? ' · ' + fmtTime(q.eta) : ''}`;
    li.append(label);
    if ((q.status === 'booked' || q.status === 'checked_in') && !st.stage) {
      const b = document.createElement('button');
      b.type = 'button';
      b.className = 'btn btn-small';
      setText(b, 'rc.queue.call');
      b.addEventListener('click', () => ask('call_appointment', { appointment_id: q.appointment_id }));
      li.append(b);
    }
    ol.append(li);
  }
}

function drawPeople(st) {
  const ul = $('people');
  ul.replaceChildren();
  for (const p of call.participants.values()) {
    const li = document.createElement('li');
    li.dataset.participant = p.id;
    const name = document.createElement('span');
    name.textContent = p.name || p.id;
    li.append(name);
    if (st.hands?.includes(p.id)) {
      const up = document.createElement('span');
      up.className = 'badge';
      setText(up, 'rc.hand.up');
      li.append(up);
    }
    const held = st.held?.includes(p.id);
    const floor = document.createElement('button');
    floor.type = 'button';
    floor.className = 'btn btn-small';
    setText(floor, held ? 'rc.floor.give' : 'rc.floor.take');
    floor.addEventListener('click', () => ask('set_floor', { participant_id: p.id, allow: held }));
    const rm = document.createElement('button');
    rm.type = 'button';
    rm.className = 'btn btn-small';
    setText(rm, 'rc.remove');
    rm.addEventListener('click', () => ask('remove_participant', { participant_id: p.id }));
    li.append(floor, rm);
    ul.append(li);
  }
}

// fillStageUnits offers, by name, the units the server says the leader may bring on stage and
// that are not on it yet.
function fillStageUnits(st) {
  const sel = $('unit-pick');
  const on = new Set((st.stage?.units ?? []).map((u) => u.id));
  const units = (st.units ?? []).filter((u) => !on.has(u.id));
  const want = units.map((u) => `${u.id}:${u.name}`).join('|');
  if (sel.dataset.units === want) return;
  const chosen = sel.value;
  sel.dataset.units = want;
  sel.replaceChildren();
  for (const u of units) {
    const o = document.createElement('option');
    o.value = String(u.id);
    o.textContent = u.name;
    sel.append(o);
  }
  if (units.some((u) => String(u.id) === chosen)) sel.value = chosen;
}

// because disables btn when there is a reason (a catalog key) and says it on the button's title;
// a button with no reason is enabled.
function because(btn, key, params) {
  btn.disabled = !!key;
  if (key) {
    btn.title = t(key, params);
    btn.dataset.why = key;
  } else {
    btn.removeAttribute('title');
    delete btn.dataset.why;
  }
}

// explain shows, under a row of buttons, why those that are disabled are.
function explain(hint, buttons) {
  const why = [...new Set(buttons.filter((b) => b.disabled && b.title).map((b) => b.title))];
  hint.textContent = why.join(' ');
  hint.hidden = !why.length;
}

// drawReasons enables the console's buttons and says why the others wait. The server refuses
// what is not allowed whatever the page shows; this tells the leader before asking.
function drawReasons(st) {
  const sg = st.stage;
  const waiting = st.queue.some((q) => q.status === 'booked' || q.status === 'checked_in');
  because($('btn-next'), sg ? 'rc.why.hearing' : waiting ? null : 'rc.why.queue_empty');
  because($('btn-broadcast'), sg ? 'rc.why.broadcast' : null);
  const none = sg ? null : 'rc.why.no_petitioner';
  because($('btn-end'), none ?? (sg.recording_acknowledged ? null : 'rc.why.not_acknowledged'));
  because($('btn-noshow'), none ?? (sg.recording_acknowledged ? 'rc.why.started' : null));
  $('outcome').disabled = !sg;
  $('outcome-note').disabled = !sg;
  $('unit-pick').disabled = !sg || !$('unit-pick').options.length;
  because($('btn-unit-add'), none ?? ($('unit-pick').options.length ? null : 'rc.why.no_units'));
  const noCase = sg && !sg.case_id ? 'rc.why.no_case' : none;
  const noUnit = $('slip-unit').options.length ? null : 'rc.why.no_unit_on_stage';
  for (const id of ['btn-assign', 'btn-supervise', 'btn-consult']) because($(id), noCase ?? noUnit);
  because($('btn-own'), noCase);
  $('slip-unit').disabled = !!noCase || !!noUnit;
  $('slip-instruction').disabled = !!noCase;
  explain($('why-host'), [$('btn-next'), $('btn-broadcast')]);
  explain($('why-end'), [$('btn-end'), $('btn-noshow')]);
  explain($('why-unit'), [$('btn-unit-add')]);
  explain($('why-slip'), [$('btn-assign'), $('btn-own')]);
}

function fillSlipUnits(sg) {
  const sel = $('slip-unit');
  const want = (sg?.units ?? []).map((u) => `${u.id}:${u.name}`).join('|');
  if (sel.dataset.units === want) return;
  sel.dataset.units = want;
  sel.replaceChildren();
  for (const u of sg?.units ?? []) {
    const o = document.createElement('option');
    o.value = String(u.id);
    o.textContent = u.name;
    sel.append(o);
  }
}

function drawPanel() {
  const card = $('panel-card');
  card.hidden = !panel;
  const body = $('panel-body');
  body.replaceChildren();
  if (!panel) return;
  const c = panel.case;
  body.dataset.view = panel.observer ? 'observer' : c.view;
  const add = (tag, text, cls) => {
    const el = document.createElement(tag);
    el.textContent = text;
    if (cls) el.className = cls;
    body.append(el);
    return el;
  };
  if (panel.observer) {
    // The observers' seat gets the title of the matter being heard and nothing else.
    add('p', c.title, 'rc-case-title');
    return;
  }
  add('p', `${c.number} · ${c.title}`, 'rc-case-title');
  add('p', t(`rc.panel.view.${c.view}`), 'muted small');
  if (c.petitioners.length) {
    add('p', `${t('rc.panel.petitioners')}：${c.petitioners.map((p) => [p.name, p.id_number, p.phone].filter(Boolean).join(' ')).join('；')}`);
  }
  if (c.content) add('p', c.content, 'rc-content');
  if (panel.deadline) add('p', t('rc.panel.deadline', { due: panel.deadline.due, rule: panel.deadline.rule }), `rc-deadline warn-${panel.deadline.warning ?? ''}`);
  if (panel.earlier?.length) add('p', t('rc.panel.earlier', { n: panel.earlier.length }), 'rc-earlier');
  drawHistory(body, panel.history);
  add('h3', t('rc.panel.timeline'));
  const ul = document.createElement('ul');
  ul.className = 'rc-timeline';
  for (const e of panel.timeline) {
    const li = document.createElement('li');
    li.dataset.to = e.to;
    li.textContent = `${dateTime(e.at)} ${e.actor} ${e.from ? e.from + ' → ' : ''}${e.to}${e.reason ? ' · ' + e.reason : ''}`;
    ul.append(li);
  }
  body.append(ul);
  if (c.owner_leader_id) add('p', t('rc.panel.owner', { id: c.owner_leader_id }), 'rc-owner');
  if (panel.consultations?.length) {
    add('h3', t('rc.panel.consultations'));
    for (const k of panel.consultations) {
      add('p', `#${k.id} ${k.subject || ''} · ${k.unit_ids.length} · ${k.final ? '✓' : '…'}`, 'rc-consult');
    }
  }
  if (panel.assignments.length) {
    add('h3', t('rc.panel.assignments'));
    for (const a of panel.assignments) add('p', `#${a.id} → ${a.responsible_unit_id} · ${a.instruction || ''} · ${a.feedback_due}`, 'rc-slip');
  }
}

// drawHistory lists the petitioner's earlier cases as the server redacted them for this user,
// with the repeat flag (重复信访) first: the leader hears the person knowing what came before.
function drawHistory(body, h) {
  if (!h) return;
  const box = document.createElement('div');
  box.id = 'panel-history';
  box.className = 'rc-history';
  const head = document.createElement('h3');
  head.textContent = t('rc.history.heading', { n: h.cases.length });
  box.append(head);
  if (h.repeat) {
    const flag = document.createElement('p');
    flag.className = 'rc-repeat';
    setText(flag, 'rc.history.repeat');
    box.append(flag);
  }
  if (!h.cases.length) {
    const none = document.createElement('p');
    none.className = 'muted';
    setText(none, 'rc.history.none');
    box.append(none);
  }
  const ul = document.createElement('ul');
  for (const c of h.cases) {
    const li = document.createElement('li');
    li.dataset.case = String(c.case_id);
    li.dataset.view = c.view;
    const parts = [date(c.registered_at), c.number];
    if (c.title) parts.push(c.title);
    parts.push(t(`case.status.${c.status}`));
    if (c.result) parts.push(t(`rc.history.result.${c.result}`));
    if (c.same_matter) parts.push(t('rc.history.same'));
    li.textContent = parts.join(' · ');
    li.classList.toggle('rc-same', c.same_matter);
    ul.append(li);
  }
  box.append(ul);
  body.append(box);
}

// ---- slips on the call (through the HTTP API, as the logged-in leader) ----

async function slip(kind) {
  const sg = state?.stage;
  if (!sg?.case_id) return;
  const unit = Number($('slip-unit').value || 0);
  const instruction = $('slip-instruction').value.trim();
  try {
    if (kind === 'assign') {
      const a = await api('POST', `/api/v1/cases/${sg.case_id}/assignments`, {
        assigner_unit_id: me.user.unit_id,
        responsible_unit_id: unit,
        method: 'video_call',
        session_id: String(sessionID),
        instruction,
      });
      setText($('slip-result'), 'rc.slip.assigned', { id: a.id, due: a.feedback_due, offset: Math.round((a.recording_offset_ms || 0) / 1000) });
    } else if (kind === 'consult') {
      const units = (sg.units ?? []).map((u) => u.id);
      const k = await api('POST', `/api/v1/cases/${sg.case_id}/consultations`, {
        competent_unit_id: unit, unit_ids: units, subject: instruction || sg.case_number, session_id: String(sessionID),
      });
      setText($('slip-result'), 'rc.slip.consulted', { n: k.unit_ids.length });
    } else if (kind === 'own') {
      await api('POST', `/api/v1/cases/${sg.case_id}/owner`, { session_id: String(sessionID) });
      setText($('slip-result'), 'rc.slip.owned');
    } else {
      const s = await api('POST', `/api/v1/cases/${sg.case_id}/supervisions`, {
        unit_id: unit, basis: instruction || '视频接访当场督办', level: 'routine', method: 'phone', session_id: String(sessionID),
      });
      setText($('slip-result'), 'rc.slip.supervised', { id: s.id, due: s.deadline });
    }
    $('slip-instruction').value = '';
  } catch (err) {
    showBanner(err);
  }
}

// ---- the hearing record (笔录): typed at the hall, confirmed with a name and a drawn signature ----

let recordTimer = 0;
let signed = false;

function wireRecord() {
  $('record-text').addEventListener('input', () => {
    clearTimeout(recordTimer);
    recordTimer = setTimeout(() => ask('hearing_record', { text: $('record-text').value }), 400);
  });
  const canvas = $('record-sign');
  const g = canvas.getContext('2d');
  g.lineWidth = 2.5;
  g.lineCap = 'round';
  let drawing = false;
  const at = (e) => {
    const r = canvas.getBoundingClientRect();
    return [((e.clientX - r.left) * canvas.width) / r.width, ((e.clientY - r.top) * canvas.height) / r.height];
  };
  canvas.addEventListener('pointerdown', (e) => {
    drawing = true;
    canvas.setPointerCapture(e.pointerId);
    g.beginPath();
    g.moveTo(...at(e));
  });
  canvas.addEventListener('pointermove', (e) => {
    if (!drawing) return;
    g.lineTo(...at(e));
    g.stroke();
    signed = true;
  });
  canvas.addEventListener('pointerup', () => (drawing = false));
  $('btn-sign-clear').addEventListener('click', () => {
    g.clearRect(0, 0, canvas.width, canvas.height);
    signed = false;
  });
  $('btn-record-confirm').addEventListener('click', async () => {
    clearTimeout(recordTimer);
    if (!(await ask('hearing_record', { text: $('record-text').value }))) return;
    const body = { confirmed_by: $('record-name').value.trim() };
    if (signed) body.signature = canvas.toDataURL('image/png');
    await ask('confirm_record', body);
  });
}

// ---- what tests and operators can read ----

async function stats() {
  const out = { self: call?.self?.id ?? null, state, panelView: panel?.case?.view ?? null, notices: [...notices], inbound: [] };
  const pc = call?.subscriber;
  if (!pc || pc.connectionState === 'closed') return out;
  const report = await pc.getStats();
  report.forEach((r) => {
    if (r.type !== 'inbound-rtp') return;
    out.inbound.push({
      kind: r.kind,
      participantId: call.remoteTrackOwner(r.trackIdentifier) ?? null,
      framesDecoded: r.framesDecoded ?? 0,
      packetsReceived: r.packetsReceived ?? 0,
      frameWidth: r.frameWidth ?? 0,
    });
  });
  return out;
}

// ---- start ----

async function join() {
  const body = { seat };
  if (query.get('hall')) body.hall_id = Number(query.get('hall'));
  if (query.get('unit')) body.unit_id = Number(query.get('unit'));
  let tok;
  try {
    tok = await api('POST', `/api/v1/sessions/${sessionID}/join-token`, body);
  } catch (err) {
    showOut(err); // the seat is refused: say why, with no call controls on screen
    return;
  }
  $('call').hidden = false;
  $('toolbar').hidden = false;
  // After a long outage the server has released our seat: the same seat is asked for again (the
  // login cookie still holds), and a refusal (the session ended) is shown as the seat picker would.
  const rejoin = () => api('POST', `/api/v1/sessions/${sessionID}/join-token`, body).then((x) => x.token);
  call = new CallSession({ token: tok.token, rejoin });
  watchReconnect(call); // a hall on stage that is reconnecting keeps its tile, marked
  call.sig.on('call_state', (d) => {
    state = d;
    draw();
  });
  call.sig.on('case_panel', (d) => {
    panel = d.case_id ? d.panel : null;
    drawPanel();
  });
  call.sig.on('call_notice', (d) => {
    notices.push(d);
    // A query code is never shown here (the room screen): the operator's queue page has it.
    if (d.kind !== 'query_code') showBanner(d);
  });
  call.sig.on('ok', () => {});
  call
    .on('participant', () => state && draw())
    .on('left', (id) => {
      tiles.get(id)?.el.remove();
      tiles.delete(id);
      placeTiles();
      if (state) draw();
    })
    .on('local', (stream) => {
      $('btn-mic').disabled = !stream.getAudioTracks()[0];
      $('btn-cam').disabled = !stream.getVideoTracks()[0];
      // The self-view: a hall checks that the petitioner is in the picture.
      const video = stream.getVideoTracks()[0];
      $('self-video').srcObject = video ? new MediaStream([video]) : null;
      $('self-tile').classList.toggle('no-video', !video);
    })
    .on('track', ({ participantId, kind, track }) => setTrack(participantId, kind, track))
    .on('track_removed', ({ participantId, kind }) => tiles.has(participantId) && setTrack(participantId, kind, null))
    .on('speaker', (id) => {
      speaker = id;
      placeTiles();
    })
    .on('quality', (q) => {
      quality = q;
      showQuality();
    })
    .on('error', showBanner)
    // A refused rejoin (the session ended, the seat is no longer this user's) reads as a refused seat.
    .on('ended', (info) => showOut(info.error ?? { key: info.key ?? 'bye.other', params: { reason: info.reason ?? '' } }, info.error instanceof ApiError ? 'rc.out.refused' : 'rc.out.ended'));
  call.start();
}

async function init() {
  initI18n();
  mountLangSwitch($('lang'));
  applyI18n();
  onLangChange(() => {
    applyI18n();
    draw();
    drawPanel();
    showBanner(bannerError);
    if (outError) $('out-text').textContent = reasonText(outError);
    showQuality(); // the links' tooltips
  });
  window.sanjiReception = { stats, hold: HOLD, get state() { return state; } };
  $('banner-close').addEventListener('click', () => showBanner(null));
  $('btn-next').addEventListener('click', () => ask('call_next'));
  $('btn-broadcast').addEventListener('click', () => ask('broadcast', { on: !state?.broadcast }));
  $('btn-end').addEventListener('click', () => ask('end_hearing', { outcome: $('outcome').value, note: $('outcome-note').value }));
  $('btn-noshow').addEventListener('click', () => state?.stage && ask('no_show', { appointment_id: state.stage.appointment_id }));
  $('btn-unit-add').addEventListener('click', () => ask('stage_unit', { unit_id: Number($('unit-pick').value), on: true }));
  $('btn-ack').addEventListener('click', () => ask('ack_recording'));
  $('btn-hand').addEventListener('click', () => ask('raise_hand', { on: !handUp }));
  $('btn-assign').addEventListener('click', () => slip('assign'));
  $('btn-supervise').addEventListener('click', () => slip('supervise'));
  $('btn-consult').addEventListener('click', () => slip('consult'));
  $('btn-own').addEventListener('click', () => slip('own'));
  $('btn-leave').addEventListener('click', () => call?.leave());
  $('btn-sound').addEventListener('click', () => {
    for (const tile of tiles.values()) tile.audio.play().catch(() => {});
    $('btn-sound').hidden = true;
  });
  let muted = { audio: false, video: false };
  for (const [btn, kind] of [['btn-mic', 'audio'], ['btn-cam', 'video']]) {
    $(btn).addEventListener('click', async () => {
      muted[kind] = !muted[kind];
      $(btn).classList.toggle('off', muted[kind]);
      setText($(btn).querySelector('.label'), kind === 'audio' ? (muted.audio ? 'call.mic.unmute' : 'call.mic.mute') : muted.video ? 'call.cam.on' : 'call.cam.off');
      try {
        await call.setMuted(kind, muted[kind]);
      } catch (err) {
        showBanner(err);
      }
    });
  }
  wireRecord();
  window.addEventListener('pagehide', () => call?.leave());

  me = await requireLogin();
  if (!me) return;
  setCSRF(me.csrf_token);
  try {
    if (!sessionID || !seat) await showPicker();
    else await join();
  } catch (err) {
    showBanner(err);
  }
  document.body.dataset.ready = 'true';
}

init();
