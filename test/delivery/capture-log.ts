// A pino logger whose lines a test can read.
import { Writable } from 'node:stream';
import { createLogger, type Logger } from '../../src/log.ts';

export function captureLog(): { log: Logger; lines: string[] } {
  const lines: string[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _encoding, done) {
      lines.push(...chunk.toString().split('\n').filter(Boolean));
      done();
    },
  });
  return { log: createLogger('debug', sink), lines };
}
