// `--password-stdin`: the password arrives on standard input, so it never appears in the process list or the
// shell history. Piped input is read to its end; at a terminal the password is typed twice, without echo.
import { UsageError } from './command.ts';

/** Reads a piped password; one trailing newline (from `echo` or a file) is not part of it. */
async function readPiped(stdin: NodeJS.ReadStream): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of stdin) chunks.push(typeof chunk === 'string' ? Buffer.from(chunk) : (chunk as Buffer));
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
