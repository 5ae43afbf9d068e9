// Texts of the front page (index.html), added to i18n.js's dictionaries. The system's and the
// office's names are neutral: no installation setting names them yet.

import { addMessages } from './i18n.js';

addMessages('zh', {
  'front.title': '三级视频接访系统',
  'front.system': '三级视频接访系统',
  'front.office': '信访工作机构',
  'front.intro': '领导视频接访、接访大厅候访、信访事项办理与督办。工作人员请登录后使用。',
  'front.login': '工作人员登录',
  'front.nav.public': '接访安排公开',
  'front.query.intro': '信访人凭登记时领取的查询码，查询事项办理进度并评价办理结果。',
  'front.query.go': '查询信访事项',
  'front.public.all': '查看接访安排公开页',
  'front.dev': '开发用：视频房间测试页（仅开发模式）',
});

addMessages('en', {
  'front.title': 'Three-tier video reception system',
  'front.system': 'Three-tier video reception system',
  'front.office': 'Petition office',
  'front.intro': 'Leaders\u2019 video receptions, the halls\u2019 waiting rooms, and the handling and supervision of cases. Staff, please log in.',
  'front.login': 'Staff login',
  'front.nav.public': 'Published receptions',
  'front.query.intro': 'With the query code given at registration, petitioners follow their case and rate how it was handled.',
  'front.query.go': 'Look up a case',
  'front.public.all': 'All published receptions',
  'front.dev': 'Development only: the video room test page (development mode)',
});
