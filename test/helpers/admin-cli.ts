// The admin CLI as an operator runs it: `node scripts/admin.ts …` as a real child process on a test server's
// database (and any other script of the project, `runScript`).
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const ADMIN_SCRIPT = fileURLToPath(new URL('../../scripts/admin.ts', import.meta.url));

export interface AdminRun {
  code: number | null;
  stdout: string;
  stderr: string;
}

export interface AdminRunOptions {
  input?: string;
  /** Changes to the environment; `undefined` removes a variable. */
  env?: Record<string, string | undefined>;
}

/** `npm run admin -- <args>` with MONGODB_URI set to `dbUri`. */
export function runAdmin(dbUri: string, args: string[], { input = '', env = {} }: AdminRunOptions = {}): Promise<AdminRun> {
  const childEnv: NodeJS.ProcessEnv = { ...process.env, MONGODB_URI: dbUri };
  for (const [name, value] of Object.entries(env)) {
    if (value === undefined) delete childEnv[name];
    else childEnv[name] = value;
  }
  return runScript(ADMIN_SCRIPT, args, childEnv, input);
}

/** One of the project's scripts as a real child process: its exit code and output. */
export function runScript(script: string, args: string[], env: NodeJS.ProcessEnv = process.env, input = ''): Promise<AdminRun> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [script, ...args], { env, stdio: 'pipe' });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
    // A command may stop reading before the input ends (one that refuses too much of it): as a shell's pipe does,
    // the rest is dropped.
    child.stdin.on('error', (error: NodeJS.ErrnoException) => {
      if (error.code !== 'EPIPE') reject(error);
    });
    child.stdin.end(input);
  });
}
