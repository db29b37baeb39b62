/**
 * tshark, the reference our parsers and captures are checked against. The one wrapper for reading
 * a capture with it; a missing tshark fails the test (runCommand rejects).
 */
import { runCommand } from "./command.js";

export interface TsharkReadOptions {
  /** WireGuard key log (wg.keylog_file) so tshark can decrypt. */
  readonly keylog?: string;
  /** Display filter, e.g. "wg". */
  readonly displayFilter?: string;
}

/** Runs tshark with `args`; its standard output. */
export async function tshark(args: readonly string[]): Promise<string> {
  // Large captures on a loaded machine: minutes, not the default 30 s.
  const { stdout } = await runCommand("tshark", args, { timeoutMs: 300_000 });
  return stdout;
}

/**
 * Reads a capture with `tshark -T fields`: one row per packet, the fields' values in the order
 * given. A field that occurs several times in a packet has its values joined with ","; an absent
 * field is "".
 */
export async function tsharkRows(
  file: string,
  fields: readonly string[],
  options: TsharkReadOptions = {},
): Promise<string[][]> {
  if (fields.length === 0) throw new TypeError("tsharkRows: give at least one field");
  const args = ["-r", file, "-n", "-T", "fields", "-E", "separator=/t", "-E", "occurrence=a"];
  if (options.keylog !== undefined) args.push("-o", `wg.keylog_file:${options.keylog}`);
  if (options.displayFilter !== undefined) args.push("-Y", options.displayFilter);
  for (const field of fields) args.push("-e", field);
  const stdout = await tshark(args);
  return stdout
    .split("\n")
    .filter((line) => line.length > 0)
    .map((line) => {
      const values = line.split("\t");
      return fields.map((_, index) => values[index] ?? "");
    });
}

/** {@link tsharkRows} keyed by field name. */
export async function tsharkFields(
  file: string,
  fields: readonly string[],
  options: TsharkReadOptions = {},
): Promise<Record<string, string>[]> {
  const rows = await tsharkRows(file, fields, options);
  return rows.map((values) => Object.fromEntries(fields.map((field, i) => [field, values[i]!])));
}
