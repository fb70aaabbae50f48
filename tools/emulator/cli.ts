import { startEmulator } from './index';

/**
 * `npm run emulator [-- --port 8100 --arm-port 8101 --credential azurecli --user-assigned]`
 * Ports also come from EMULATOR_PORT / EMULATOR_ARM_PORT; default 0 (ephemeral). Prints the gateway's app
 * settings as NAME=value lines and a sample caller token, then serves until SIGINT/SIGTERM.
 */

function option(args: readonly string[], name: string): string | undefined {
  const index = args.findIndex((arg) => arg === name || arg.startsWith(`${name}=`));
  if (index === -1) return undefined;
  const arg = args[index] ?? '';
  return arg.includes('=') ? arg.slice(arg.indexOf('=') + 1) : args[index + 1];
}

function port(value: string | undefined, name: string): number {
  if (value === undefined || value === '') return 0;
  const parsed = Number(value);
  if (!Number.isInteger(parsed) || parsed < 0 || parsed > 65_535)
    throw new Error(`${name} must be a port number, not '${value}'`);
  return parsed;
}

async function main(): Promise<void> {
  const args = process.argv.slice(2);
  const credential = option(args, '--credential') ?? 'managedidentity';
  if (credential !== 'managedidentity' && credential !== 'azurecli') {
    throw new Error(`--credential must be managedidentity or azurecli, not '${credential}'`);
  }
  const emulator = await startEmulator({
    port: port(option(args, '--port') ?? process.env.EMULATOR_PORT, '--port'),
    armPort: port(option(args, '--arm-port') ?? process.env.EMULATOR_ARM_PORT, '--arm-port'),
  });
  const settings = emulator.appSettings({ credential, userAssigned: args.includes('--user-assigned') });
  const token = await emulator.mintCallerToken();
  const lines = [
    `# Azure emulator: ${emulator.urls.base} (ARM ${emulator.urls.arm}); admin API ${emulator.urls.admin}`,
    '# App settings for the gateway:',
    ...Object.entries(settings).map(([name, value]) => `${name}=${value}`),
    '# A caller token for the gateway API (1 h): Authorization: Bearer $EMULATOR_CALLER_TOKEN',
    `EMULATOR_CALLER_TOKEN=${token}`,
    `EMULATOR_ADMIN_URL=${emulator.urls.admin}`,
  ];
  process.stdout.write(`${lines.join('\n')}\n`);

  const stop = (signal: NodeJS.Signals): void => {
    process.stderr.write(`# ${signal}: closing the Azure emulator\n`);
    emulator.close().then(
      () => {
        process.exitCode = 0;
      },
      (error: unknown) => {
        process.stderr.write(`# close failed: ${String(error)}\n`);
        process.exitCode = 1;
      },
    );
  };
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
}

main().catch((error: unknown) => {
  process.stderr.write(`azure emulator: ${error instanceof Error ? error.message : String(error)}\n`);
  process.exitCode = 1;
});
