// How admin commands print. The result goes to stdout, as JSON with --json and as text otherwise; notes and
// warnings always go to stderr, so `--json` output can be piped into another program untouched.

export interface AdminIo {
  stdout: { write(text: string): unknown };
  stderr: { write(text: string): unknown };
  stdin: NodeJS.ReadStream;
  env: NodeJS.ProcessEnv;
}

export interface Output {
  readonly json: boolean;
  /** Prints the result: `data` as JSON with --json, otherwise the lines `human` returns. */
  result(data: unknown, human: () => string[]): void;
  /** A note or warning for the person at the terminal (stderr). */
  note(text: string): void;
}

export function createOutput(io: AdminIo, json: boolean): Output {
  return {
    json,
    result(data, human) {
      io.stdout.write(json ? `${JSON.stringify(data, null, 2)}\n` : `${human().join('\n')}\n`);
    },
    note(text) {
      io.stderr.write(`${text}\n`);
    },
  };
}

/** Label/value lines with the values aligned, each printable; a list value continues on the following lines. */
export function fields(rows: Array<[label: string, value: string | string[]]>): string[] {
  const width = Math.max(...rows.map(([label]) => label.length)) + 2;
  return rows.flatMap(([label, value]) => {
    const values = typeof value === 'string' ? [value] : value.length ? value : ['(none)'];
    return values.map((line, index) => `${(index === 0 ? label : '').padEnd(width)}${printable(line)}`);
  });
}

/** Characters that move the cursor or reorder text: control characters, format characters, line separators. */
const UNPRINTABLE = /[\p{Cc}\p{Cf}\p{Zl}\p{Zp}]/gu;

/**
 * `text` with every unprintable character written as a \u escape: a value stored by anyone (an actor from
 * LATCHKEY_ADMIN, an address) must not start a line of its own and pass for a row it is not.
 */
export function printable(text: string): string {
  return text.replace(UNPRINTABLE, (char) => `\\u${char.codePointAt(0)!.toString(16).padStart(4, '0')}`);
}

/** A plain-text table, each cell printable; `empty` is printed instead when there are no rows. */
export function table(headers: string[], cells: string[][], empty: string): string[] {
  if (cells.length === 0) return [empty];
  const rows = cells.map((row) => row.map(printable));
  const widths = headers.map((header, column) => Math.max(header.length, ...rows.map((row) => (row[column] ?? '').length)));
  const line = (cells: string[]) =>
    cells
      .map((cell, column) => cell.padEnd(widths[column] ?? 0))
      .join('  ')
      .trimEnd();
  return [line(headers), ...rows.map(line)];
}

export const yesNo = (value: boolean): string => (value ? 'yes' : 'no');
export const isoDate = (value: Date | string | number): string => new Date(value).toISOString();
