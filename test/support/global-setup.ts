import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const repositoryRoot = fileURLToPath(new URL('../../', import.meta.url));
const buildTimeoutMs = 120_000;

/**
 * Builds dist/ once per test run with the project's own build (tools/build.mjs), so end-to-end tests
 * serve exactly the bundle that ships.
 */
export async function setup(): Promise<void> {
  const child = spawn(process.execPath, ['tools/build.mjs'], {
    cwd: repositoryRoot,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout.setEncoding('utf8').on('data', (text: string) => (output += text));
  child.stderr.setEncoding('utf8').on('data', (text: string) => (output += text));
  const result = await new Promise<{ code: number | null; signal: NodeJS.Signals | null } | 'timeout'>(
    (resolve) => {
      const timer = setTimeout(() => {
        child.kill('SIGKILL');
        resolve('timeout');
      }, buildTimeoutMs);
      child.once('exit', (code, signal) => {
        clearTimeout(timer);
        resolve({ code, signal });
      });
    },
  );
  if (result === 'timeout') {
    throw new Error(`npm run build did not finish within ${buildTimeoutMs} ms.\n${output}`);
  }
  if (result.code !== 0) {
    throw new Error(
      `npm run build failed (${result.signal ?? `exit code ${result.code ?? 'unknown'}`}).\n${output}`,
    );
  }
}
