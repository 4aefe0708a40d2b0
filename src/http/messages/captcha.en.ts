// English messages of the captcha area (merged into en.ts; see en.ts for the conventions).
export const captchaEn = {
  'captcha.picture': 'Picture of the characters to enter',
  'captcha.new_picture': 'New picture',
  'captcha.audio': 'Play the characters as audio',
  'captcha.audio_download': 'Download the audio',
  'captcha.answer': 'Enter the characters you see in the picture or hear in the audio',
  'captcha.answer_hint': 'Capitals and spaces do not matter.',
  // The way past the CAPTCHA without reading or hearing it (security/captcha-gate.ts). {wait}: "30 seconds".
  'captcha.wait_note': 'Can’t enter them? Leave this field empty: you can go on without them in {wait}.',
  'captcha.wait_ready': 'You can go on without the characters now: leave this field empty.',
  // The CAPTCHA's life (10 minutes) ended while its page was open, or its picture or audio could not be fetched.
  'captcha.expired': 'These characters can no longer be used: choose “New picture” for new ones.',
} as const;
