// The call page: draws a CallSession. One tile for us (local preview), one per remote
// participant, the connection indicator, the mute and leave buttons, the error banner.

import { applyI18n, errorText, initI18n, mountLangSwitch, onLangChange, setText, t } from './i18n.js';
import { drawNet, noticesByParticipant, qualityBadge, showNotice } from './quality.js';
import { roleKey } from './roles.js';
import { watchReconnect } from './reconnect.js';
import { CallSession } from './session.js';

const $ = (id) => document.getElementById(id);

const tiles = new Map(); // participant id -> Tile
let session = null;
let localTile = null;
let bannerError = null;
let endedInfo = null;
let mutedState = { audio: false, video: false };
let quality = null; // the server's last quality report

// Tile is one participant's box: video, audio, name, role and muted badges, and for a remote
// participant the notice of a lowered or paused video or a poor link.
class Tile {
  constructor({ id, local = false }) {
    this.id = id;
    this.local = local;
    const el = document.createElement('figure');
    el.className = `tile ${local ? 'local' : 'remote'} no-video`;
    if (!local) el.dataset.participant = id;

    this.video = document.createElement('video');
    this.video.autoplay = true;
    this.video.playsInline = true;
    this.video.muted = true; // sound goes through the audio element; a muted video may autoplay

    this.avatar = document.createElement('div');
    this.avatar.className = 'avatar';
    this.avatar.setAttribute('aria-hidden', 'true');

    const cap = document.createElement('figcaption');
    this.nameEl = document.createElement('span');
    this.nameEl.className = 'name';
    this.roleEl = document.createElement('span');
    this.roleEl.className = 'role';
    this.micBadge = badge('call.muted', 'badge-mic');
    this.camBadge = badge('call.camOff', 'badge-cam');
    cap.append(this.nameEl, this.roleEl, this.micBadge, this.camBadge);

    el.append(this.video, this.avatar, cap);
    if (!local) {
      this.audio = document.createElement('audio');
      this.audio.autoplay = true;
      this.qualityEl = qualityBadge();
      el.append(this.audio, this.qualityEl);
    }
    this.shownName = id;
    this.el = el;
    this.tracks = { audio: null, video: null };
    this.muted = { audio: false, video: false };
  }

  setInfo({ name, role }, you = false) {
    const shown = name || this.id || '';
    this.shownName = shown;
    if (you) setText(this.nameEl, 'call.you', { name: shown });
    else {
      delete this.nameEl.dataset.i18n;
      this.nameEl.textContent = shown;
    }
    const key = roleKey(role);
    if (key) setText(this.roleEl, key);
    else {
      delete this.roleEl.dataset.i18n;
      this.roleEl.textContent = role || '';
    }
    this.avatar.textContent = [...shown][0]?.toUpperCase() ?? '?';
  }

  setTrack(kind, track) {
    this.tracks[kind] = track;
    if (kind === 'video' && !this.local) this.watchSize();
    const el = kind === 'video' ? this.video : this.audio;
    if (!el) return;
    el.srcObject = track ? new MediaStream([track]) : null;
    if (track) playSafely(el);
    this.refresh();
  }

  // watchSize reports the video's rendered size to the server whenever the tile changes size,
  // so a simulcast track arrives in the layer that fits (a thumbnail gets the small one).
  watchSize() {
    if (this.resize || typeof ResizeObserver === 'undefined') return;
    let timer = 0;
    this.resize = new ResizeObserver(() => {
      clearTimeout(timer);
      timer = setTimeout(() => this.reportSize(), 150);
    });
    this.resize.observe(this.video);
  }

  reportSize() {
    const track = this.tracks.video;
    if (!track || !session) return;
    const dpr = window.devicePixelRatio || 1;
    const { width, height } = this.video.getBoundingClientRect();
    session.setTrackSettings(track.id, width * dpr, height * dpr);
  }

  // setQuality shows notice (null: none), naming the participant as the tile does.
  setQuality(notice) {
    if (this.qualityEl) showNotice(this.qualityEl, notice, this.shownName);
  }

  remove() {
    this.resize?.disconnect();
    this.el.remove();
  }

  setMuted(kind, muted) {
    if (kind !== 'audio' && kind !== 'video') return;
    this.muted[kind] = muted;
    this.refresh();
  }

  refresh() {
    const videoOn = !!this.tracks.video && !this.muted.video;
    this.el.classList.toggle('no-video', !videoOn);
    this.micBadge.hidden = !this.muted.audio;
    this.camBadge.hidden = !this.muted.video;
  }
}

