// Texts of the petitioner's query page (query.html), added to i18n.js's dictionaries.

import { addMessages } from './i18n.js';

addMessages('zh', {
  'q.title': '信访事项查询与评价 · 三级视频接访',
  'q.nav.public': '领导接访安排',
  'q.heading': '信访事项查询',
  'q.intro': '输入登记时取得的查询码，查看事项的办理进度，并对受理和办理结果作出评价。',
  'q.code': '查询码',
  'q.submit': '查询',
  'q.required': '请输入查询码。',
  'q.status': '当前状态：',
  'q.eval': '满意度评价',
  'q.stage.acceptance': '对受理环节的评价',
  'q.stage.result': '对办理结果的评价',
  'q.stage.rated': '已评价，谢谢。每个环节只评价一次。',
  'q.stage.later.acceptance': '事项受理后可以评价。',
  'q.stage.later.result': '事项办结后可以评价办理结果。',
  'q.score.satisfied': '满意',
  'q.score.basically': '基本满意',
  'q.score.unsatisfied': '不满意',
  'q.thanks': '评价已提交，谢谢。',
  'q.excluded': '此类事项（检举控告）不参加满意度评价。',
  'q.link': '信访事项查询与评价',
});

addMessages('en', {
  'q.title': 'Follow and rate a case · Sanji',
  'q.nav.public': 'Leaders\' reception schedule',
  'q.heading': 'Follow a case',
  'q.intro': 'Enter the query code you were given at registration to see how your case stands, and rate its acceptance and its result.',
  'q.code': 'Query code',
  'q.submit': 'Look up',
  'q.required': 'Enter the query code.',
  'q.status': 'Status: ',
  'q.eval': 'Your rating',
  'q.stage.acceptance': 'How your case was accepted',
  'q.stage.result': 'The result',
  'q.stage.rated': 'Rated, thank you. Each stage is rated once.',
  'q.stage.later.acceptance': 'You can rate this once the case is accepted.',
  'q.stage.later.result': 'You can rate the result once the case is closed.',
  'q.score.satisfied': 'Satisfied',
  'q.score.basically': 'Basically satisfied',
  'q.score.unsatisfied': 'Unsatisfied',
  'q.thanks': 'Your rating was sent, thank you.',
  'q.excluded': 'Cases of this kind (accusations) are not rated for satisfaction.',
  'q.link': 'Follow and rate a case',
});
