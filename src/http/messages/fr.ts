// French message catalogue: the same ids as en.ts (the type makes a missing id a compile error).
import type { Catalogue } from './en.ts';
import { captchaFr } from './captcha.fr.ts';
import { noticesFr } from './notices.fr.ts';
import { passwordsFr } from './passwords.fr.ts';
import { recoveryFr } from './recovery.fr.ts';

export const fr: Catalogue = {
  ...recoveryFr,
  ...captchaFr,
  ...passwordsFr,
  ...noticesFr,
  'app.name': 'Latchkey',
  'app.skip_to_content': 'Aller au contenu principal',

  'login.title': 'Connexion',
  'login.subtitle': 'pour continuer vers {client}',
  'login.identifier': 'E-mail ou nom d’utilisateur',
  'login.password': 'Mot de passe',
  'login.submit': 'Se connecter',
  'login.cant_access': 'Vous ne pouvez pas accéder à votre compte ?',
  'login.invalid': 'Adresse e-mail, nom d’utilisateur ou mot de passe incorrect.',
  'login.missing': 'Saisissez votre e-mail ou nom d’utilisateur et votre mot de passe.',
  'login.show_password': 'Afficher le mot de passe',
  'login.hide_password': 'Masquer le mot de passe',
  'home.title': 'Service de connexion Latchkey',
  'home.intro': 'Ce serveur connecte les personnes aux applications qui l’utilisent (un fournisseur OpenID Connect). Ouvrez l’une de ces applications pour vous connecter.',
  'home.issuer': 'Émetteur : {issuer}',
  'home.discovery': 'Document de découverte',
  'home.demo': 'Essayer l’application de démonstration',
  'home.recover': 'Vous ne pouvez pas accéder à votre compte ?',

  'consent.title': 'Autoriser {client} à accéder à votre compte ?',
  'consent.signed_in_as': 'Connecté en tant que {user}',
  'consent.intro': '{client} demande à :',
  'consent.claims_intro': 'L’application demande aussi ces informations :',
  'consent.lifetime': 'Cette autorisation dure au plus {days} jours.',
  'consent.allow': 'Autoriser',
  'consent.cancel': 'Annuler',
  'scope.openid': 'Confirmer que c’est bien vous',
  'scope.profile': 'Voir votre nom et votre nom d’utilisateur',
  'scope.email': 'Voir votre adresse e-mail',
  'scope.offline_access': 'Garder l’accès lorsque vous ne l’utilisez pas',
  'scope.other': 'Utiliser l’autorisation « {scope} »',


  'logout.title': 'Déconnexion',
  'logout.question': 'Voulez-vous vous déconnecter de {app} ?',
  'logout.question_client': 'Voulez-vous vous déconnecter de {client} et de {app} ?',
  'logout.yes': 'Se déconnecter',
  'logout.no': 'Rester connecté',
  'logout.client_only': 'Me déconnecter seulement de {client}',
  'logout.done_title': 'Vous êtes déconnecté',
  'logout.done_body': 'Vous pouvez fermer cette fenêtre ou revenir à l’application.',
  'logout.done_client': 'Vous êtes déconnecté de {client}.',

  'error.title': 'Une erreur est survenue',
  'error.support_code': 'Code d’assistance : {code}',
  'error.support_hint': 'Si le problème persiste, contactez votre administrateur en lui donnant ce code.',
  'error.bad_request': 'La requête n’a pas pu être comprise. Revenez en arrière et réessayez.',
  'error.csrf': 'Ce formulaire a expiré ou a été envoyé depuis un autre site. Revenez en arrière, rechargez la page et réessayez.',
  'error.not_found': 'Cette page n’existe pas.',
  'error.conflict': 'Ce nom est déjà utilisé.',
  'error.too_large': 'Le formulaire envoyé est trop volumineux.',
  'error.interaction_expired': 'Cette page de connexion a expiré ou a déjà été utilisée.',
  'error.start_again': 'Revenez à l’application d’origine et connectez-vous à nouveau.',
  'error.database_unavailable': 'Latchkey ne parvient pas à joindre sa base de données pour le moment. Rien n’a été modifié : réessayez dans un instant.',
  'error.unavailable': 'Le service est momentanément indisponible. Réessayez dans un instant.',
  'error.server': 'Une erreur inattendue est survenue. Réessayez.',
  'error.oidc': 'L’application a envoyé une requête que nous ne pouvons pas accepter.',
  'error.oidc_detail': 'Erreur : {error}. {description}',
};
