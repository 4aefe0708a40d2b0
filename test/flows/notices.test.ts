// Security notices as they are enqueued: one per mailbox the owner registered, however its address is written.
import { expect, it } from '@jest/globals';
import type { User } from '../../src/accounts/user-model.ts';
import type { OutgoingMessage } from '../../src/methods/method.ts';
import { createNotifier } from '../../src/flows/recovery/notices.ts';

function notifier() {
  const enqueued: OutgoingMessage[] = [];
  const lockdowns = { issue: async () => 'token', peek: async () => undefined, use: async () => undefined };
  const notices = createNotifier({ enqueue: async (message) => enqueued.push(message), lockdowns, origin: 'https://id.example.test', textsTo: async () => true });
  return { notices, enqueued };
}

const owner = (email: string, alternateEmail: string) => ({ _id: 'u1', username: 'ada', email, securityInfo: { alternateEmail } }) as unknown as User;

it('tells one mailbox once when its two addresses differ only in case, writing to the address as first registered', async () => {
  const { notices, enqueued } = notifier();
  expect(await notices.notify(owner('Ada@Example.com', 'ada@example.com'), 'reset', 'en')).toBe(1);
  expect(enqueued.map((m) => m.to)).toEqual(['Ada@Example.com']);
});

it('tells two different mailboxes each', async () => {
  const { notices, enqueued } = notifier();
  expect(await notices.notify(owner('ada@example.com', 'ada@home.example.org'), 'reset', 'en')).toBe(2);
  expect(enqueued.map((m) => m.to)).toEqual(['ada@example.com', 'ada@home.example.org']);
});
