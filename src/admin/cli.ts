// The admin CLI: `npm run admin -- <area> <command> [options]` (scripts/admin.ts is the process entry).
// This module finds the command, runs it, reports failures and always closes the database connection.
import { clientsArea } from './client-commands.ts';
import { didYouMean, UsageError, type Area } from './command.ts';
import { describeFailure } from './failures.ts';
import { keysArea } from './key-commands.ts';
import type { AdminIo } from './output.ts';
import { openSession, type AdminSession } from './session.ts';
import { usersArea } from './user-commands.ts';
import { policyArea } from './policy-commands.ts';
import { auditArea } from './audit-commands.ts';

const AREAS: Area[] = [clientsArea, usersArea, keysArea, policyArea, auditArea];
const PROGRAM = 'npm run admin --';
const isHelp = (word: string | undefined) => word === undefined || word === '--help' || word === '-h' || word === 'help';

function listing(rows: Array<{ name: string; summary: string }>): string[] {
  const width = Math.max(...rows.map((row) => row.name.length)) + 2;
  // A summary's further lines line up under its first.
  return rows.map((row) => `  ${row.name.padEnd(width)}${row.summary.split('\n').join(`\n  ${' '.repeat(width)}`)}`);
}

function programHelp(): string {
  return [
    'Latchkey administration.',
    '',
    `Usage: ${PROGRAM} <area> <command> [options]`,
    '',
    'Areas:',
    ...listing(AREAS),
    '',
    'Environment:',
    '  MONGODB_URI   The database to administer. Without it, the local development database that `npm run demo`,',
    '                `npm start` or `npm run db` is running is found by itself; a URI without a database name uses',
    '                "latchkey".',
    '  The users and keys commands also read the server\'s settings (ARGON2_*, TTL_*), so run them with the',
    "  server's environment.",
    '',
    `Run \`${PROGRAM} <area> --help\` for an area's commands, \`${PROGRAM} <area> <command> --help\` for one command.`,
    'Exit codes: 0 done, 1 refused or failed, 2 wrong command line.',
    '',
  ].join('\n');
}

function areaHelp(area: Area): string {
  return [
    `${area.summary}.`,
    '',
    `Usage: ${PROGRAM} ${area.name} <command> [options]`,
    '',
    'Commands:',
    ...listing(area.commands),
    '',
    `Run \`${PROGRAM} ${area.name} <command> --help\` for its options.`,
    '',
  ].join('\n');
}

async function dispatch(argv: string[], io: AdminIo, session: AdminSession): Promise<void> {
  const [areaName, commandName, ...rest] = argv;
  if (isHelp(areaName)) {
    io.stdout.write(programHelp());
    if (areaName === undefined) throw new UsageError('missing <area>');
    return;
  }
  const area = AREAS.find((a) => a.name === areaName);
  if (!area) {
    const names = AREAS.map((a) => a.name);
    throw withHint(new UsageError(`unknown area '${areaName}'${didYouMean(areaName!, names)} (${names.join(', ')})`), '');
  }
  if (isHelp(commandName)) {
    io.stdout.write(areaHelp(area));
    if (commandName === undefined) throw withHint(new UsageError(`missing <command> for ${area.name}`), area.name);
    return;
  }
  const command = area.commands.find((c) => c.name === commandName);
  if (!command) {
    const names = area.commands.map((c) => c.name);
    throw withHint(new UsageError(`unknown command '${area.name} ${commandName}'${didYouMean(commandName!, names)} (${names.join(', ')})`), area.name);
  }
  const path = `${area.name} ${command.name}`;
  try {
    await command.run(rest, { io, session, path });
  } catch (error) {
    if (error instanceof UsageError) withHint(error, path);
    throw error;
  }
}

function withHint(error: UsageError, path: string): UsageError {
  error.hint ??= `Run \`${PROGRAM} ${path ? `${path} ` : ''}--help\` for usage.`;
  return error;
}

/** Runs one admin command line and returns the process exit code. */
export async function runAdmin(argv: string[], io: AdminIo): Promise<number> {
  const session = openSession(io.env);
  try {
    await dispatch(argv, io, session);
    return 0;
  } catch (error) {
    const failure = describeFailure(error);
    if (argv.includes('--json')) {
      io.stderr.write(`${JSON.stringify({ error: failure.code, message: failure.message })}\n`);
    } else {
      io.stderr.write(`error: ${failure.message}\n${failure.hint ? `${failure.hint}\n` : ''}`);
    }
    return failure.exitCode;
  } finally {
    await session.close();
  }
}
