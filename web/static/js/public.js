// The public page of upcoming leader receptions (五公开): no login, no personal data.

import './sessions-messages.js';
import './query-messages.js';
import { initPage, showError } from './nav.js';
import { api, ApiError } from './api.js';
import { t, onLangChange } from './i18n.js';
import { dateTime, time } from './time.js';

initPage();

const rows = document.getElementById('pub-rows');
let data = [];

function render() {
  rows.replaceChildren();
  for (const s of data) {
    const tr = document.createElement('tr');
    const when = `${dateTime(s.start)}–${time(s.end)}` +
      (s.holiday ? t('pub.holiday', { name: s.holiday }) : '');
    const place = [s.place, ...s.halls].filter(Boolean).join('、');
    for (const text of [when, place, s.leader_name, s.leader_post, s.portfolio]) {
      const td = document.createElement('td');
      td.textContent = text;
      tr.append(td);
    }
    rows.append(tr);
  }
  document.getElementById('pub-empty').hidden = data.length > 0;
}

try {
  data = (await api('GET', '/api/v1/public/sessions')).sessions;
  render();
  onLangChange(render);
} catch (err) {
  showError(document.getElementById('pub-error'), err instanceof ApiError ? err : null, t('err.network'));
}
