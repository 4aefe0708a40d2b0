// `npm run admin -- <area> <command> [options]`: Latchkey's administration commands. `--help` at any level lists
// what is there; src/admin/cli.ts does the work, this file only connects it to the process.
import { runAdmin } from '../src/admin/cli.ts';

process.exitCode = await runAdmin(process.argv.slice(2), {
  stdin: process.stdin,
  stdout: process.stdout,
  stderr: process.stderr,
  env: process.env,
});
