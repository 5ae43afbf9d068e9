// The case exchange page (docs/exchange.md): export the cases of a subtree as a signed bundle,
// downloaded as a file, and import a bundle from a file, showing what happened to each case and,
// when the bundle is refused, why.

import { ApiError } from './api.js';
import { lang, t, setText, onLangChange } from './i18n.js';
import { $, el, cell, fail, start, directory } from './staff.js';

const STATUSES = ['registered', 'forwarded', 'assigned', 'objection_returned', 'accepted', 'not_accepted', 'in_progress',
  'extended', 'answered', 'review', 'rereview', 'closed', 'evaluated', 'archived'];
// OUTCOMES in the order the summary names them.
const OUTCOMES = ['created', 'updated', 'unchanged', 'matched', 'stale'];

let me = null;
let lastDownload = '';

function fillStatuses() {
  const sel = $('x-status');
  const keep = sel.value;
  const all = el('option', { value: '' });
  setText(all, 'xchg.status.all');
  sel.replaceChildren(all, ...STATUSES.map((s) => el('option', { value: s }, t('cs.' + s))));
  sel.value = keep;
}

async function fillUnits() {
  const dir = await directory();
  const all = el('option', { value: '' });
  setText(all, 'xchg.unit.all');
  $('x-unit').replaceChildren(all, ...dir.units.map((u) => el('option', { value: String(u.id) }, `${u.name} (${u.code})`)));
}

// post sends the request the API helper cannot: its answer is a file, not JSON.
async function postForFile(path, body) {
  const res = await fetch(path, {
    method: 'POST',
    credentials: 'same-origin',
    headers: { 'Content-Type': 'application/json', 'Accept-Language': lang() === 'en' ? 'en' : 'zh-CN', 'X-CSRF-Token': me.csrf_token },
    body: JSON.stringify(body),
  });
  if (!res.ok) {
    let data = null;
    try {
      data = await res.json();
    } catch {
      data = null;
    }
    throw new ApiError(res.status, data);
  }
  const name = /filename="([^"]+)"/.exec(res.headers.get('Content-Disposition') || '')?.[1] || 'sanji-cases.zip';
  return { name, blob: await res.blob() };
}

$('x-identity').addEventListener('change', () => {
  $('x-purpose-field').hidden = $('x-identity').value !== 'full';
});

$('export-form').addEventListener('submit', async (ev) => {
  ev.preventDefault();
  $('export-error').hidden = true;
  $('export-ok').hidden = true;
  const body = { identity: $('x-identity').value };
  if ($('x-unit').value) body.unit_id = Number($('x-unit').value);
  if ($('x-status').value) body.status = $('x-status').value;
  if ($('x-from').value) body.from = $('x-from').value;
  if ($('x-to').value) body.to = $('x-to').value;
  if (body.identity === 'full') body.purpose = $('x-purpose').value.trim();
  $('export-submit').disabled = true;
  try {
    const { name, blob } = await postForFile('/api/v1/cases/export', body);
    // The previous bundle's URL is released only now: revoking at once can cancel its download.
    if (lastDownload) URL.revokeObjectURL(lastDownload);
    lastDownload = URL.createObjectURL(blob);
    const a = el('a', { href: lastDownload, download: name });
    document.body.append(a);
    a.click();
    a.remove();
    const ok = $('export-ok');
    setText(ok, 'xchg.exported', { file: name, kb: Math.max(1, Math.round(blob.size / 1024)) });
    ok.hidden = false;
  } catch (err) {
    fail($('export-error'), err, $('export-form'));
  } finally {
    $('export-submit').disabled = false;
  }
});

function showResult(res) {
  const summary = $('import-summary');
  summary.replaceChildren();
  const total = res.cases.length;
  summary.append(el('span', {}, t('xchg.summary', { n: total, key: res.key_id })));
  for (const o of OUTCOMES) {
    const n = res.counts[o] || 0;
    if (!n) continue;
    const s = el('span', { class: 'flag', 'data-outcome': o });
    setText(s, 'xchg.count', { outcome: { key: 'xchg.outcome.' + o }, n });
    summary.append(' ', s);
  }
  const rows = $('import-rows');
  rows.replaceChildren();
  for (const c of res.cases) {
    const tr = el('tr', { 'data-number': c.number, 'data-outcome': c.outcome });
    cell(tr, c.number);
    const o = cell(tr, '');
    setText(o, 'xchg.outcome.' + c.outcome);
    const local = cell(tr, '');
    if (c.case_id) local.append(el('a', { href: `cases.html?case=${c.case_id}` }, c.local_number || `#${c.case_id}`));
    // The reason comes from the server in the page's language (it is data once rendered).
    cell(tr, c.reason || '');
    rows.append(tr);
  }
  $('import-result').hidden = false;
}

$('import-form').addEventListener('submit', async (ev) => {
  ev.preventDefault();
  const errBox = $('import-error');
  errBox.hidden = true;
  $('import-ok').hidden = true;
  $('import-result').hidden = true;
  const file = $('i-file').files[0];
  if (!file) {
    setText(errBox, 'xchg.noFile');
    errBox.hidden = false;
    $('i-file').focus();
    return;
  }
  $('import-submit').disabled = true;
  try {
    // The zip goes as it is; api() sends only JSON and CSV.
    const res = await fetch('/api/v1/cases/import', {
      method: 'POST',
      credentials: 'same-origin',
      headers: { 'Content-Type': 'application/zip', 'Accept-Language': lang() === 'en' ? 'en' : 'zh-CN', 'X-CSRF-Token': me.csrf_token },
      body: file,
    });
    let data = null;
    try {
      data = await res.json();
    } catch {
      data = null;
    }
    if (!res.ok) throw new ApiError(res.status, data);
    const ok = $('import-ok');
    setText(ok, 'xchg.imported', { file: file.name });
    ok.hidden = false;
    showResult(data);
  } catch (err) {
    fail(errBox, err, $('import-form'));
    // A refused bundle names the part at fault (manifest.sig, cases.json, files/…).
    if (err instanceof ApiError && err.code === 'bundle_rejected' && err.field) {
      errBox.append(' ', el('span', { class: 'mono' }, t('xchg.part', { part: err.field })));
    }
  } finally {
    $('import-submit').disabled = false;
  }
});

me = await start();
if (me) {
  fillStatuses();
  onLangChange(fillStatuses);
  try {
    await fillUnits();
    window.sanjiExchange = { ready: true };
  } catch (err) {
    fail($('export-error'), err);
  }
}