function badge(key, cls) {
  const b = document.createElement('span');
  b.className = `badge ${cls}`;
  b.hidden = true;
  setText(b, key);
  return b;
}

// playSafely starts playback; browsers refuse sound before the person interacted with the
// page, so we offer a button then.
function playSafely(el) {
  const p = el.play();
  if (!p) return;
  p.catch((err) => {
    if (err.name === 'NotAllowedError' && !el.muted) $('btn-sound').hidden = false;
  });
}

function showBanner(err) {
  bannerError = err;
  $('banner-text').textContent = errorText(err);
  $('banner').hidden = !err;
  if (err) console.warn('call:', err.code || err.key || '', err.message);
}

function remoteTile(p) {
  let tile = tiles.get(p.id);
  if (!tile) {
    tile = new Tile({ id: p.id });
    tiles.set(p.id, tile);
    $('grid').append(tile.el);
  }
  tile.setInfo(p);
  for (const tr of p.tracks.values()) tile.setMuted(tr.kind, !!tr.muted);
  tile.setQuality(noticesByParticipant(quality).get(p.id) ?? null);
  updateCount();
  return tile;
}

function showQuality() {
  const notices = noticesByParticipant(quality);
  for (const [id, tile] of tiles) tile.setQuality(notices.get(id) ?? null);
  drawNet({ up: $('net-up'), down: $('net-down'), warn: $('net-warn') }, quality);
}

function updateCount() {
  const n = tiles.size;
  const count = $('count');
  count.hidden = !session?.self;
  setText(count, 'call.participants', { n: n + 1 });
  $('grid').dataset.count = String(n + 1);
  const waiting = $('waiting');
  if (session?.ended) {
    waiting.hidden = true;
  } else if (!session?.self) {
    waiting.hidden = false;
    setText(waiting, 'call.connecting');
  } else {
    waiting.hidden = n > 0;
    setText(waiting, 'call.waiting');
  }
}

function showState(s) {
  for (const li of $('status').querySelectorAll('li[data-conn]')) {
    const conn = li.dataset.conn;
    const state = s[conn];
    li.dataset.state = state;
    const parts = [`${t(`status.${conn}`)}: ${t(`state.${state}`)}`];
    if (conn !== 'ws' && s.server[conn] && s.server[conn] !== 'new') {
      parts.push(t('status.server', { state: t(`state.${s.server[conn]}`) }));
    }
    li.title = parts.join(' · ');
  }
}

function setMuteButton(kind, muted) {
  const btn = $(kind === 'audio' ? 'btn-mic' : 'btn-cam');
  btn.setAttribute('aria-pressed', String(muted));
  btn.classList.toggle('off', muted);
  const key = kind === 'audio' ? (muted ? 'call.mic.unmute' : 'call.mic.mute') : muted ? 'call.cam.on' : 'call.cam.off';
  setText(btn.querySelector('.label'), key);
  btn.title = t(key);
}

async function toggleMute(kind) {
  const next = !mutedState[kind];
  mutedState[kind] = next;
  setMuteButton(kind, next);
  localTile?.setMuted(kind, next);
  try {
    await session.setMuted(kind, next);
  } catch (err) {
    // The local track stays as the person chose: being silent must not depend on the server.
    showBanner(err);
  }
}

function showEnded(info) {
  endedInfo = info;
  const text = info.error ? errorText(info.error) : t(info.key ?? 'bye.other', { reason: info.reason ?? '' });
  $('ended-text').textContent = text;
  $('ended').hidden = false;
  for (const id of ['btn-mic', 'btn-cam', 'btn-leave']) $(id).disabled = true;
  updateCount();
}

async function remoteStats() {
  const out = {
    self: session?.self?.id ?? null,
    remoteParticipants: document.querySelectorAll('#grid .tile.remote').length,
    inbound: [],
    states: session ? session.states() : null,
  };
  const pc = session?.subscriber;
  if (!pc || pc.connectionState === 'closed') return out;
  // What the subscriber connection was offered, to tell "never offered" from "offered, no media".
  out.receivers = pc.getTransceivers().map((tr) => ({
    mid: tr.mid,
    kind: tr.receiver.track.kind,
    trackId: tr.receiver.track.id,
    direction: tr.currentDirection,
  }));
  out.signaling = pc.signalingState;
  const report = await pc.getStats();
  report.forEach((r) => {
    if (r.type !== 'inbound-rtp') return;
    out.inbound.push({
      kind: r.kind,
      trackIdentifier: r.trackIdentifier ?? null,
      participantId: session.remoteTrackOwner(r.trackIdentifier) ?? null,
      framesDecoded: r.framesDecoded ?? 0,
      packetsReceived: r.packetsReceived ?? 0,
      frameWidth: r.frameWidth ?? 0,
      frameHeight: r.frameHeight ?? 0,
    });
  });
  return out;
}

