// db/field-names.ts: keys a database may refuse as field names (dots, a leading '$') are escaped for storage and
// given back exactly, whatever the key; what needs no escaping is not copied.
import { describe, expect, it } from '@jest/globals';
import fc from 'fast-check';
import { escapeFieldNames, unescapeFieldNames } from '../../src/db/field-names.ts';

/** Every key of a value, at any depth. */
const keysOf = (value: unknown): string[] =>
  Array.isArray(value) ? value.flatMap(keysOf) : value && typeof value === 'object' ? Object.entries(value).flatMap(([key, item]) => [key, ...keysOf(item)]) : [];

// JSON-like values whose keys are drawn to hit the characters that matter, and the escape codes themselves.
const key = fc.oneof(fc.string(), fc.stringMatching(/^[a-z%.$2E45]{0,8}$/), fc.constantFrom('https://api.example.test', '$where', '%2E', '%25', 'a.b.c'));
const json = fc.letrec((tie) => ({
  value: fc.oneof({ depthSize: 'small' }, fc.string(), fc.integer(), fc.boolean(), fc.constant(null), tie('array'), tie('object')),
  array: fc.array(tie('value'), { maxLength: 4 }),
  object: fc.dictionary(key, tie('value'), { maxKeys: 5 }),
})).value;

describe('field names', () => {
  it('gives back exactly what it stored, and stores no key with a dot or a leading $', () => {
    fc.assert(
      fc.property(json, (value) => {
        const stored = escapeFieldNames(value);
        expect(keysOf(stored).filter((name) => name.includes('.') || name.startsWith('$'))).toEqual([]);
        expect(unescapeFieldNames(stored)).toEqual(value);
      }),
      { numRuns: 2000 },
    );
  });

  it('escapes the keys of a resource indicator, and not the values', () => {
    const grant = { accountId: 'a.b', resources: { 'https://api.example.test': 'api:read' }, rejected: ['x.y'] };
    expect(escapeFieldNames(grant)).toEqual({ accountId: 'a.b', resources: { 'https://api%2Eexample%2Etest': 'api:read' }, rejected: ['x.y'] });
  });

  it('returns a value that needs nothing as it is, without copying it', () => {
    const session = { uid: 'u1', accountId: 'acc', authorizations: { client1: { grantId: 'g.1' } }, loginTs: 1 };
    expect(escapeFieldNames(session)).toBe(session);
    expect(unescapeFieldNames(session)).toBe(session);
  });
});
