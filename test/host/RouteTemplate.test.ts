import { describe, expect, it } from 'vitest';
import { RouteTemplate } from '../../tools/host/RouteTemplate';

describe('RouteTemplate', () => {
  it('matches literal segments case-insensitively and ignores a trailing slash', () => {
    const route = new RouteTemplate('chat/completions');

    expect(route.match('Chat/Completions/')).toEqual({});
    expect(route.match('chat')).toBeUndefined();
    expect(route.match('chat/completions/extra')).toBeUndefined();
  });

  it('captures parameters and percent-decodes them, keeping encoded slashes inside the value', () => {
    const route = new RouteTemplate('models/{id}');

    expect(route.match('models/gpt-4o%20mini')).toEqual({ id: 'gpt-4o mini' });
    expect(route.match('models/a%2Fb')).toEqual({ id: 'a%2Fb' });
    expect(route.match('models')).toBeUndefined();
  });

  it('treats optional and defaulted parameters as present only when the path has them, else the default', () => {
    const optional = new RouteTemplate('models/{id?}');
    const defaulted = new RouteTemplate('pages/{page=1}');

    expect(optional.match('models')).toEqual({});
    expect(optional.match('models/x')).toEqual({ id: 'x' });
    expect(defaulted.match('pages')).toEqual({ page: '1' });
    expect(defaulted.match('pages/3')).toEqual({ page: '3' });
  });

  it('lets a catch-all parameter take the rest of the path', () => {
    const route = new RouteTemplate('files/{*path}');

    expect(route.match('files/a/b/c.txt')).toEqual({ path: 'a/b/c.txt' });
    expect(route.match('files')).toEqual({});
  });

  it('applies constraints, including ones with arguments', () => {
    expect(new RouteTemplate('n/{v:int}').match('n/-12')).toEqual({ v: '-12' });
    expect(new RouteTemplate('n/{v:int}').match('n/1.5')).toBeUndefined();
    expect(new RouteTemplate('n/{v:alpha:minlength(3)}').match('n/ab')).toBeUndefined();
    expect(new RouteTemplate('n/{v:alpha:minlength(3)}').match('n/abc')).toEqual({ v: 'abc' });
    expect(new RouteTemplate('n/{v:range(1,5)}').match('n/6')).toBeUndefined();
    expect(new RouteTemplate('n/{v:guid}').match('n/3f2504e0-4f89-11d3-9a0c-0305e82c3301')).toBeDefined();
    expect(new RouteTemplate('n/{v:regex(^[a-c]+$)}').match('n/abd')).toBeUndefined();
  });

  it('matches segments that mix literals and parameters', () => {
    expect(new RouteTemplate('files/{name}.{ext}').match('files/report.final.pdf')).toEqual({
      name: 'report',
      ext: 'final.pdf',
    });
  });

  it('rejects templates the host would refuse', () => {
    expect(() => new RouteTemplate('a/{id}/{id}')).toThrow(/more than once/);
    expect(() => new RouteTemplate('a/{id?}/b')).toThrow(/optional/);
    expect(() => new RouteTemplate('a/{*rest}/b')).toThrow(/catch-all/);
    expect(() => new RouteTemplate('a/{id:nonsense}')).toThrow(/could not be resolved/);
    expect(() => new RouteTemplate('a/{id')).toThrow(/unclosed/);
  });
});
