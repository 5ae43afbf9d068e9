// The case page's forms: registering a case (the intake form, which shows the query code once),
// assigning it to a unit (交办), the receiving unit's objection, and the next step of the status
// machine — accept, start, extend (the unit head's approval, with the days and the written notice
// to the petitioner), answer, close. The server decides; the forms only offer what fits the
// case's status and the caller's roles, and show the server's errors (already in the page's
// language) next to the field they name.

import { api } from './api.js';
import { t } from './i18n.js';
import { fail } from './staff.js';

const $ = (id) => document.getElementById(id);

// The roles of the server's policy table (scheduler/policy.go) that register and handle cases:
// the forms offer the units of the caller's grants in these roles. The server checks again.
const REGISTER_ROLES = ['hall_operator', 'intake_officer'];
const HANDLE_ROLES = ['leader', 'intake_officer', 'case_handler', 'unit_head', 'supervisor'];

const FORMS = ['visit', 'letter', 'online', 'phone', 'video'];
const TYPES = ['claim', 'suggestion', 'accusation'];
const RESULTS = ['support', 'explain', 'not_support'];
// How a matter ends (casework/review.go): the outcomes of not accepting and of closing, and the
// legal channels a matter is guided into (诉访分离).
const OUTCOMES = {
  not_accepted: ['not_accepted', 'legal_channel', 'no_longer_accepted'],
  closed: ['resolved', 'partly', 'not_supported', 'forwarded', 'terminated'],
};
const CHANNELS = ['litigation', 'arbitration', 'admin_review'];
// The steps a person takes from each status (routing goes through the assignment form; the
// petitioner's rating moves a case to evaluated).
const STEPS = {
  registered: ['accepted', 'not_accepted'],
  forwarded: ['accepted', 'not_accepted'],
  assigned: ['accepted', 'not_accepted'],
  objection_returned: ['accepted', 'not_accepted'],
  accepted: ['in_progress'],
  not_accepted: ['archived'],
  in_progress: ['extended', 'answered'],
  extended: ['answered'],
  answered: ['review', 'closed'],
  review: ['rereview', 'closed'],
  rereview: ['closed'],
  closed: ['archived'],
  evaluated: ['archived'],
};

function option(value, text) {
  const o = document.createElement('option');
  o.value = String(value);
  o.textContent = text;
  return o;
}

// fill replaces a select's options, keeping the chosen value when it is still offered (and
// then reports true).
function fill(sel, items) {
  const keep = sel.value;
  sel.replaceChildren(...items.map(([v, text]) => option(v, text)));
  const kept = items.some(([v]) => String(v) === keep);
  if (kept) sel.value = keep;
  return kept;
}

// A division code from a unit's code: "330100-XFJ" → 330100, "330102001" → itself.
const territoryOf = (u) => (u?.code.match(/^\d{6}(\d{3})?/) || [''])[0];

