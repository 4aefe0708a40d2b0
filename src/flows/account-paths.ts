// Where the account pages opened outside a sign-in live: a module of its own, without dependencies, so that the
// recovery (flows/recovery/origin.ts) can name their doors without importing the pages, which import it.
export const ACCOUNT_SECURITY_INFO_PATH = '/account/security-info';
export const ACCOUNT_SESSIONS_PATH = '/account/sessions';
