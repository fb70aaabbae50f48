import { HttpRequest } from '@azure/functions';
import { describe, expect, it } from 'vitest';
import { jsonDepth, readJsonBody } from '../../src/lib/request/requestBody';

const post = (body: string, contentType = 'application/json') =>
  new HttpRequest({
    method: 'POST',
    url: 'http://127.0.0.1/api/x',
    headers: { 'content-type': contentType },
    body: { string: body },
  });

describe('reading a JSON body', () => {
  it('measures nesting without being fooled by brackets inside strings', () => {
    expect(jsonDepth('{"a":[1,{"b":"[[[{"}]}')).toBe(3);
    expect(jsonDepth('"\\"[["')).toBe(0);
  });

  it('accepts JSON media types with parameters and suffixes', async () => {
    await expect(readJsonBody(post('{"a":1}', 'application/json; charset=utf-8'), 100)).resolves.toEqual({
      a: 1,
    });
    await expect(readJsonBody(post('{"a":1}', 'application/merge-patch+json'), 100)).resolves.toEqual({
      a: 1,
    });
  });

  it('refuses bodies that are empty, not UTF-8 or too deep', async () => {
    await expect(readJsonBody(post(''), 100)).rejects.toMatchObject({ status: 400, code: 'invalid_json' });
    await expect(readJsonBody(post('['.repeat(70) + ']'.repeat(70)), 1000)).rejects.toMatchObject({
      status: 400,
    });
    const latin1 = new HttpRequest({
      method: 'POST',
      url: 'http://127.0.0.1/api/x',
      headers: { 'content-type': 'application/json' },
      body: { bytes: new Uint8Array([0x22, 0xff, 0x22]) },
    });
    await expect(readJsonBody(latin1, 100)).rejects.toMatchObject({ status: 400, code: 'invalid_json' });
  });

  it('stops reading at the byte limit even when no Content-Length is declared', async () => {
    await expect(readJsonBody(post(`"${'x'.repeat(500)}"`), 100)).rejects.toMatchObject({ status: 413 });
  });
});
