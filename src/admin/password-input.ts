// `--password-stdin`: the password arrives on standard input, so it never appears in the process list or the
// shell history. Piped input is read to its end; at a terminal the password is typed twice, without echo.
import { UsageError } from './command.ts';

/**
 * More than any password can be (1024 characters of at most 4 bytes each): a file piped in by mistake, which is
 * refused here rather than read whole into memory.
 */
const MAX_PIPED_BYTES = 64 * 1024;

/** Reads a piped password; one trailing newline (from `echo` or a file) is not part of it. */
async function readPiped(stdin: NodeJS.ReadStream): Promise<string> {
  const chunks: Buffer[] = [];
  let bytes = 0;
  for await (const chunk of stdin) {
    const buffer = typeof chunk === 'string' ? Buffer.from(chunk) : (chunk as Buffer);
    bytes += buffer.length;
    if (bytes > MAX_PIPED_BYTES) throw new UsageError(`--password-stdin read more than ${MAX_PIPED_BYTES / 1024} KiB, more than any password (a file piped in by mistake?); nothing was changed`);
    chunks.push(buffer);
  }
  return Buffer.concat(chunks).toString('utf8').replace(/\r?\n$/, '');
}

/** Reads one line from a terminal in raw mode, so the typed characters are not echoed. */
function readHidden(stdin: NodeJS.ReadStream, stderr: { write(text: string): unknown }, prompt: string): Promise<string> {
  stderr.write(prompt);
  stdin.setRawMode(true);
  stdin.setEncoding('utf8');
  return new Promise((resolve, reject) => {
    let typed = '';
    const finish = (error?: Error) => {
      stdin.off('data', onData);
      stdin.setRawMode(false);
      stdin.pause();
      stderr.write('\n');
      if (error) reject(error);
      else resolve(typed);
    };
    function onData(chunk: string) {
      for (const char of chunk) {
        if (char === '\r' || char === '\n' || char === '\u0004') return finish();
        if (char === '\u0003') return finish(new UsageError('cancelled'));
        if (char === '\u007f' || char === '\b') typed = [...typed].slice(0, -1).join('');
        else typed += char;
      }
    }
    stdin.on('data', onData);
    stdin.resume();
  });
}

export async function readPassword(stdin: NodeJS.ReadStream, stderr: { write(text: string): unknown }): Promise<string> {
  const password = stdin.isTTY ? await typedTwice(stdin, stderr) : await readPiped(stdin);
  // Nothing at all is a pipe that brought nothing (an unset variable, a secret store that failed), not a short password.
  if (password === '') throw new UsageError('--password-stdin read no password from standard input; nothing was changed');
  return password;
}

async function typedTwice(stdin: NodeJS.ReadStream, stderr: { write(text: string): unknown }): Promise<string> {
  const first = await readHidden(stdin, stderr, 'Password: ');
  const again = await readHidden(stdin, stderr, 'Repeat the password: ');
  if (first !== again) throw new UsageError('the two passwords differ; nothing was changed');
  return first;
}
