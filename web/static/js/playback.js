// Playback of a hearing's recording (录像回放), opened as playback.html?case=ID&hearing=H. The
// purpose is asked first: the server audits every view with it. Then the hearing's tracks play
// together on one clock, the hearing's own: each file starts at its offset on it (a track that
// starts later is started when the clock reaches it), and one play/pause/seek control drives
// them all. The stage changes, mutes, slips and notes are markers to jump to; the seal is shown
// and can be verified on the server against the chain head recorded with the case.

import { initPage, showUser, showError } from './nav.js';
import { api, requireLogin, ApiError } from './api.js';
import { t, has, onLangChange } from './i18n.js';
import { dateTime } from './time.js';

initPage();

const $ = (id) => document.getElementById(id);
const params = new URLSearchParams(location.search);
const caseID = Number(params.get('case')) || 0;
const hearing = params.get('hearing') || '';

// An element further than MAX_DRIFT seconds from the clock is moved back onto it (a little
// closer while paused, so the frame shown is the one at the clock). A track that is due but
// cannot play yet holds the clock for at most MAX_HOLD seconds, so the others do not run ahead.
const MAX_DRIFT = 0.3;
const PAUSED_DRIFT = 0.05;
const MAX_HOLD = 2;
const TICK_MS = 100;

let data = null; // the manifest response
let purpose = '';
let kase = null;
let tracks = []; // { track, el, tile, start, end } in seconds on the hearing's clock
let dragging = false;
const clock = { base: 0, at: 0, playing: false, duration: 0, last: 0, held: 0 };

function el(tag, text, cls) {
  const e = document.createElement(tag);
  if (text !== undefined) e.textContent = text;
  if (cls) e.className = cls;
  return e;
}

const when = dateTime;

// clockText is seconds as m:ss, or h:mm:ss for an hour or more.
function clockText(sec) {
  const s = Math.max(0, Math.floor(sec));
  const two = (n) => String(n).padStart(2, '0');
  const h = Math.floor(s / 3600);
  return h ? `${h}:${two(Math.floor(s / 60) % 60)}:${two(s % 60)}` : `${two(Math.floor(s / 60))}:${two(s % 60)}`;
}

const fileURL = (file) => `/api/v1/recordings/${encodeURIComponent(hearing)}/files/${encodeURIComponent(file)}?purpose=${encodeURIComponent(purpose)}`;

function now() {
  const at = clock.playing ? clock.base + (performance.now() - clock.at) / 1000 : clock.base;
  return Math.min(Math.max(at, 0), clock.duration);
}

function setClock(time, playing) {
  clock.base = Math.min(Math.max(time, 0), clock.duration);
  clock.at = performance.now();
  clock.playing = playing;
  clock.last = clock.base;
}

function roleName(role) {
  return has('role.' + role) ? t('role.' + role) : role;
}

function who(id) {
  const p = (data.manifest.participants || []).find((x) => x.id === id);
  return p ? `${roleName(p.role)} ${id}` : id;
}

// tick keeps every element on the hearing's clock.
function tick() {
  let time = now();
  if (clock.playing && time >= clock.duration) {
    setClock(clock.duration, false);
    time = clock.duration;
    renderPlay();
  }
  const due = tracks.filter((m) => !m.el.error && time >= m.start && time < m.end - MAX_DRIFT);
  const loading = due.some((m) => m.el.readyState < HTMLMediaElement.HAVE_FUTURE_DATA);
  if (clock.playing && loading && clock.held < MAX_HOLD) {
    clock.held += TICK_MS / 1000;
    setClock(clock.last, true);
    time = clock.last;
  } else if (!loading) {
    clock.held = 0;
  }
  clock.last = time;
  const drift = clock.playing ? MAX_DRIFT : PAUSED_DRIFT;
  for (const m of tracks) {
    const local = time - m.start;
    const active = local >= 0 && local < m.end - m.start;
    if (m.tile) {
      m.tile.dataset.state = local < 0 ? 'waiting' : active ? 'playing' : 'ended';
      m.state.textContent = active ? '' : t(local < 0 ? 'pb.state.waiting' : 'pb.state.ended');
    }
    // Before its start a track shows its first frame, after its end its last.
    const want = active ? local : local < 0 ? 0 : m.end - m.start;
    if (!m.el.seeking && m.el.readyState >= HTMLMediaElement.HAVE_METADATA && Math.abs(m.el.currentTime - want) > drift) {
      m.el.currentTime = want;
    }
    if (active && clock.playing) {
      if (m.el.paused) m.el.play().catch(() => {}); // refused (autoplay) or interrupted by a seek: the next tick tries again
    } else if (!m.el.paused) {
      m.el.pause();
    }
  }
  if (!dragging) $('pb-seek').value = String(time);
  $('pb-time').textContent = `${clockText(time)} / ${clockText(clock.duration)}`;
}

