// The role ids the server knows (see the scheduler's users and roles). Their names are the
// i18n keys "role.<id>".
export const ROLES = [
  'leader',
  'hall_operator',
  'intake_officer',
  'case_handler',
  'unit_head',
  'supervisor',
  'scheduler_staff',
  'petitioner',
  'observer',
  'admin',
];

export function roleKey(role) {
  return ROLES.includes(role) ? `role.${role}` : null;
}
