import { parseArgs } from 'node:util';
import { parseCommandLine, portOption } from '../cliStart';
import { parseOrigins } from './readLocalSettings';
import { startHost, type RunningHost, type StartHostOptions } from './startHost';

const usage = `Runs the built app (package.json "main") like the Functions host, without Core Tools.

Usage: npm run host -- [options]

  --port <n>             port on 127.0.0.1, 0 for a free one (default: Host.LocalHttpPort or 7071)
  --app-root <dir>       app directory (default: current directory)
  --no-local-settings    ignore local.settings.json (Values, Host.CORS, Host.LocalHttpPort)
  --cors <origins>       comma-separated allowed origins, replaces Host.CORS
  --cors-credentials     allow credentials on CORS responses
  --function-key <key>   key for authLevel "function" (default: random)
  --master-key <key>     key for authLevel "admin" (default: random)
  --verbose              show debug logs
  --help                 show this text
`;

function toOptions(argv: string[]): StartHostOptions | undefined {
  const { values } = parseArgs({
    args: argv,
    options: {
      port: { type: 'string' },
      'app-root': { type: 'string' },
      'no-local-settings': { type: 'boolean', default: false },
      cors: { type: 'string' },
      'cors-credentials': { type: 'boolean', default: false },
      'function-key': { type: 'string' },
      'master-key': { type: 'string' },
      verbose: { type: 'boolean', default: false },
      help: { type: 'boolean', default: false },
    },
    strict: true,
  });
  if (values.help) {
    return undefined;
  }
  const options: StartHostOptions = {
    loadLocalSettings: !values['no-local-settings'],
    verbose: values.verbose,
  };
  const port = portOption(values.port, '--port');
  if (port !== undefined) {
    options.port = port;
  }
  if (values['app-root'] !== undefined) {
    options.appRoot = values['app-root'];
  }
  if (values.cors !== undefined) {
    options.cors = { origins: parseOrigins(values.cors), credentials: values['cors-credentials'] };
  }
  const keys: StartHostOptions['keys'] = {};
  if (values['function-key'] !== undefined) {
    keys.function = values['function-key'];
  }
  if (values['master-key'] !== undefined) {
    keys.master = values['master-key'];
  }
  options.keys = keys;
  return options;
}

function describe(host: RunningHost): string {
  const lines = ['', 'Functions:', ''];
  for (const fn of [...host.functions].sort((a, b) => a.name.localeCompare(b.name))) {
    const methods = fn.methods ? fn.methods.join(',') : 'ANY';
    const template = fn.route.template.replace(/^\/+/, '');
    lines.push(`        ${fn.name}: [${methods}] ${host.apiBaseUrl}/${template}`, '');
  }
  if (host.functions.length === 0) {
    lines.push('        (no HTTP functions registered)', '');
  }
  if (host.functions.some((fn) => fn.authLevel !== 'anonymous')) {
    lines.push(
      'Non-anonymous functions need a key in the x-functions-key header or the code query parameter:',
      `        function key: ${host.keys.function}`,
      `        master key:   ${host.keys.master}`,
      '',
    );
  }
  return lines.join('\n');
}

async function main(): Promise<void> {
  const options = parseCommandLine(process.argv.slice(2), usage, toOptions);
  if (!options) {
    return;
  }
  const host = await startHost(options);
  process.stdout.write(`${describe(host)}\n`);
  // NOTE: tools wait for this exact line to learn the port (spawnHost parses it).
  process.stdout.write(`Host listening on ${host.url} (API base ${host.apiBaseUrl})\n`);

  let stopping = false;
  const stop = (reason: string): void => {
    if (stopping) {
      // NOTE: a terminal's Ctrl-C reaches both a parent (npm run dev) and this process; the parent then
      // sends SIGTERM too. Stopping already has a deadline, so repeats are not fatal.
      process.stdout.write(`${reason}: already stopping.\n`);
      return;
    }
    stopping = true;
    process.stdout.write(`${reason}: stopping the host.\n`);
    const forceExit = setTimeout(() => process.exit(1), 10_000);
    forceExit.unref();
    host.close().then(
      () => process.exit(0),
      (error: unknown) => {
        process.stderr.write(`Stopping failed: ${error instanceof Error ? error.message : String(error)}\n`);
        process.exit(1);
      },
    );
  };
  process.on('SIGINT', () => {
    stop('SIGINT');
  });
  process.on('SIGTERM', () => {
    stop('SIGTERM');
  });
  // NOTE: when started by spawnHost the IPC channel closes with the parent, even if it was killed.
  if (process.channel) {
    process.channel.unref();
    process.once('disconnect', () => {
      stop('Parent process gone');
    });
  }
}

main().catch((error: unknown) => {
  process.stderr.write(
    `The host failed to start: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`,
  );
  process.exit(1);
});