function renderPlay() {
  $('pb-play').textContent = t(clock.playing ? 'pb.pause' : 'pb.play');
}

function seek(sec) {
  setClock(sec, clock.playing);
  clock.held = 0;
  tick();
}

function events(m) {
  const out = [];
  for (const s of m.stage_changes || []) {
    out.push({ off: s.offset_ms, kind: 'stage', text: s.on_stage.length ? t('pb.ev.stage', { who: s.on_stage.map(who).join('、') }) : t('pb.ev.stage.empty') });
  }
  for (const e of m.mute_events || []) {
    out.push({ off: e.offset_ms, kind: 'mute', text: t(e.muted ? 'pb.ev.muted' : 'pb.ev.unmuted', { who: who(e.participant), kind: t('pb.kind.' + e.kind) }) });
  }
  for (const s of m.slips || []) {
    const type = has('pb.slip.' + s.type) ? t('pb.slip.' + s.type) : s.type;
    out.push({ off: s.offset_ms, kind: 'slip', text: t('pb.ev.slip', { type, number: s.number }) });
  }
  for (const n of m.notes || []) out.push({ off: n.offset_ms, kind: 'note', text: n.text || n.kind });
  return out.sort((a, b) => a.off - b.off);
}

function renderEvents() {
  const m = data.manifest;
  const bar = $('pb-markers');
  const list = $('pb-events');
  bar.replaceChildren();
  list.replaceChildren();
  const evs = events(m);
  if (!evs.length) list.append(el('li', t('pb.noEvents'), 'muted'));
  for (const e of evs) {
    const at = Math.max(0, e.off) / 1000;
    const label = `${clockText(at)} ${e.text}`;
    const mark = el('button', undefined, 'pb-marker');
    mark.type = 'button';
    mark.dataset.kind = e.kind;
    mark.dataset.offset = String(at);
    mark.title = label;
    mark.setAttribute('aria-label', label);
    mark.style.left = `${clock.duration ? Math.min(100, (at / clock.duration) * 100) : 0}%`;
    mark.addEventListener('click', () => seek(at));
    bar.append(mark);
    const li = el('li');
    li.dataset.kind = e.kind;
    const jump = el('button', clockText(at));
    jump.type = 'button';
    jump.addEventListener('click', () => seek(at));
    li.append(jump, el('span', ' ' + e.text));
    list.append(li);
  }
}

function fact(dl, key, value) {
  dl.append(el('dt', t(key)), el('dd', value));
}

function renderInfo() {
  const m = data.manifest;
  $('pb-heading').textContent = kase ? `${kase.number} · ${kase.title}` : t('pb.heading.hearing', { hearing: m.hearing });
  const facts = $('pb-facts');
  facts.replaceChildren();
  fact(facts, 'pb.f.case', kase ? kase.number : `#${data.case_id}`);
  if (m.session_id) fact(facts, 'pb.f.session', `#${m.session_id}`);
  fact(facts, 'pb.f.started', when(m.started_at));
  fact(facts, 'pb.f.duration', clockText(data.duration_ms / 1000));
  fact(facts, 'pb.f.participants', (m.participants || []).map((p) => `${roleName(p.role)} ${p.id}`).join('、') || '—');
  const count = (kind) => m.tracks.filter((x) => x.kind === kind && x.status !== 'empty').length;
  fact(facts, 'pb.f.tracks', t('pb.tracks', { video: count('video'), audio: count('audio') }));
  const seal = $('pb-seal');
  seal.replaceChildren();
  fact(seal, 'pb.seal.algorithm', m.chain.algorithm || 'sha256');
  fact(seal, 'pb.seal.caseHead', data.case_head || t('pb.seal.none'));
  fact(seal, 'pb.seal.manifestHead', m.chain.head || t('pb.seal.none'));
  for (const x of tracks) {
    if (x.label) x.label.textContent = label(x.track);
  }
  renderEvents();
  renderPlay();
}

function label(tr) {
  return `${roleName(tr.role)} ${tr.participant}` + (tr.segment > 1 ? ` · ${t('pb.segment', { n: tr.segment })}` : '');
}

