// The admin CLI's command model. A command declares its options once; parsing (node:util parseArgs), the help
// text and usage errors all follow from that one declaration, so they cannot drift apart.
import { parseArgs } from 'node:util';
import { createOutput, type AdminIo, type Output } from './output.ts';
import type { AdminSession } from './session.ts';

/** The command line itself is wrong (unknown option, missing value…): exit code 2 and a pointer to --help. */
export class UsageError extends Error {
  override name = 'UsageError';
  /** The help command to suggest; filled in by the dispatcher, which knows the command's full name. */
  hint: string | undefined;
}

export interface OptionSpec {
  type: 'string' | 'boolean';
  multiple?: boolean;
  required?: boolean;
  /** Placeholder shown in the help, e.g. `<uri>`. */
  value?: string;
  help: string;
}

export type OptionSpecs = Record<string, OptionSpec>;

type ValueOf<S extends OptionSpec> = S extends { type: 'boolean' } ? boolean : S extends { multiple: true } ? string[] : string;
type RequiredKeys<O extends OptionSpecs> = { [K in keyof O]: O[K] extends { required: true } ? K : never }[keyof O];
/** Parsed option values, typed from the declaration: required options are present, the others may be missing. */
export type Values<O extends OptionSpecs> = { [K in RequiredKeys<O>]: ValueOf<O[K]> } & {
  [K in Exclude<keyof O, RequiredKeys<O>>]?: ValueOf<O[K]>;
};

export interface CommandContext<O extends OptionSpecs> {
  values: Values<O>;
  /** The positional argument declared as `arg` (empty when the command declares none). */
  arg: string;
  /** Further positional arguments, for commands declared `variadic`. */
  rest: string[];
  out: Output;
  io: AdminIo;
  session: AdminSession;
}

export interface CommandSpec<O extends OptionSpecs> {
  name: string;
  summary: string;
  /** Name of the one positional argument the command takes, e.g. `client-id`. */
  arg?: string;
  /** Accepts more arguments like `arg` (e.g. several `name=value` settings). */
  variadic?: boolean;
  options: O;
  /** Extra paragraphs for the help: examples, caveats. */
  details?: string;
  run(context: CommandContext<O>): Promise<void>;
}

export interface Command {
  name: string;
  summary: string;
  help(path: string): string;
  run(argv: string[], deps: { io: AdminIo; session: AdminSession; path: string }): Promise<void>;
}

/** A group of commands: `npm run admin -- <area> <command>`. */
export interface Area {
  name: string;
  summary: string;
  commands: Command[];
}

/** Options every command accepts. */
const COMMON = {
  json: { type: 'boolean', help: 'Print the result as JSON (for scripts); notes and warnings still go to stderr' },
  help: { type: 'boolean', help: 'Show this help' },
} as const satisfies OptionSpecs;

export function defineCommand<const O extends OptionSpecs>(spec: CommandSpec<O>): Command {
  const all: OptionSpecs = { ...spec.options, ...COMMON };

  function help(path: string): string {
    const usage = `Usage: npm run admin -- ${path}${spec.arg ? ` <${spec.arg}>` : ''} [options]`;
    const rows = Object.entries(all).map(([name, option]) => {
      const flag = `${name === 'help' ? '-h, ' : ''}--${name}${option.value ? ` ${option.value}` : ''}`;
      const notes = [option.required && 'required', option.multiple && 'repeatable'].filter(Boolean);
      return [flag, notes.length ? `${option.help} (${notes.join(', ')})` : option.help] as const;
    });
    const width = Math.max(...rows.map(([flag]) => flag.length)) + 2;
    const options = rows.map(([flag, text]) => `  ${flag.padEnd(width)}${text}`);
    return [usage, '', spec.summary, ...(spec.details ? ['', spec.details] : []), '', 'Options:', ...options, ''].join('\n');
  }

  async function run(argv: string[], { io, session, path }: { io: AdminIo; session: AdminSession; path: string }) {
    const { values, positionals } = parse(argv, all);
    const out = createOutput(io, values.json === true);
    if (values.help === true) {
      io.stdout.write(help(path));
      return;
    }
    for (const [name, option] of Object.entries(spec.options)) {
      if (option.required && values[name] === undefined) throw new UsageError(`--${name} is required`);
    }
    if (spec.arg && positionals.length === 0) throw new UsageError(`missing <${spec.arg}>`);
    const expected = spec.arg ? 1 : 0;
    if (!spec.variadic && positionals.length > expected) throw new UsageError(`unexpected argument '${positionals[expected]}'`);
    await spec.run({ values: values as Values<O>, arg: positionals[0] ?? '', rest: positionals.slice(1), out, io, session });
  }

  return { name: spec.name, summary: spec.summary, help, run };
}

