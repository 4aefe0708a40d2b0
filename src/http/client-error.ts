// What Node's HTTP parser refuses before a request reaches Koa (a header too large, a malformed request line or
// header, a request that took too long to arrive): answered with the status Node would give it, but with the security
// headers every response carries and a support code, which is also logged. Node's own answer had neither.
import { STATUS_CODES } from 'node:http';
import type { Duplex } from 'node:stream';
import type { Logger } from '../log.ts';
import { newNonce, newSupportCode } from './request-context.ts';
import type { SecurityHeaderFields } from './security-headers.ts';

/** The statuses Node answers these errors with (its socketOnError); anything else is a 400. */
const STATUS_BY_CODE: Record<string, number> = {
  HPE_HEADER_OVERFLOW: 431,
  HPE_CHUNK_EXTENSIONS_OVERFLOW: 413,
  ERR_HTTP_REQUEST_TIMEOUT: 408,
};

/** For the http server's 'clientError' event: (error, socket). */
export type ClientErrorHandler = (error: NodeJS.ErrnoException, socket: Duplex) => void;

/** A response is under way on the socket (a pipelined request's): a second head would corrupt it. */
function responseStarted(socket: Duplex): boolean {
  return (socket as { _httpMessage?: { headersSent?: boolean } })._httpMessage?.headersSent === true;
}

/** The whole response, head and body, as the bytes to write. */
function response(status: number, supportCode: string, headers: Record<string, string>): string {
  const reason = STATUS_CODES[status] ?? '';
  const body = `${status} ${reason}\nSupport code: ${supportCode}\n`;
  const fields = {
    ...headers,
    'Content-Type': 'text/plain; charset=utf-8',
    'Content-Length': String(Buffer.byteLength(body)),
    'Cache-Control': 'no-store',
    'X-Request-Id': supportCode,
    Connection: 'close',
  };
  const head = [`HTTP/1.1 ${status} ${reason}`, ...Object.entries(fields).map(([name, value]) => `${name}: ${value}`)];
  return `${head.join('\r\n')}\r\n\r\n${body}`;
}

export function clientErrorHandler(securityHeaders: SecurityHeaderFields, log: Logger): ClientErrorHandler {
  return (error, socket) => {
    // A client that is gone, or a socket that can take no answer now, gets none (as Node's own handling).
    if (error.code === 'ECONNRESET' || !socket.writable || responseStarted(socket)) {
      socket.destroy();
      return;
    }
    const status = STATUS_BY_CODE[error.code ?? ''] ?? 400;
    const supportCode = newSupportCode();
    // The error's code and Node's fixed reason only: its rawPacket is what the client sent (a token in the URL, cookies).
    const fields = { supportCode, status, error: error.code, detail: error.message };
    // A connection that sent nothing before its time ran out is one a browser opened ahead of need and left unused:
    // routine, so not a warning (a client that began a request and stalled still is one).
    if (error.code === 'ERR_HTTP_REQUEST_TIMEOUT' && (socket as { bytesRead?: number }).bytesRead === 0) log.debug(fields, 'connection closed unused');
    else log.warn(fields, 'request refused by the HTTP parser');
    socket.end(response(status, supportCode, securityHeaders(newNonce())), () => socket.destroy());
  };
}
