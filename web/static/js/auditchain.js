// The audit chain's head on the audit page: shown to an auditor of the whole tree, with a button
// that saves it as a file to keep outside the database (docs/security.md). A district auditor
// (403) does not see the card: the chain covers every district.

import { api, ApiError } from './api.js';
import { t } from './i18n.js';
import { dateTime } from './time.js';
import { showError } from './nav.js';

let head = null;

export async function loadChainHead() {
  const card = document.getElementById('chain');
  const errBox = document.getElementById('chain-error');
  try {
    head = await api('GET', '/api/v1/audit/head');
  } catch (err) {
    if (err instanceof ApiError && err.status === 403) return;
    card.hidden = false;
    showError(errBox, err instanceof ApiError ? err : null, t('err.network'));
    return;
  }
  document.getElementById('chain-entry').textContent =
    head.entry_id ? t('auditchain.entry_at', { id: head.entry_id, at: dateTime(head.at) }) : t('auditchain.empty');
  document.getElementById('chain-records').textContent = String(head.records);
  document.getElementById('chain-alg').textContent = head.algorithm === 'sm3' ? t('auditchain.sm3') : t('auditchain.sha256');
  document.getElementById('chain-head').textContent = head.hash || '—';
  card.hidden = false;
}

// The export is the head as the API gave it, as a JSON file named by the day.
document.getElementById('chain-export').addEventListener('click', () => {
  if (!head) return;
  const blob = new Blob([JSON.stringify(head, null, 2) + '\n'], { type: 'application/json' });
  const a = document.createElement('a');
  a.href = URL.createObjectURL(blob);
  a.download = `audit-head-${(head.exported_at || '').slice(0, 10).replaceAll('-', '')}.json`;
  document.body.append(a);
  a.click();
  a.remove();
  URL.revokeObjectURL(a.href);
});
