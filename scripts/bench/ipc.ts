// The message shapes between the benchmark's parent (run.ts) and its child processes, and the child's side of
// them. Each child announces itself once ("ready" with what the parent needs to know, or "failed"), then answers
// numbered requests. The parent alone decides when a child stops: by the "stop" request, or by going away.

export interface Request {
  id: number;
  method: string;
  params?: unknown;
}

export type Reply = { id: number; ok: true; result: unknown } | { id: number; ok: false; error: string };

export type Announcement = { event: 'ready'; info: unknown } | { event: 'failed'; error: string };

export type Handler = (params: unknown) => Promise<unknown>;

const STOP_GRACE_MS = 10_000;

export function isRequest(message: unknown): message is Request {
  return typeof message === 'object' && message !== null && typeof (message as Request).id === 'number' && typeof (message as Request).method === 'string';
}

export function isReply(message: unknown): message is Reply {
  return typeof message === 'object' && message !== null && typeof (message as Reply).id === 'number' && typeof (message as Reply).ok === 'boolean';
}

export function isAnnouncement(message: unknown): message is Announcement {
  const event = typeof message === 'object' && message !== null ? (message as { event?: unknown }).event : undefined;
  return event === 'ready' || event === 'failed';
}

function send(message: Reply | Announcement): Promise<void> {
  return new Promise((resolve) => {
    if (!process.send || !process.connected) return resolve();
    process.send(message, undefined, {}, () => resolve());
  });
}

const describe = (error: unknown) => (error instanceof Error ? (error.stack ?? error.message) : String(error));

/**
 * Runs a child: `setup` starts whatever the child serves and returns the info for the parent plus the request
 * handlers; `stop` releases everything. Stops when the parent asks, and also when the parent disappears (the IPC
 * channel closes), so a crashed or killed parent leaves no server behind.
 */
export async function runChild(setup: () => Promise<{ info: unknown; handlers: Record<string, Handler>; stop: () => Promise<void> }>): Promise<void> {
  if (!process.send) throw new Error('this script is started by scripts/bench/run.ts (it needs an IPC channel)');
  // Ctrl-C reaches the whole process group; the parent turns it into an orderly "stop" for every child.
  process.on('SIGINT', () => {});

  let stopping: Promise<void> | undefined;
  let release: () => Promise<void> = async () => {};
  const stopAndExit = (code: number) =>
    (stopping ??= (async () => {
      const timer = setTimeout(() => process.exit(code || 1), STOP_GRACE_MS);
      timer.unref();
      await release().catch((error: unknown) => process.stderr.write(`stop failed: ${describe(error)}\n`));
      process.exit(code);
    })());
  process.on('disconnect', () => void stopAndExit(0));

  let ready: Awaited<ReturnType<typeof setup>>;
  try {
    ready = await setup();
  } catch (error) {
    await send({ event: 'failed', error: describe(error) });
    process.exit(1);
  }
  release = ready.stop;

  process.on('message', (message: unknown) => {
    if (!isRequest(message)) return;
    if (message.method === 'stop') {
      void (async () => {
        await release().catch((error: unknown) => process.stderr.write(`stop failed: ${describe(error)}\n`));
        release = async () => {};
        await send({ id: message.id, ok: true, result: null });
        await stopAndExit(0);
      })();
      return;
    }
    const handler = ready.handlers[message.method];
    const answer = handler ? handler(message.params) : Promise.reject(new Error(`unknown method ${message.method}`));
    answer.then(
      (result) => send({ id: message.id, ok: true, result: result ?? null }),
      (error: unknown) => send({ id: message.id, ok: false, error: describe(error) }),
    );
  });
  await send({ event: 'ready', info: ready.info });
}