// initForms wires the forms. units maps id → unit (path, code, name) for every unit the page
// knows; routing are the units the caller may route to; created(case) and changed(message) are
// the page's answers to a registration and to any other change.
export function initForms({ me, units, routing, created, changed }) {
  const paths = (roles) => me.grants.filter((g) => roles.includes(g.role)).map((g) => units.get(g.unit_id)?.path).filter(Boolean);
  const within = (u, ps) => Boolean(u) && ps.some((p) => u.path.startsWith(p));
  const byPath = (a, b) => a.path.localeCompare(b.path);
  const registerUnits = [...units.values()].filter((u) => within(u, paths(REGISTER_ROLES))).sort(byPath);
  const handleUnits = [...units.values()].filter((u) => within(u, paths(HANDLE_ROLES))).sort(byPath);
  const unitHead = me.grants.some((g) => g.role === 'unit_head');
  let categories = [];
  let current = null;
  let returnedTo = 0; // an objected case goes back to its assigner, who routes it again

  const canRegister = me.can.includes('case.register') && registerUnits.length > 0;
  const canHandle = me.can.includes('case.handle');
  $('new-case').hidden = !canRegister;

  // ---- registration ----

  function labels() {
    fill($('i-unit'), registerUnits.map((u) => [u.id, u.name]));
    fill($('i-form'), FORMS.map((f) => [f, t('form.' + f)]));
    fill($('i-type'), TYPES.map((x) => [x, t('type.' + x)]));
    fill($('i-category'), [['', t('cf.choose')], ...categories.map((c) => [c.id, c.name])]);
    fill($('as-unit'), [['', t('cf.choose')], ...routing.map((u) => [u.id, u.name])]);
    fill($('st-result'), RESULTS.map((r) => [r, t('res.' + r)]));
    fill($('st-channel'), CHANNELS.map((x) => [x, t('rv.ch.' + x)]));
    if (current) show(current, null);
  }

  $('new-case').addEventListener('click', async () => {
    $('intake').hidden = false;
    $('i-error').hidden = true;
    if (!categories.length) {
      try {
        categories = (await api('GET', '/api/v1/categories')).categories;
      } catch (err) {
        fail($('i-error'), err, $('intake'));
      }
    }
    labels();
    if (!$('i-territory').value) $('i-territory').value = territoryOf(units.get(Number($('i-unit').value)));
    $('i-title').focus();
  });
  $('i-unit').addEventListener('change', () => {
    $('i-territory').value = territoryOf(units.get(Number($('i-unit').value)));
  });
  $('i-cancel').addEventListener('click', () => {
    $('intake').hidden = true;
  });
  $('intake').addEventListener('submit', async (ev) => {
    ev.preventDefault();
    $('i-error').hidden = true;
    const anonymous = $('i-anonymous').checked;
    const body = {
      unit_id: Number($('i-unit').value),
      territory: $('i-territory').value.trim(),
      form: $('i-form').value,
      type: $('i-type').value,
      category_id: Number($('i-category').value),
      title: $('i-title').value.trim(),
      content: $('i-content').value,
      petitioners: [{
        name: $('i-name').value.trim(), id_number: $('i-id').value.trim(), phone: $('i-phone').value.trim(),
        address: $('i-address').value.trim(), role: 'petitioner', anonymous,
      }],
      involved_count: Number($('i-involved').value) || 0,
      complained_party: $('i-complained').value.trim(),
    };
    $('i-submit').disabled = true;
    try {
      const c = await api('POST', '/api/v1/cases', body);
      $('intake').reset();
      $('intake').hidden = true;
      created(c);
    } catch (err) {
      fail($('i-error'), err, $('intake'));
    } finally {
      $('i-submit').disabled = false;
    }
  });

  // ---- the open case: assignment and the next step ----

  // show offers the forms that fit case c; assignments (when given) tell where an objected case
  // went back to.
  function show(c, assignments) {
    current = c;
    if (assignments) {
      const last = assignments[assignments.length - 1];
      returnedTo = c.status === 'objection_returned' && last ? last.assigner_unit_id : 0;
    }
    const assigners = handleUnits.filter((u) => !returnedTo || u.id === returnedTo);
    // The caller's own unit first, unless they chose another.
    if (!fill($('as-assigner'), assigners.map((u) => [u.id, u.name])) && assigners.some((u) => u.id === me.user.unit_id)) {
      $('as-assigner').value = String(me.user.unit_id);
    }
    $('assign-form').hidden = !canHandle || !['registered', 'objection_returned'].includes(c.status) || !assigners.length;
    const steps = (STEPS[c.status] || []).filter((s) => s !== 'extended' || unitHead);
    fill($('st-to'), steps.map((s) => [s, t('cf.to.' + s)]));
    $('step-form').hidden = !canHandle || !steps.length;
    stepFields();
  }

  function stepFields() {
    const to = $('st-to').value;
    $('st-result-f').hidden = to !== 'answered';
    $('st-ext-f').hidden = to !== 'extended';
    $('st-notice-f').hidden = to !== 'extended';
    // A repeat of a final matter can only be not accepted as 不再受理: offer that alone.
    let outs = OUTCOMES[to] || [];
    if (to === 'not_accepted' && current?.final_of_id) outs = ['no_longer_accepted'];
    if (to === 'closed' && current?.status === 'rereview') outs = ['terminated', ...outs.filter((o) => o !== 'terminated')];
    $('st-outcome-f').hidden = !outs.length;
    if (outs.length) fill($('st-outcome'), outs.map((o) => [o, t('rv.out.' + o)]));
    channelField();
  }
  function channelField() {
    $('st-channel-f').hidden = $('st-outcome-f').hidden || $('st-outcome').value !== 'legal_channel';
  }
  $('st-to').addEventListener('change', stepFields);
  $('st-outcome').addEventListener('change', channelField);

  async function send(form, button, call, message) {
    $('d-error').hidden = true;
    $('d-ok').hidden = true;
    $(button).disabled = true;
    try {
      const res = await call();
      form.reset();
      changed(message(res));
    } catch (err) {
      fail($('d-error'), err, form);
    } finally {
      $(button).disabled = false;
    }
  }

  $('assign-form').addEventListener('submit', (ev) => {
    ev.preventDefault();
    const unit = Number($('as-unit').value);
    send($('assign-form'), 'as-submit', () => api('POST', `/api/v1/cases/${current.id}/assignments`, {
      assigner_unit_id: Number($('as-assigner').value), responsible_unit_id: unit, method: 'system',
      requirements: $('as-req').value.trim(), instruction: $('as-instr').value.trim(),
    }), (a) => t('cf.assigned', { unit: units.get(unit)?.name || `#${unit}`, due: a.feedback_due, objection: a.objection_due || '—' }));
  });

  $('step-form').addEventListener('submit', (ev) => {
    ev.preventDefault();
    const to = $('st-to').value;
    const body = { from: current.status, to, reason: $('st-reason').value.trim() };
    if (to === 'answered') body.result = $('st-result').value;
    if (!$('st-outcome-f').hidden) body.outcome = $('st-outcome').value;
    if (!$('st-channel-f').hidden) body.channel = $('st-channel').value;
    if (to === 'extended') {
      body.days = Number($('st-days').value) || 0;
      body.notice = $('st-notice').value.trim();
    }
    send($('step-form'), 'st-submit', () => api('POST', `/api/v1/cases/${current.id}/transitions`, body),
      (c) => t('cf.moved', { status: t('cs.' + c.status) }));
  });

  // objection returns the controls with which the receiving unit objects to assignment a of the
  // open case, or null when the caller does not act for that unit or the assignment is settled.
  function objection(a) {
    if (!canHandle || a.status !== 'open' || current?.status !== 'assigned' || !within(units.get(a.responsible_unit_id), paths(HANDLE_ROLES))) {
      return null;
    }
    const box = document.createElement('div');
    box.className = 'case-objection';
    const reason = document.createElement('input');
    reason.className = 'obj-reason';
    reason.dataset.field = 'reason';
    reason.maxLength = 2000;
    reason.placeholder = t('cf.obj.reason');
    const btn = document.createElement('button');
    btn.type = 'button';
    btn.className = 'btn obj-submit';
    btn.textContent = t('cf.obj.submit');
    btn.id = `obj-${a.id}`;
    btn.addEventListener('click', () => send(box, btn.id, () => api('POST', `/api/v1/assignments/${a.id}/objection`, { reason: reason.value.trim() }),
      () => t('cf.objected')));
    box.append(reason, btn);
    box.reset = () => {
      reason.value = '';
    };
    return box;
  }

  labels();
  return { show, objection, labels };
}
