// The case's documents (文书) on the cases page: generate one from the case's data, print its page
// (the browser makes the PDF), record its service (送达) with the proof. A transition that needs a
// document is refused by the server until it is here, naming it.

import { api, ApiError } from './api.js';
import { t } from './i18n.js';
import { date } from './time.js';

const $ = (id) => document.getElementById(id);

const KINDS = ['accept_notice', 'not_accept_notice', 'answer', 'review_opinion', 'rereview_opinion', 'extension_notice',
  'closure_report', 'supervision_feedback'];
const CHANNELS = ['', 'litigation', 'arbitration', 'admin_review', 'other'];
const METHODS = ['in_person', 'post', 'online', 'video'];
const TO_PETITIONER = (kind) => kind !== 'closure_report' && kind !== 'supervision_feedback';

function el(tag, text, cls) {
  const e = document.createElement(tag);
  if (text !== undefined) e.textContent = text;
  if (cls) e.className = cls;
  return e;
}

function options(sel, values, label) {
  const keep = sel.value;
  sel.replaceChildren(...values.map((v) => {
    const o = el('option', label(v));
    o.value = v;
    return o;
  }));
  if (values.includes(keep)) sel.value = keep;
}

// initDocs wires the generate form; the page calls show(c) for each opened case. bad shows an
// error in the page's banner; changed reloads the case and says what happened.
export function initDocs({ canHandle, bad, changed }) {
  let current = null;
  const form = $('doc-form');

  function labels() {
    options($('doc-kind'), KINDS, (k) => t('doc.kind.' + k));
    options($('doc-channel'), CHANNELS, (c) => (c ? t('doc.chan.' + c) : t('doc.chan.none')));
    const kind = $('doc-kind').value;
    $('doc-reason-f').hidden = kind !== 'not_accept_notice' && kind !== 'extension_notice';
    $('doc-channel-f').hidden = kind !== 'not_accept_notice';
    $('doc-body-f').hidden = kind === 'accept_notice' || kind === 'not_accept_notice' || kind === 'extension_notice';
  }

  function serveForm(d) {
    const box = el('span', undefined, 'doc-serve');
    const method = el('select');
    method.className = 'svc-method';
    options(method, METHODS, (m) => t('doc.svc.' + m));
    const proof = el('input');
    proof.className = 'svc-proof';
    proof.maxLength = 500;
    proof.placeholder = t('doc.svc.proof');
    const btn = el('button', t('doc.svc.submit'), 'btn svc-submit');
    btn.type = 'button';
    btn.addEventListener('click', async () => {
      btn.disabled = true;
      try {
        await api('POST', `/api/v1/cases/${current.id}/documents/${d.id}/service`, { method: method.value, proof: proof.value.trim() });
        await changed(t('doc.served.ok', { title: d.title }));
      } catch (err) {
        bad(err);
      } finally {
        btn.disabled = false;
      }
    });
    box.append(method, proof, btn);
    return box;
  }

  async function show(c) {
    current = c;
    form.hidden = !canHandle;
    labels();
    const ul = $('d-documents');
    ul.replaceChildren();
    let res;
    try {
      res = await api('GET', `/api/v1/cases/${c.id}/documents`);
    } catch (err) {
      ul.append(el('li', err instanceof ApiError ? err.message : t('err.network'), 'muted'));
      return;
    }
    if (!res.documents.length) ul.append(el('li', t('cases.none'), 'muted'));
    for (const d of res.documents) {
      const li = el('li');
      li.dataset.kind = d.kind;
      li.append(el('strong', t('doc.kind.' + d.kind)), el('span', ' ' + t('doc.generated', { day: date(d.generated_at), hash: d.sha256.slice(0, 12) }), 'muted'));
      if (canHandle && c.view !== 'redacted') {
        const a = el('a', t('doc.print'), 'doc-print');
        a.href = `/api/v1/cases/${c.id}/documents/${d.id}`;
        a.target = '_blank';
        a.rel = 'noopener';
        li.append(' ', a);
      }
      if (d.served_at) {
        li.append(el('span', ' · ' + t('doc.served', { day: date(d.served_at), method: t('doc.svc.' + d.service_method), proof: d.service_proof }), 'doc-served'));
      } else if (TO_PETITIONER(d.kind)) {
        li.append(el('span', ' · ' + t('doc.unserved'), 'warn warn-50'));
        if (canHandle) li.append(' ', serveForm(d));
      }
      ul.append(li);
    }
  }

  $('doc-kind').addEventListener('change', labels);
  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    const kind = $('doc-kind').value;
    const body = { kind, reason: $('doc-reason').value.trim(), channel: $('doc-channel').value, body: $('doc-body').value.trim() };
    $('doc-submit').disabled = true;
    try {
      await api('POST', `/api/v1/cases/${current.id}/documents`, body);
      form.reset();
      await changed(t('doc.generated.ok', { title: t('doc.kind.' + kind) }));
    } catch (err) {
      bad(err);
    } finally {
      $('doc-submit').disabled = false;
    }
  });
  return { show, labels };
}
