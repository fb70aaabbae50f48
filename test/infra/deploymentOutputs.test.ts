import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { repoRoot } from '../../tools/bicep.mjs';
import { outputValue, readOutputs, toShellExports } from '../../tools/deployment-outputs.mjs';

const run = promisify(execFile);
const script = join(repoRoot, 'tools', 'deployment-outputs.mjs');

/** Outputs as ARM has been seen to return them: some names with their case changed (Azure/azure-dev#512). */
const outputs = {
  functioN_APP_NAME: { type: 'String', value: 'func-api-abc' },
  FUNCTION_APP_URL: { type: 'String', value: 'https://func-api-abc.azurewebsites.net' },
  auth_App_Id_Uri: { type: 'String', value: "api://it's-quoted" },
  APP_IDENTITY_CLIENT_ID: { type: 'String', value: '' },
};

describe('deployment outputs', () => {
  it('are found by name whatever case ARM returned them in', () => {
    expect(outputValue(outputs, 'FUNCTION_APP_NAME')).toBe('func-api-abc');
    expect(outputValue(outputs, 'auth_app_id_uri')).toBe("api://it's-quoted");
    expect(outputValue(outputs, 'MISSING')).toBeUndefined();
    expect([...readOutputs(outputs).keys()]).toEqual([
      'FUNCTION_APP_NAME',
      'FUNCTION_APP_URL',
      'AUTH_APP_ID_URI',
      'APP_IDENTITY_CLIENT_ID',
    ]);
  });

  it('refuse anything that is not an outputs object', () => {
    expect(() => readOutputs([1, 2])).toThrow(/outputs object/);
    expect(() => toShellExports(null)).toThrow(/outputs object/);
  });

  it('become shell variables a POSIX shell evaluates to the exact values', async () => {
    const { stdout } = await run(
      'sh',
      [
        '-c',
        `eval "$(printf '%s' "$OUTPUTS" | "${process.execPath}" "${script}")" && printf '%s|%s|%s' "$FUNCTION_APP_NAME" "$AUTH_APP_ID_URI" "$APP_IDENTITY_CLIENT_ID"`,
      ],
      { env: { ...process.env, OUTPUTS: JSON.stringify(outputs) } },
    );
    expect(stdout).toBe("func-api-abc|api://it's-quoted|");
  });

  it('exit 2 with a message on input that is not JSON outputs', async () => {
    await expect(run('sh', ['-c', `printf '[]' | "${process.execPath}" "${script}"`])).rejects.toMatchObject({
      code: 2,
      stderr: expect.stringContaining('outputs object') as unknown,
    });
  });
});
