// French messages of the recovery and unlock flow: the same ids as recovery.en.ts (the type makes a missing id a
// compile error).
import type { recoveryEn } from './recovery.en.ts';

export const recoveryFr: Record<keyof typeof recoveryEn, string> = {
  'recover.title': 'Récupérer l’accès à votre compte',
  'recover.back': 'Retour à la connexion',
  'recover.next': 'Suivant',
  'recover.use_method': 'Utiliser cette méthode',
  'recover.cancel': 'Annuler',
  'recover.finish': 'Terminer',
  'recover.breadcrumb': 'Progression',
  'recover.crumb_step1': 'vérification, étape 1',
  'recover.crumb_step2': 'vérification, étape 2',
  'recover.crumb_password': 'choisir un nouveau mot de passe',
  'recover.crumb_unlock': 'déverrouiller votre compte',
  'recover.crumb_done': '(terminé)',
  'recover.title_verify': 'Vérification, étape {step}',
  'recover.title_cancelled': 'Récupération annulée',
  'recover.title_expired': 'Récupération expirée',
  'recover.title_blocked': 'Trop de tentatives',

  'recover.identify_heading': 'Qui êtes-vous ?',
  'recover.identify_intro': 'Pour récupérer votre compte, saisissez d’abord votre adresse e-mail ou votre nom d’utilisateur, et les caractères de l’image ou de l’audio ci-dessous.',
  'recover.identifier': 'E-mail ou nom d’utilisateur',
  'recover.identifier_example': 'Exemple : utilisateur@example.com ou nom d’utilisateur',
  'recover.identifier_missing': 'Saisissez votre adresse e-mail ou votre nom d’utilisateur.',
  'recover.captcha_wrong': 'Les caractères saisis ne correspondent pas. Essayez avec la nouvelle image.',

  'recover.goal_heading': 'Pourquoi n’arrivez-vous pas à vous connecter ?',
  'recover.goal_reset': 'J’ai oublié mon mot de passe',
  'recover.goal_reset_help': 'Pas d’inquiétude, nous allons vous aider à le réinitialiser grâce aux informations de sécurité que vous avez enregistrées.',
  'recover.goal_unlock': 'Je connais mon mot de passe, mais je ne peux toujours pas me connecter',
  'recover.goal_unlock_help':
    'Cela peut arriver après trop de tentatives avec un mot de passe incorrect. Avec cette option, vous gardez votre mot de passe et nous déverrouillons votre compte pour que vous puissiez vous reconnecter.',
  'recover.goal_missing': 'Choisissez l’une des deux options.',

  'recover.choose_first': 'Choisissez le premier moyen de contact à utiliser pour la vérification :',
  'recover.choose_second': 'Choisissez le second moyen de contact à utiliser pour la vérification :',
  'recover.method_email': 'M’envoyer un e-mail à mon adresse secondaire',
  'recover.method_sms': 'M’envoyer un SMS',
  'recover.method_totp': 'Saisir un code de mon application d’authentification',
  'recover.method_missing': 'Choisissez un moyen de contact.',
  'recover.no_methods':
    'Nous n’avons pas d’autre moyen de vérification pour votre compte. Contactez votre administrateur pour retrouver l’accès.',

  'recover.email_intro': 'M’envoyer un e-mail à mon adresse secondaire ({hint}).',
  'recover.email_send': 'Envoyer l’e-mail',
  'recover.sms_to': 'M’envoyer un SMS au {hint}',
  'recover.sms_intro':
    'Pour protéger votre compte, saisissez ci-dessous votre numéro de mobile complet ({hint}). Vous recevrez ensuite un SMS avec un code de vérification qui permet de réinitialiser votre mot de passe.',
  'recover.sms_intro_unlock':
    'Pour protéger votre compte, saisissez ci-dessous votre numéro de mobile complet ({hint}). Vous recevrez ensuite un SMS avec un code de vérification qui permet de déverrouiller votre compte.',
  'recover.phone_label': 'Saisissez votre numéro de téléphone',
  'recover.sms_send': 'Envoyer le SMS',
  'recover.phone_mismatch': 'Ce numéro ne correspond pas à celui de votre compte.',
  'recover.phone_invalid': 'Saisissez votre numéro complet, en commençant par + et l’indicatif du pays (par exemple +33 6 12 34 56 78).',
  'recover.phone_country': 'Nous ne pouvons pas envoyer de SMS vers ce pays. Choisissez un autre moyen.',

  'recover.code_sent_email': 'Nous avons envoyé un code de vérification à votre adresse secondaire ({hint}).',
  'recover.code_sent_sms': 'Nous vous avons envoyé un SMS contenant un code de vérification sur votre téléphone ({hint}).',
  'recover.totp_intro': 'Saisissez le code affiché par votre application d’authentification.',
  'recover.code_label': 'Saisissez votre code de vérification',
  'recover.code_format': 'Saisissez le code à {digits} chiffres, sans lettres.',
  'recover.code_wrong': 'Ce code ne fonctionne pas. Vérifiez-le et réessayez, ou demandez-en un nouveau.',
  'recover.code_expired': 'Ce code a expiré ou a été essayé trop de fois. Demandez-en un nouveau avec « Réessayer ».',
  'recover.try_again': 'Réessayer',
  'recover.contact_admin': 'Contacter votre administrateur',
  'recover.support_hint_before': 'Si vous ne parvenez pas à réinitialiser votre mot de passe après plusieurs essais,',
  'recover.support_hint_before_unlock': 'Si vous ne parvenez pas à déverrouiller votre compte après plusieurs essais,',
  'recover.support_link': 'contactez le support',
  'recover.support_hint_after': 'pour obtenir de l’aide. Donnez-lui le code d’assistance {code}.',
  'recover.support_none': 'Demandez de l’aide à votre administrateur et donnez-lui le code d’assistance {code}.',

  'recover.password_heading': 'Choisissez un nouveau mot de passe',
  'recover.password_new': 'Nouveau mot de passe',
  'recover.password_confirm': 'Confirmez le nouveau mot de passe',
  'recover.password_mismatch': 'Les deux mots de passe ne sont pas identiques.',

  'recover.unlock_heading': 'Déverrouiller votre compte',
  'recover.unlock_intro': 'Vous avez prouvé votre identité. Déverrouillez votre compte maintenant ; votre mot de passe ne change pas.',
  'recover.unlock_button': 'Déverrouiller mon compte',

  'recover.done_reset': 'Votre mot de passe a été réinitialisé',
  'recover.done_unlock': 'Votre compte a été déverrouillé',
  'recover.done_reset_body': 'Vous pouvez vous connecter avec votre nouveau mot de passe. Par sécurité, vous avez été déconnecté partout.',
  'recover.done_unlock_body': 'Vous pouvez vous connecter avec votre mot de passe.',
  'recover.sign_in': 'Se connecter',
  'recover.done_no_app': 'Revenez à l’application à laquelle vous vouliez vous connecter, et connectez-vous-y.',

  'recover.expired': 'Cette récupération a expiré ou est terminée. Recommencez.',
  'recover.out_of_date': 'Cette page n’était plus à jour, rien n’a été modifié. Voici où vous en êtes.',
  'recover.send_limited': 'Nous ne pouvons pas envoyer d’autre code pour le moment. Si un code que nous avons envoyé vous est parvenu, saisissez-le ci-dessous ; sinon, appuyez sur « Réessayer » dans quelques minutes.',
  'recover.more_proof': 'Pour la sécurité de votre compte, nous avons besoin d’une vérification de plus avant de continuer. Rien n’a été modifié.',
  'recover.lockdown_new_password': 'Ce compte a été verrouillé après le signalement d’une modification qui ne venait pas de vous : seul un nouveau mot de passe le déverrouille, et l’ancien ne fonctionnera plus.',
  'recover.start_again': 'Recommencer',
  'recover.blocked':
    'Par sécurité, la récupération du compte est bloquée pour le moment après trop de tentatives. Réessayez demain ou contactez votre administrateur.',
  'recover.too_many': 'Trop de tentatives depuis votre réseau. Patientez un moment puis réessayez.',
  'recover.method_disabled':
    'Cette méthode ne peut plus servir à récupérer votre compte, après trop de tentatives incorrectes à la suite. Choisissez une autre méthode, ou demandez au service d’assistance de la réactiver.',
  'recover.method_unavailable':
    'Cette méthode ne peut pas être vérifiée pour le moment, à cause d’un problème de notre côté. Rien n’a été décompté : choisissez une autre méthode, ou contactez votre administrateur.',
  'recover.cancelled': 'La récupération du compte a été annulée. Rien n’a été modifié.',

  'lockdown.title': 'Sécuriser votre compte',
  'lockdown.intro':
    'Si vous n’êtes pas à l’origine de cette modification, sécurisez votre compte maintenant : toutes les sessions seront fermées et personne ne pourra se connecter tant que le compte n’aura pas été récupéré avec toutes ses méthodes de vérification ou avec l’aide d’un administrateur.',
  'lockdown.button': 'Ce n’était pas moi : sécuriser mon compte',
  'lockdown.done': 'Votre compte est sécurisé. Utilisez « Vous ne pouvez pas accéder à votre compte ? » sur la page de connexion, ou contactez votre administrateur, pour retrouver l’accès.',
  'lockdown.invalid': 'Ce lien a expiré ou a déjà été utilisé.',

  'notice.code_email_subject': 'Votre code de vérification',
  'notice.code_email_body': 'Votre code de vérification est {code}. Il expire dans {minutes} minutes. Si vous ne l’avez pas demandé, ignorez ce message : rien ne change dans votre compte.',
  'notice.code_sms_body': 'Votre code de vérification est {code}. Il expire dans {minutes} minutes.',
  'notice.reset_subject': 'Votre mot de passe a été réinitialisé',
  'notice.reset_body': 'Le mot de passe de votre compte {account} a été réinitialisé le {time}. Toutes les sessions ont été fermées.',
  'notice.unlock_subject': 'Votre compte a été déverrouillé',
  'notice.unlock_body': 'Votre compte {account} a été déverrouillé le {time}, après vérification.',
  'notice.lockout_subject': 'Votre compte a été verrouillé',
  'notice.lockout_body':
    'Votre compte {account} a été verrouillé le {time} après trop de tentatives avec un mot de passe incorrect. La personne qui les a faites n’est pas entrée, et rien n’a changé dans votre compte. Il se déverrouille en général seul après un moment, ou depuis « Vous ne pouvez pas accéder à votre compte ? », où vous pouvez aussi choisir un nouveau mot de passe si quelqu’un pourrait connaître le vôtre.',
  'notice.methods_subject': 'Les moyens de vérifier votre identité ont été modifiés',
  'notice.methods_body': 'Un administrateur a modifié le {time} les moyens de vérifier votre identité pour votre compte {account}, qui servent à le récupérer : {changes}.',
  'notice.method_alternate_email': 'adresse e-mail secondaire',
  'notice.method_mobile_phone': 'téléphone mobile',
  'notice.method_office_phone': 'téléphone du bureau',
  'notice.method_authenticator': 'application d’authentification',
  'notice.method_set': 'nouvelle valeur pour « {method} » : {hint}',
  'notice.method_removed': 'suppression de « {method} »',
  'notice.authenticator_registered': 'nouvelle application d’authentification enregistrée',
  'notice.authenticator_removed': 'application d’authentification supprimée',
  'notice.method_disabled_subject': 'Une méthode de vérification a été désactivée',
  'notice.method_disabled_body':
    'Depuis le {time}, « {method} » ne peut plus servir à récupérer votre compte {account}, après {count} tentatives incorrectes à la suite. Quelqu’un essaie peut-être d’accéder à votre compte ; personne n’est entré avec elle, et rien n’a changé dans votre compte. Le service d’assistance peut rétablir cette méthode (une récupération complète de votre compte la rétablit aussi, si vos autres méthodes y suffisent).',
  'notice.not_me': 'Si ce n’était pas vous, sécurisez votre compte : {link}',
  'notice.sms_security': 'Avis de sécurité pour votre compte {account} : {what}. Pas vous ? {link}',
  'notice.sms_information': 'Avis de sécurité pour votre compte {account} : {what}. Personne n’est entré ; rien n’a changé dans votre compte.',
};
