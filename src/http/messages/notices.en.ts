// English messages of the notices area (merged into en.ts; see en.ts for the conventions).
export const noticesEn = {
  // ── Development outbox (src/delivery/dev-outbox-routes.ts, views/dev/outbox.ejs): development and tests only. ──
  'dev_outbox.title': 'Development outbox',
  'dev_outbox.intro': 'Messages that would have been emailed, texted or spoken in a call, newest first. This page exists only in development.',
  'dev_outbox.empty': 'No messages yet.',
  'dev_outbox.channel': 'Channel',
  'dev_outbox.channel_email': 'Email',
  'dev_outbox.channel_sms': 'Text message',
  'dev_outbox.channel_voice': 'Phone call',
  'dev_outbox.answer_label': 'Keys to press',
  'dev_outbox.answer': 'Answer the call',
  'dev_outbox.answered': 'Answered. The call said: “{say}”',
  'dev_outbox.to': 'To',
  'dev_outbox.subject': 'Subject',
  'dev_outbox.time': 'Time',
  // ── End of development outbox. ──
} as const;
