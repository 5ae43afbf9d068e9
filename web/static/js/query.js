// The petitioner's page: the milestones of a case by its query code (no login, nothing
// identifying), and the satisfaction rating of its acceptance and of its result, once each; after
// a 复查 (复核) its result is rated again once its opinion has reached the petitioner.

import { initPage, showError } from './nav.js';
import { api, ApiError } from './api.js';
import { t, onLangChange } from './i18n.js';

initPage();

const $ = (id) => document.getElementById(id);
const SCORES = ['satisfied', 'basically', 'unsatisfied'];
let code = '';
let res = null;

function el(tag, text, cls) {
  const e = document.createElement(tag);
  if (text !== undefined) e.textContent = text;
  if (cls) e.className = cls;
  return e;
}

function fail(box, err) {
  showError(box, err instanceof ApiError ? err : null, t('err.network'));
}

// open says whether a stage can be rated now, as the server says: acceptance once the case was
// accepted, the result once the handling opinion was served, each within its window.
function open(stage) {
  return Boolean(res.open && res.open[stage]);
}

function render() {
  if (!res) return;
  $('q-result').hidden = false;
  $('q-number').textContent = res.number;
  $('q-status').textContent = t('cs.' + res.status);
  const ol = $('q-milestones');
  ol.replaceChildren();
  for (const m of res.milestones) ol.append(el('li', `${m.date} · ${t('cs.' + m.status)}`));
  $('q-excluded').hidden = res.can_evaluate;
  $('q-eval').hidden = !res.can_evaluate;
  const box = $('q-stages');
  box.replaceChildren();
  for (const stage of ['acceptance', 'result', 'review_result', 'rereview_result']) {
    // A review's result shows only once there is one to rate (or it was rated): most cases have none.
    const review = stage !== 'acceptance' && stage !== 'result';
    if (review && !open(stage) && !res.rated.includes(stage)) continue;
    const div = el('div', undefined, 'q-stage');
    div.id = `q-stage-${stage}`;
    div.append(el('h4', t('q.stage.' + stage)));
    if (res.rated.includes(stage)) {
      div.dataset.rated = 'true';
      div.append(el('p', t('q.stage.rated'), 'muted'));
    } else if (!open(stage)) {
      div.append(el('p', t('q.stage.later.' + stage), 'muted'));
    } else {
      const row = el('div', undefined, 'q-scores');
      for (const score of SCORES) {
        const b = el('button', t('q.score.' + score), 'btn');
        b.type = 'button';
        b.dataset.score = score;
        b.addEventListener('click', () => rate(stage, score));
        row.append(b);
      }
      div.append(row);
    }
    box.append(div);
  }
}

async function lookup() {
  res = await api('POST', '/api/v1/query', { code });
  render();
}

async function rate(stage, score) {
  $('q-ok').hidden = true;
  $('q-eval-error').hidden = true;
  try {
    await api('POST', '/api/v1/query/evaluation', { code, stage, score, via: 'query_page' });
    await lookup();
    $('q-ok').textContent = t('q.thanks');
    $('q-ok').hidden = false;
  } catch (err) {
    fail($('q-eval-error'), err);
  }
}

$('q-form').addEventListener('submit', async (ev) => {
  ev.preventDefault();
  $('q-error').hidden = true;
  $('q-ok').hidden = true;
  code = $('q-code').value.trim();
  if (!code) {
    showError($('q-error'), null, t('q.required'));
    return;
  }
  $('q-submit').disabled = true;
  try {
    await lookup();
  } catch (err) {
    $('q-result').hidden = true;
    res = null;
    fail($('q-error'), err);
  } finally {
    $('q-submit').disabled = false;
  }
});

onLangChange(render);
