// The front page: the system, its office, the login, the public schedule (五公开) and the case
// query. A logged-in user goes on to their work (landing.js).

import { initPage } from './nav.js';
import { me } from './api.js';
import { land } from './landing.js';
import { showSchedule } from './schedule.js';

initPage();

const $ = (id) => document.getElementById(id);

me().then((m) => m && land(m)).catch(() => {});
showSchedule({ rows: $('pub-rows'), empty: $('pub-empty'), errBox: $('pub-error') });
devLink();

// devLink shows the link to the development room form only when the server is in development
// mode: then POST /dev/token serves (a request without a room is a 400); otherwise nothing does.
async function devLink() {
  try {
    const res = await fetch('dev/token', { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: '{}', cache: 'no-store' });
    $('dev-foot').hidden = !(res.status === 400 || res.ok);
  } catch {
    // no server, no link
  }
}
