// Essential `acr` requests (OpenID Connect Core §5.5.1.1): when the relying party marks the authentication
// context class as essential and Latchkey cannot authenticate the user at any of the values it asks for, the
// request fails like a failed authentication instead of signing the user in at a weaker level.
import { ACR_VALUES } from './account.ts';

type Params = Record<string, unknown>;

/** The acr values an essential `claims` request for the ID token asks for, or undefined when none is essential. */
export function essentialAcrValues(params: Params): string[] | undefined {
  if (typeof params.claims !== 'string') return undefined;
  let claims: unknown;
  try {
    claims = JSON.parse(params.claims);
  } catch {
    return undefined; // the provider has already refused malformed claims
  }
  const acr = (claims as { id_token?: { acr?: { essential?: unknown; value?: unknown; values?: unknown } } })?.id_token?.acr;
  if (!acr || acr.essential !== true) return undefined;
  if (typeof acr.value === 'string') return [acr.value];
  if (Array.isArray(acr.values)) return acr.values.filter((v): v is string => typeof v === 'string');
  return undefined;
}

/** True when the request names essential acr values and Latchkey can meet none of them. */
export function hasUnmetEssentialAcr(params: Params): boolean {
  const wanted = essentialAcrValues(params);
  return Boolean(wanted) && !wanted!.some((value) => ACR_VALUES.includes(value));
}
