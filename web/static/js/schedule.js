// The public schedule of leader receptions (五公开), drawn on the public page and the front page:
// no login, no personal data.

import { showError } from './nav.js';
import { api, ApiError } from './api.js';
import { t, onLangChange } from './i18n.js';
import { dateTime, time } from './time.js';

// showSchedule fills the table body rows (and shows empty when there is nothing, errBox on error).
export async function showSchedule({ rows, empty, errBox }) {
  let data = [];
  const render = () => {
    rows.replaceChildren();
    for (const s of data) {
      const tr = document.createElement('tr');
      const when = `${dateTime(s.start)}–${time(s.end)}` + (s.holiday ? t('pub.holiday', { name: s.holiday }) : '');
      const place = [s.place, ...s.halls].filter(Boolean).join('、');
      for (const text of [when, place, s.leader_name, s.leader_post, s.portfolio]) {
        const td = document.createElement('td');
        td.textContent = text;
        tr.append(td);
      }
      rows.append(tr);
    }
    empty.hidden = data.length > 0;
  };
  try {
    data = (await api('GET', '/api/v1/public/sessions')).sessions;
    render();
    onLangChange(render);
  } catch (err) {
    showError(errBox, err instanceof ApiError ? err : null, t('err.network'));
  }
}
