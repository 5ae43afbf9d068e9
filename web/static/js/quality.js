// What the server's `quality` report (docs/protocol.md, Quality) means on a call page: a notice on
// each remote tile whose video is lowered or paused or whose sender's link is poor, and the
// indicator of our own links. A frozen or blurred picture is never left unexplained.

import { setText, t } from './i18n.js';

const RANK = { 'quality.theirLink': 1, 'quality.lowered': 2, 'quality.paused': 3 };
const LEVELS = ['good', 'fair', 'poor'];

// trackNotice is the notice one received video track calls for, or null when all is well.
export function trackNotice(tr) {
  if (tr.paused) return { key: 'quality.paused', level: 'poor' };
  if (tr.lowered) return { key: 'quality.lowered', level: 'fair' };
  if (tr.publisherUplink === 'fair' || tr.publisherUplink === 'poor') return { key: 'quality.theirLink', level: tr.publisherUplink };
  return null;
}

// noticesByParticipant maps each remote participant to the most serious notice of its tracks.
export function noticesByParticipant(q) {
  const out = new Map();
  for (const tr of q?.tracks ?? []) {
    const n = trackNotice(tr);
    if (!n) continue;
    const prev = out.get(tr.participantId);
    if (!prev || RANK[n.key] > RANK[prev.key]) out.set(tr.participantId, n);
  }
  return out;
}

// qualityBadge makes the element a tile shows its notice in. It is a live region (role=status)
// that stays in the page, empty while all is well, so that screen readers announce each notice.
export function qualityBadge() {
  const el = document.createElement('p');
  el.className = 'tile-quality';
  el.setAttribute('role', 'status');
  el.setAttribute('aria-live', 'polite');
  el.setAttribute('aria-atomic', 'true');
  return el;
}

// showNotice writes notice (null: none) about the participant shown as name into a badge. The
// same notice is not written again: every write would be announced again.
export function showNotice(el, notice, name) {
  const key = notice?.key ?? '';
  if (el.dataset.key === key && el.dataset.name === name) return;
  el.dataset.key = key;
  el.dataset.name = name;
  if (!notice) {
    // Not translated any more: a language switch must not bring the old text back.
    delete el.dataset.i18n;
    delete el.dataset.i18nParams;
    delete el.dataset.level;
    el.textContent = '';
    return;
  }
  el.dataset.level = notice.level;
  setText(el, notice.key, { name });
}

// drawNet fills the indicator of our own links ({up, down, warn} elements) from report q.
export function drawNet({ up, down, warn }, q) {
  drawLink(up, 'quality.up', q?.uplink);
  drawLink(down, 'quality.down', q?.downlink);
  const upLevel = q?.uplink?.level;
  let key = '';
  if (upLevel === 'poor') key = 'quality.selfPoor';
  else if (upLevel === 'fair') key = 'quality.selfFair';
  else if (q?.downlink?.level === 'poor') key = 'quality.downPoor';
  warn.hidden = !key;
  if (key) {
    warn.dataset.level = upLevel === 'fair' ? 'fair' : 'poor';
    setText(warn, key);
  }
}

function drawLink(el, key, link) {
  const level = LEVELS.includes(link?.level) ? link.level : '';
  el.hidden = !level;
  if (!level) return;
  el.dataset.level = level;
  setText(el, key, { level: { key: `quality.level.${level}` } });
  el.title = t('quality.detail', { loss: (link.loss * 100).toFixed(1), rtt: link.rttMs || '—' });
}
