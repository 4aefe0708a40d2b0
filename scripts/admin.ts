// `npm run admin -- <area> <command> [options]`: Latchkey's administration commands. `--help` at any level lists
// what is there; src/admin/cli.ts does the work, this file only connects it to the process.
import { runAdmin } from '../src/admin/cli.ts';
import { runningLocalDb } from './local-db.ts';

// Without MONGODB_URI, administer the development database that `npm start` / `npm run db` is running.
const env = { ...process.env };
if (!env.MONGODB_URI?.trim()) {
  const local = await runningLocalDb();
  if (local) env.MONGODB_URI = local;
}

process.exitCode = await runAdmin(process.argv.slice(2), {
  stdin: process.stdin,
  stdout: process.stdout,
  stderr: process.stderr,
  env,
});
