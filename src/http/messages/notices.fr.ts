// French messages of the notices area: the same ids as notices.en.ts (the type makes a missing id a compile error).
import type { noticesEn } from './notices.en.ts';

export const noticesFr: Record<keyof typeof noticesEn, string> = {
  // ── Development outbox (src/delivery/dev-outbox-routes.ts, views/dev/outbox.ejs): development and tests only. ──
  'dev_outbox.title': 'Boîte d’envoi de développement',
  'dev_outbox.intro': 'Les messages qui auraient été envoyés par e-mail, par SMS ou dits lors d’un appel, du plus récent au plus ancien. Cette page n’existe qu’en développement.',
  'dev_outbox.empty': 'Aucun message pour l’instant.',
  'dev_outbox.channel': 'Canal',
  'dev_outbox.channel_email': 'E-mail',
  'dev_outbox.channel_sms': 'SMS',
  'dev_outbox.channel_voice': 'Appel téléphonique',
  'dev_outbox.answer_label': 'Touches à taper',
  'dev_outbox.answer': 'Répondre à l’appel',
  'dev_outbox.answered': 'Réponse envoyée. L’appel a dit : « {say} »',
  'dev_outbox.to': 'Destinataire',
  'dev_outbox.subject': 'Objet',
  'dev_outbox.time': 'Heure',
  // ── End of development outbox. ──
};
