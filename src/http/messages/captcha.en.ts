// English messages of the captcha area (merged into en.ts; see en.ts for the conventions).
export const captchaEn = {
  'captcha.picture': 'Picture of the characters to enter',
  'captcha.new_picture': 'New picture',
  'captcha.audio': 'Play the characters as audio',
  'captcha.audio_download': 'Download the audio',
  'captcha.answer': 'Enter the characters in the picture or the words in the audio',
  'captcha.answer_hint': 'Capitals and spaces do not matter.',
} as const;
