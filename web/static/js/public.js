// The public page of upcoming leader receptions (五公开): no login, no personal data.

import { initPage } from './nav.js';
import { showSchedule } from './schedule.js';

initPage();

const $ = (id) => document.getElementById(id);
showSchedule({ rows: $('pub-rows'), empty: $('pub-empty'), errBox: $('pub-error') });
