// Waiting for another request's write (a double click's other request finishing its step): the same read, made
// again every few milliseconds until it finds what it waits for or the time is up.
import { setTimeout } from 'node:timers/promises';

/**
 * The first answer `read` decides (`{ value }`; undefined means "not yet"), read again every `pollMs` for at most
 * `waitMs`: time, not a number of reads, since a slow database makes each read longer. Undefined when none came.
 */
export async function pollFor<T>(read: () => Promise<{ value: T } | undefined>, waitMs: number, pollMs: number): Promise<{ value: T } | undefined> {
  const deadline = performance.now() + waitMs;
  do {
    const answer = await read();
    if (answer) return answer;
    await setTimeout(pollMs);
  } while (performance.now() < deadline);
  return undefined;
}
