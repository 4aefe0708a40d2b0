// One request to a provider's HTTP API (a text message's, a call's), in the form the sender's retries expect: a
// DeliveryError that says whether trying again can help, and nothing of the request's content in it.
import { DeliveryError } from './channel.ts';

/** How long one HTTP attempt may take; well below the sender's claim lease (sender.ts). */
const HTTP_TIMEOUT_MS = 10_000;

/**
 * One POST with a timeout. The answer's body is discarded unread: providers echo the request (the text, which
 * carries a code) in their errors, and the failure is recorded and logged.
 */
export async function post(what: string, url: string, { headers, body }: { headers: Record<string, string>; body: string }): Promise<void> {
  let request: Request;
  try {
    // A redirect is not followed: the signed body and the credentials go to the configured URL only.
    request = new Request(url, { method: 'POST', headers, body, redirect: 'manual', signal: AbortSignal.timeout(HTTP_TIMEOUT_MS) });
  } catch {
    throw unbuildable(what, url);
  }
  let response: Response;
  try {
    response = await fetch(request);
  } catch (error) {
    throw networkFailure(what, error);
  }
  await response.body?.cancel();
  if (response.ok) return;
  // 4xx says the request itself is wrong (bad number, bad credentials): retrying cannot help. 408 and 429 are
  // "not now", and 5xx the provider's own trouble.
  const { status } = response;
  const permanent = status >= 400 && status < 500 && status !== 408 && status !== 429;
  throw new DeliveryError(`HTTP_${status}`, `${what} answered ${status}`, { permanent });
}

/**
 * A request fetch refuses to build (a URL with a user name or password, which config refuses at start but a
 * hand-built provider may be given): no attempt can ever succeed, so it is permanent, not retried as unreachable.
 * fetch's own message is not kept: it quotes the URL, and with it the credentials.
 */
function unbuildable(what: string, url: string): DeliveryError {
  const parsed = URL.parse(url);
  const reason = parsed && (parsed.username || parsed.password) ? 'its URL carries a user name or password' : 'its URL or headers are not valid';
  return new DeliveryError('EREQUEST', `${what} request refused before sending: ${reason}`, { permanent: true });
}

function networkFailure(what: string, error: unknown): DeliveryError {
  const { name, cause } = (error ?? {}) as { name?: unknown; cause?: { code?: unknown } };
  if (name === 'TimeoutError') return new DeliveryError('ETIMEDOUT', `${what} did not answer within ${HTTP_TIMEOUT_MS} ms`);
  const code = typeof cause?.code === 'string' ? cause.code : 'ENETWORK';
  return new DeliveryError(code, `${what} unreachable (${code})`);
}
