// A failed send is recorded (outbox) and logged with the provider's reason, but not with the address it was for:
// mail servers echo the recipient in their refusal, and the outbox and the logs are kept longer than the message.
import { expect, it } from '@jest/globals';
import { loadConfig } from '../../config/index.ts';
import { createDelivery } from '../../src/delivery/index.ts';
import { OUTBOX_COLLECTION, type OutboxMessage } from '../../src/delivery/outbox.ts';
import { captureLog } from './capture-log.ts';
import { useDatabaseAndSink } from './database-and-sink.ts';

const opened = useDatabaseAndSink();

it.each([
  ['refused for good', 550, 'failed'],
  ['refused for now', 451, 'pending'],
])('keeps the reason of a send %s, without the recipient the server echoed', async (_label, code, status) => {
  const config = loadConfig({ NODE_ENV: 'test', MONGODB_URI: opened.db.uri, SMTP_URL: opened.sink.url, MAIL_FROM: 'Latchkey <no-reply@id.example.test>' });
  const { log, lines } = captureLog();
  const delivery = createDelivery({ connection: opened.db.connection, config, log });
  opened.sink.refuseWith = code;
  const to = `bob.private.${code}@example.test`;
  const id = await delivery.enqueue({ channel: 'email', to, subject: 'Your code', text: 'Your verification code is 314159.' });
  await delivery.sender.runOnce();
  const stored = await opened.db.connection.db!.collection<OutboxMessage>(OUTBOX_COLLECTION).findOne({ _id: id });
  expect(stored).toMatchObject({ status, lastError: { code: 'EENVELOPE', message: expect.stringContaining(`${code}`) } });
  expect(stored!.lastError!.message).toContain('Recipient address rejected');
  expect(stored!.lastError!.message).not.toContain('bob.private');
  const logged = lines.filter((line) => line.includes(id));
  expect(logged.length).toBeGreaterThan(0);
  expect(logged.join('\n')).not.toContain('bob.private');
});