// tokenClaims reads the name and role out of the token so the preview is labelled before the
// server answers; the server checks the token, the page only displays it.
function tokenClaims(token) {
  try {
    const b64 = token.split('.')[0].replace(/-/g, '+').replace(/_/g, '/');
    const bytes = Uint8Array.from(atob(b64), (c) => c.charCodeAt(0));
    const claims = JSON.parse(new TextDecoder().decode(bytes));
    return { name: String(claims.name ?? ''), role: String(claims.role ?? '') };
  } catch {
    return { name: '', role: '' };
  }
}

function init() {
  initI18n();
  mountLangSwitch($('lang'));
  applyI18n($('lang'));
  onLangChange(() => {
    showBanner(bannerError);
    if (endedInfo) showEnded(endedInfo);
    if (session) showState(session.states());
    showQuality(); // the links' tooltips
    for (const kind of ['audio', 'video']) setMuteButton(kind, mutedState[kind]);
    for (const btn of ['btn-mic', 'btn-cam']) $(btn).title = $(btn).querySelector('.label').textContent;
  });
  $('banner-close').addEventListener('click', () => showBanner(null));
  $('btn-rejoin').addEventListener('click', () => window.location.reload());
  $('btn-sound').addEventListener('click', () => {
    for (const tile of tiles.values()) tile.audio?.play().catch(() => {});
    $('btn-sound').hidden = true;
  });

  const token = new URLSearchParams(window.location.hash.slice(1)).get('token');
  window.sanjiCall = {
    get session() {
      return session;
    },
    get publisher() {
      return session?.publisher ?? null;
    },
    get subscriber() {
      return session?.subscriber ?? null;
    },
    remoteStats,
  };
  if (!token) {
    showEnded({ key: 'err.noToken' });
    $('btn-rejoin').hidden = true;
    return;
  }

  session = new CallSession({ token });
  watchReconnect(session);
  session
    .on('joined', ({ room, self, participants }) => {
      setText($('room-label'), 'call.room', { room });
      localTile.setInfo(self, true);
      for (const p of participants) remoteTile(p);
      updateCount();
    })
    .on('participant', (p) => remoteTile(p))
    .on('left', (id) => {
      tiles.get(id)?.remove();
      tiles.delete(id);
      updateCount();
    })
    .on('local', (stream) => {
      const video = stream.getVideoTracks()[0] ?? null;
      localTile.setTrack('video', video);
      $('btn-mic').disabled = !stream.getAudioTracks()[0];
      $('btn-cam').disabled = !video;
    })
    .on('track', ({ participantId, kind, track }) => {
      const p = session.participants.get(participantId);
      if (p) remoteTile(p).setTrack(kind, track);
    })
    .on('track_removed', ({ participantId, kind, trackId, fromServer }) => {
      const tile = tiles.get(participantId);
      // The server names tracks by its own ids, which need not be the browser's track ids; a
      // participant has one track of each kind, so the kind decides.
      if (tile && kind && (fromServer || tile.tracks[kind]?.id === trackId)) tile.setTrack(kind, null);
    })
    .on('track_muted', ({ participantId, kind, muted }) => tiles.get(participantId)?.setMuted(kind, muted))
    .on('speaker', (id) => {
      for (const [pid, tile] of tiles) tile.el.classList.toggle('speaking', pid === id);
      localTile?.el.classList.toggle('speaking', !!id && id === session.self?.id);
    })
    .on('state', showState)
    .on('quality', (q) => {
      quality = q;
      showQuality();
    })
    .on('rtt', (ms) => {
      const el = $('rtt');
      el.hidden = false;
      setText(el, 'status.rtt', { ms });
    })
    .on('error', showBanner)
    .on('ended', showEnded);

  localTile = new Tile({ id: 'local', local: true });
  localTile.setInfo(tokenClaims(token), true);
  $('grid').append(localTile.el);
  updateCount();

  $('btn-mic').addEventListener('click', () => toggleMute('audio'));
  $('btn-cam').addEventListener('click', () => toggleMute('video'));
  $('btn-leave').addEventListener('click', () => session.leave());
  window.addEventListener('pagehide', () => session.leave());

  session.start();
  document.body.dataset.ready = 'true';
}

init();
