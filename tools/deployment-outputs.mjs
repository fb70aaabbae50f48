#!/usr/bin/env node
// Turns a deployment's outputs into shell variables, whatever case ARM returns their names in: ARM does not
// reliably keep the case of output names (Azure/azure-dev#512), so `--query properties.outputs.NAME.value`
// can come back empty.
//
//   eval "$(az deployment group show -g <rg> -n gateway --query properties.outputs -o json \
//     | node tools/deployment-outputs.mjs)"
//
// Prints one `export NAME='value'` line per output, NAME in upper case. Exit codes: 0 done, 2 the input is
// not a deployment's outputs object.
import { realpath } from 'node:fs/promises';
import { Buffer } from 'node:buffer';
import process from 'node:process';
import { fileURLToPath } from 'node:url';

/**
 * The outputs of a deployment (`properties.outputs`: `{ name: { type, value } }`) by upper-case name.
 * @param {unknown} outputs
 * @returns {Map<string, unknown>}
 */
export function readOutputs(outputs) {
  if (typeof outputs !== 'object' || outputs === null || Array.isArray(outputs)) {
    throw new TypeError(
      'Expected the deployment outputs object (az deployment group show --query properties.outputs).',
    );
  }
  const byName = new Map();
  for (const [name, output] of Object.entries(outputs)) {
    const value =
      typeof output === 'object' && output !== null && 'value' in output ? output.value : undefined;
    byName.set(name.toUpperCase(), value);
  }
  return byName;
}

/**
 * One output's value, found by name in any case; undefined when the deployment has no such output.
 * @param {unknown} outputs
 * @param {string} name
 */
export function outputValue(outputs, name) {
  return readOutputs(outputs).get(name.toUpperCase());
}

/** @param {string} value */
const quote = (value) => `'${value.replaceAll("'", `'\\''`)}'`;

/**
 * Shell lines that export every output whose name is a valid variable name.
 * @param {unknown} outputs
 */
export function toShellExports(outputs) {
  const lines = [];
  for (const [name, value] of readOutputs(outputs)) {
    if (!/^[A-Z_][A-Z0-9_]*$/.test(name)) continue;
    const text =
      typeof value === 'string' ? value : value === undefined || value === null ? '' : JSON.stringify(value);
    lines.push(`export ${name}=${quote(text)}`);
  }
  return lines.join('\n');
}

async function readStdin() {
  const chunks = [];
  for await (const chunk of process.stdin) chunks.push(chunk);
  return Buffer.concat(chunks).toString('utf8');
}

// NOTE: imported by tests for its helpers; runs only when it is the script node was started with.
const entry = process.argv[1] ? await realpath(process.argv[1]).catch(() => process.argv[1]) : undefined;
if (entry === (await realpath(fileURLToPath(import.meta.url)))) {
  try {
    process.stdout.write(`${toShellExports(JSON.parse(await readStdin()))}\n`);
  } catch (error) {
    process.stderr.write(`${error instanceof Error ? error.message : String(error)}\n`);
    process.exitCode = 2;
  }
}
