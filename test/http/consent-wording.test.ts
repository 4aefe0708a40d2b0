// The consent page words each OpenID Connect scope it may list (interactions/routes.ts KNOWN_SCOPES): a scope added
// to the claims (oidc/account.ts SCOPE_CLAIMS) without its sentence would show the raw message id.
import { expect, it } from '@jest/globals';
import { en } from '../../src/http/messages/en.ts';
import { fr } from '../../src/http/messages/fr.ts';
import { OIDC_SCOPES } from '../../src/oidc/client-rules.ts';

it.each(OIDC_SCOPES.map((scope) => [scope]))('has a sentence for the %s scope in every language', (scope) => {
  for (const catalogue of [en, fr] as Record<string, string>[]) expect(catalogue[`scope.${scope}`]).toEqual(expect.stringMatching(/\S/));
});
