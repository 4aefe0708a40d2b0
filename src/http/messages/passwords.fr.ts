// French messages of the passwords area: the same ids as passwords.en.ts (the type makes a missing id a compile error).
import type { passwordsEn } from './passwords.en.ts';

export const passwordsFr: Record<keyof typeof passwordsEn, string> = {
  'password.unprintable':
    'Votre mot de passe ne peut pas contenir de sauts de ligne, de tabulations ni d’autres caractères de contrôle : ils ne peuvent pas être saisis à la connexion.',
  'password.too_short': 'Votre mot de passe doit comporter au moins {min} caractères.',
  'password.too_long': 'Votre mot de passe peut comporter au plus {max} caractères.',
  'password.identifier':
    'Votre mot de passe ne doit pas être formé à partir de votre nom, de votre nom d’utilisateur ou de votre adresse e-mail. Choisissez-en un que l’on ne peut pas deviner à partir d’eux.',
  'password.service':
    'Votre mot de passe ne doit pas être formé à partir du nom de ce service. Choisissez-en un que l’on ne peut pas deviner à partir de lui.',
  'password.common': 'Ce mot de passe est trop courant : il fait partie des mots de passe que les attaquants essaient en premier. Choisissez-en un autre.',
  'password.reused': 'C’est le mot de passe temporaire qui vous a été donné. Choisissez-en un nouveau, à vous.',
  'password.unchanged': 'C’est le mot de passe actuel du compte. Le compte a été verrouillé pour écarter quiconque pourrait le connaître : choisissez-en un nouveau.',
  'password.predictable':
    'Ce mot de passe serait facile à deviner : il est fait de caractères répétés ou qui se suivent, de suites de touches du clavier, ou de quelques mots et nombres courants. Ajoutez des mots, ou des caractères qui ne suivent pas de logique.',

  'password.rules_title': 'Votre nouveau mot de passe',
  'password.rule_length':
    'Au moins {min} caractères (jusqu’à {max}). Les espaces, les symboles et les emoji comptent, et il n’y a aucune autre règle sur les caractères à utiliser.',
  'password.rule_not_guessable':
    'Pas un mot de passe courant, ni une suite prévisible comme des caractères répétés ou qui se suivent, ni formé à partir de votre nom, de votre nom d’utilisateur, de votre adresse e-mail ou du nom de ce service.',
  'password.guidance':
    'Conseil : une phrase de passe de quatre mots sans rapport entre eux ou plus est longue, facile à retenir et difficile à deviner. Ne réutilisez pas le mot de passe d’un autre site ; un gestionnaire de mots de passe peut en créer un et le retenir pour vous.',

  'change_password.title': 'Changer votre mot de passe',
  'change_password.intro':
    'Saisissez votre mot de passe actuel, puis choisissez-en un nouveau. Toutes les personnes connectées à votre compte sont alors déconnectées, sur tous les appareils, et se reconnectent avec le nouveau mot de passe.',
  'change_password.current': 'Mot de passe actuel',
  'change_password.captcha_intro':
    'De nombreuses connexions ont échoué récemment depuis votre réseau. Pour changer votre mot de passe, saisissez aussi les caractères ci-dessous.',
  'change_password.submit': 'Changer le mot de passe',
  'change_password.forgot': 'Mot de passe oublié ?',
  'change_password.same': 'C’est votre mot de passe actuel. Choisissez-en un nouveau.',
  'change_password.account_changed':
    'Votre compte a changé pendant l’enregistrement de votre nouveau mot de passe (son mot de passe a été réinitialisé, ou il a été verrouillé). Rien n’a été enregistré : saisissez de nouveau votre mot de passe actuel.',
  'change_password.done_title': 'Votre mot de passe est changé',
  'change_password.done_body':
    'Le mot de passe de {account} est changé. Toutes les personnes connectées au compte ont été déconnectées, sur tous les appareils : reconnectez-vous avec votre nouveau mot de passe.',
};