function parse(argv: string[], specs: OptionSpecs) {
  // parseArgs rejects keys present with an undefined value, so only the ones that are set are passed on.
  const options = Object.fromEntries(
    Object.entries(specs).map(([name, { type, multiple }]) => [name, { type, ...(multiple && { multiple }), ...(name === 'help' && { short: 'h' }) }]),
  );
  try {
    const parsed = parseArgs({ args: argv, options, allowPositionals: true, allowNegative: true, strict: true, tokens: true });
    refuseRepeatedOrEmpty(parsed.tokens, specs);
    return { values: parsed.values as Record<string, string | boolean | string[] | undefined>, positionals: parsed.positionals };
  } catch (error) {
    if (error instanceof UsageError) throw error;
    const unknown = argv.map((arg) => /^--([^=]+)/.exec(arg)?.[1]).find((name) => name !== undefined && !(name in specs) && !(name.startsWith('no-') && name.slice(3) in specs));
    if (unknown !== undefined) {
      throw new UsageError(`unknown option --${unknown}${didYouMean(unknown, Object.keys(specs), '--')}`);
    }
    throw new UsageError(error instanceof Error ? error.message : String(error));
  }
}

/**
 * An option of one value given twice would otherwise keep the last (`--role admin --role none` removing the role the
 * first one named); an empty value (an unset shell variable) would otherwise mean "not given" (`audit list --account
 * ""` listing everyone's events) or a default (`--client-id ""` a random id).
 */
function refuseRepeatedOrEmpty(tokens: ReturnType<typeof parseArgs>['tokens'] = [], specs: OptionSpecs): void {
  const seen = new Map<string, string>();
  for (const token of tokens) {
    if (token.kind !== 'option' || specs[token.name]?.type !== 'string') continue;
    const value = token.value ?? '';
    if (value.trim() === '') throw new UsageError(`${token.rawName} must not be empty`);
    const earlier = seen.get(token.name);
    if (earlier !== undefined && !specs[token.name]?.multiple) throw new UsageError(`${token.rawName} was given twice ('${earlier}', then '${value}'): give it once`);
    seen.set(token.name, value);
  }
}

/** " (did you mean <prefix><name>?)" for the known name nearest to a mistyped one, or nothing. */
export function didYouMean(typed: string, known: string[], prefix = ''): string {
  const near = closest(typed, known);
  return near ? ` (did you mean ${prefix}${near}?)` : '';
}

/** The known name nearest to a mistyped one (at most two letters off, a swap counting as one), if any. */
function closest(typed: string, known: string[]): string | undefined {
  let best: { name: string; distance: number } | undefined;
  for (const name of known) {
    const distance = editDistance(typed, name);
    if (distance <= 2 && (!best || distance < best.distance)) best = { name, distance };
  }
  return best?.name;
}

/** Optimal string alignment distance: insertions, deletions, substitutions and swaps of neighbours. */
function editDistance(a: string, b: string): number {
  const d = Array.from({ length: a.length + 1 }, (_, i) => Array.from({ length: b.length + 1 }, (_, j) => (i === 0 ? j : j === 0 ? i : 0)));
  for (let i = 1; i <= a.length; i += 1) {
    for (let j = 1; j <= b.length; j += 1) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      d[i]![j] = Math.min(d[i - 1]![j]! + 1, d[i]![j - 1]! + 1, d[i - 1]![j - 1]! + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) d[i]![j] = Math.min(d[i]![j]!, d[i - 2]![j - 2]! + 1);
    }
  }
  return d[a.length]![b.length]!;
}

/** Checks a value against a fixed list of choices and returns it typed as one of them. */
export function pick<T extends string>(choices: readonly T[], value: string, flag: string): T {
  const found = choices.find((choice) => choice === value);
  if (found === undefined) throw new UsageError(`${flag} must be one of ${choices.join(', ')} (got '${value}')`);
  return found;
}

/** A whole number of at least `min` and at most `max` (a page's size: refused above it, never quietly cut), from a string option. */
export function wholeNumber(value: string | undefined, flag: string, fallback: number, min = 0, max?: number): number {
  if (value === undefined) return fallback;
  // At most what a number holds exactly: a longer one would reach the database as something else.
  const number = /^\d+$/.test(value) ? Number(value) : NaN;
  if (max !== undefined && !(number >= min && number <= max)) throw new UsageError(`${flag} must be a whole number from ${min} to ${max}`);
  if (!(number >= min) || !Number.isSafeInteger(number)) throw new UsageError(`${flag} must be a whole number of at least ${min}`);
  return number;
}
