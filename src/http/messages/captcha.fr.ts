// French messages of the captcha area: the same ids as captcha.en.ts (the type makes a missing id a compile error).
import type { captchaEn } from './captcha.en.ts';

export const captchaFr: Record<keyof typeof captchaEn, string> = {
  'captcha.picture': 'Image des caractères à saisir',
  'captcha.new_picture': 'Nouvelle image',
  'captcha.audio': 'Écouter les caractères',
  'captcha.audio_download': 'Télécharger l’audio',
  'captcha.answer': 'Saisissez les caractères que vous voyez dans l’image ou entendez dans l’audio',
  'captcha.answer_hint': 'Les majuscules et les espaces n’ont pas d’importance.',
  'captcha.wait_note': 'Vous n’y arrivez pas ? Laissez ce champ vide : vous pourrez continuer sans les caractères dans {wait}.',
  'captcha.wait_ready': 'Vous pouvez maintenant continuer sans les caractères : laissez ce champ vide.',
  'captcha.expired': 'Ces caractères ne peuvent plus servir : choisissez « Nouvelle image » pour en avoir d’autres.',
};
