// The cluster's nodes on the admin page, for admins at the root (node.admin): each node's
// address, the part of the tier tree it serves, its load and whether it drains, with the button
// that drains it or lets it take new rooms again. On a single node the section says so.

import { api, me, ApiError } from './api.js';
import { t, setText } from './i18n.js';
import { showError } from './nav.js';

const box = document.getElementById('nodes');
const rows = document.getElementById('node-rows');
const note = document.getElementById('nodes-note');
const errBox = document.getElementById('nodes-error');

function cell(text) {
  const td = document.createElement('td');
  td.textContent = text;
  return td;
}

function row(n) {
  const tr = document.createElement('tr');
  tr.dataset.node = n.id;
  const state = document.createElement('td');
  setText(state, n.draining ? 'nodes.draining' : 'nodes.active');
  const act = document.createElement('td');
  const b = document.createElement('button');
  b.type = 'button';
  b.className = 'btn';
  setText(b, n.draining ? 'nodes.resume' : 'nodes.drain');
  b.addEventListener('click', async () => {
    b.disabled = true;
    try {
      await api('POST', `/api/v1/nodes/${encodeURIComponent(n.id)}/drain`, { draining: !n.draining });
      await refresh();
    } catch (err) {
      fail(err);
      b.disabled = false;
    }
  });
  act.append(b);
  tr.append(cell(n.id + (n.self ? ' *' : '')), cell(n.http_url), cell((n.serves || []).join(', ') || '—'),
    cell(String(n.participants)), cell(String(n.tracks)), cell((n.bitrate_bps / 1e6).toFixed(1)),
    cell(Math.round(n.cpu * 100) + '%'), cell(String(n.rooms)), state, act);
  return tr;
}

function fail(err) {
  showError(errBox, err instanceof ApiError ? err : null, t('err.network'));
}

async function refresh() {
  try {
    const r = await api('GET', '/api/v1/nodes');
    errBox.hidden = true;
    if (!r.clustered) {
      setText(note, 'nodes.single');
      rows.replaceChildren();
    } else {
      setText(note, 'nodes.count', { n: r.nodes.length });
      rows.replaceChildren(...r.nodes.map(row));
    }
    box.dataset.loaded = 'true';
  } catch (err) {
    fail(err);
  }
}

const m = await me();
if (m && m.can.includes('node.admin')) {
  box.hidden = false;
  await refresh();
  // Load changes by itself: the heartbeat writes it every 2 s.
  setInterval(refresh, 5000);
}