// build makes one element per track file: videos as tiles, audio unseen.
function build() {
  const m = data.manifest;
  clock.duration = data.duration_ms / 1000;
  $('pb-seek').max = String(clock.duration);
  $('pb-deleted').hidden = !data.media_deleted;
  tracks = [];
  $('pb-stage').replaceChildren();
  $('pb-audio').replaceChildren();
  if (!data.media_deleted) {
    for (const tr of m.tracks) {
      if (tr.status === 'empty') continue;
      const media = document.createElement(tr.kind === 'video' ? 'video' : 'audio');
      media.preload = 'auto';
      media.dataset.file = tr.file;
      media.src = fileURL(tr.file);
      const x = { track: tr, el: media, start: tr.start_offset_ms / 1000, end: (tr.start_offset_ms + tr.duration_ms) / 1000 };
      if (tr.kind === 'video') {
        media.playsInline = true;
        media.muted = true; // a video file carries no sound: the audio tracks do
        x.tile = el('div', undefined, 'pb-tile');
        x.label = el('span', label(tr), 'pb-label');
        x.state = el('span', '', 'pb-state');
        x.tile.append(media, x.label, x.state);
        $('pb-stage').append(x.tile);
      } else {
        $('pb-audio').append(media);
      }
      tracks.push(x);
    }
  }
  $('pb-play').disabled = tracks.length === 0;
  setClock(0, false);
  renderInfo();
  $('player').hidden = false;
  tick();
}

async function open(ev) {
  ev.preventDefault();
  $('pb-error').hidden = true;
  const p = $('purpose').value.trim();
  if (!p) {
    showError($('pb-error'), null, t('pb.purpose.required'));
    $('purpose').focus();
    return;
  }
  try {
    data = await api('GET', `/api/v1/recordings/${encodeURIComponent(hearing)}/manifest?purpose=${encodeURIComponent(p)}`);
  } catch (err) {
    showError($('pb-error'), err instanceof ApiError ? err : null, t('err.network'));
    return;
  }
  purpose = p;
  $('purpose').disabled = true;
  $('purpose-form').querySelector('button').disabled = true;
  try {
    kase = await api('GET', `/api/v1/cases/${data.case_id}`);
  } catch {
    kase = null; // the heading then names the hearing
  }
  $('back').href = `cases.html#${data.case_id}`;
  build();
}

async function verify() {
  const box = $('pb-verified');
  box.className = 'banner';
  box.textContent = t('pb.verifying');
  box.hidden = false;
  $('pb-verify').disabled = true;
  try {
    const v = await api('POST', `/api/v1/recordings/${encodeURIComponent(hearing)}/verify`);
    box.className = 'banner ' + (v.ok ? 'banner-ok' : 'banner-error');
    box.textContent = !v.ok && v.mismatch ? t('pb.verify.mismatch', { file: v.mismatch, message: v.message }) : v.message;
    box.dataset.ok = String(v.ok);
    box.dataset.mismatch = v.mismatch || '';
  } catch (err) {
    box.className = 'banner banner-error';
    showError(box, err instanceof ApiError ? err : null, t('err.network'));
  } finally {
    $('pb-verify').disabled = false;
  }
}

$('purpose-form').addEventListener('submit', open);
$('pb-play').addEventListener('click', () => {
  const at = now();
  setClock(!clock.playing && at >= clock.duration ? 0 : at, !clock.playing);
  clock.held = 0;
  tick(); // inside the click: the elements due now start with the user's gesture
  renderPlay();
});
const bar = $('pb-seek');
bar.addEventListener('input', () => {
  dragging = true;
  seek(Number(bar.value));
});
bar.addEventListener('change', () => {
  dragging = false;
  seek(Number(bar.value));
});
$('pb-verify').addEventListener('click', verify);
onLangChange(() => {
  if (data) renderInfo();
});
setInterval(() => {
  if (data) tick();
}, TICK_MS);

// For tests: the clock and what each video element has played and decoded.
window.sanjiPlayback = {
  ready: false,
  state() {
    return {
      currentTime: now(),
      playing: clock.playing,
      duration: clock.duration,
      videos: tracks.filter((x) => x.track.kind === 'video').map((x) => ({
        file: x.track.file,
        start: x.start,
        currentTime: x.el.currentTime,
        framesDecoded: x.el.getVideoPlaybackQuality ? x.el.getVideoPlaybackQuality().totalVideoFrames : 0,
        error: x.el.error ? x.el.error.message || String(x.el.error.code) : '',
      })),
      audios: tracks.filter((x) => x.track.kind === 'audio').map((x) => ({ file: x.track.file, currentTime: x.el.currentTime })),
    };
  },
  seek,
};

const me = await requireLogin();
if (me) {
  showUser(me);
  if (caseID) $('back').href = `cases.html#${caseID}`;
  if (!hearing) {
    showError($('pb-error'), null, t('pb.noHearing'));
    $('purpose-form').querySelector('button').disabled = true;
  } else {
    $('purpose').focus();
  }
  window.sanjiPlayback.ready = true;
}
