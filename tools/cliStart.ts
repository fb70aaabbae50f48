/**
 * The start of a command-line tool (npm run dev, npm run host): parse the arguments, answer --help with
 * the usage text, and refuse a bad argument with its message and the usage text (exit code 2).
 */

/**
 * Returns the options `parse` makes of `argv`, or undefined when the tool should stop here: `parse`
 * returned undefined for --help (the usage went to stdout), or threw on a bad argument (its message and
 * the usage went to stderr, and the exit code is 2).
 */
export function parseCommandLine<T>(
  argv: string[],
  usage: string,
  parse: (argv: string[]) => T | undefined,
): T | undefined {
  let options: T | undefined;
  try {
    options = parse(argv);
  } catch (error) {
    process.stderr.write(`${error instanceof Error ? error.message : String(error)}\n\n${usage}`);
    process.exitCode = 2;
    return undefined;
  }
  if (options === undefined) process.stdout.write(usage);
  return options;
}

/** A port number from an option or variable, `fallback` when it is absent or empty; throws naming `name`. */
export function portOption(value: string | undefined, name: string, fallback: number): number;
export function portOption(value: string | undefined, name: string): number | undefined;
export function portOption(value: string | undefined, name: string, fallback?: number): number | undefined {
  if (value === undefined || value === '') {
    return fallback;
  }
  const port = Number(value);
  if (!Number.isInteger(port) || port < 0 || port > 65535) {
    throw new Error(`${name} must be a port number, got '${value}'.`);
  }
  return port;
}
