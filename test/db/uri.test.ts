// MongoDB URIs: the admin CLI names Latchkey's database when `npm run db`'s URI names none; tests name their own.
import { describe, expect, it } from '@jest/globals';
import { redactUri, withDatabase, withDefaultDatabase } from '../../src/db/uri.ts';

describe('withDefaultDatabase', () => {
  it.each([
    ['mongodb://127.0.0.1:41235', 'mongodb://127.0.0.1:41235/latchkey'],
    ['mongodb://127.0.0.1:41235/', 'mongodb://127.0.0.1:41235/latchkey'],
    ['mongodb://127.0.0.1:41235/?directConnection=true', 'mongodb://127.0.0.1:41235/latchkey?directConnection=true'],
    ['mongodb://u:p%40ss@a.example:1,b.example:2?replicaSet=rs0', 'mongodb://u:p%40ss@a.example:1,b.example:2/latchkey?replicaSet=rs0'],
    ['mongodb+srv://cluster0.example.net', 'mongodb+srv://cluster0.example.net/latchkey'],
  ])('adds the latchkey database to %s', (uri, expected) => {
    expect(withDefaultDatabase(uri)).toBe(expected);
  });

  it.each(['mongodb://127.0.0.1:41235/production', 'mongodb://db.example/idp?authSource=admin', 'not a uri'])('leaves %s as it is', (uri) => {
    expect(withDefaultDatabase(uri)).toBe(uri);
  });
});

describe('redactUri', () => {
  it('masks credentials and keeps the rest', () => {
    expect(redactUri('mongodb://admin:s3cret@db.example:27017/latchkey')).toBe('mongodb://***@db.example:27017/latchkey');
    expect(redactUri('mongodb://db.example/latchkey')).toBe('mongodb://db.example/latchkey');
    expect(redactUri('mongodb://db.example/latchkey?appName=ops@corp')).toBe('mongodb://db.example/latchkey?appName=ops@corp');
  });

  // The URIs the driver refuses are the ones these messages print: a password typed without percent-encoding.
  it.each([
    ['mongodb://admin:pa/ss@db.example/latchkey', 'mongodb://***@db.example/latchkey'],
    ['mongodb://admin:p@ss@db.example', 'mongodb://***@db.example'],
    ['mongodb+srv://admin:a?b@cluster0.example.net', 'mongodb+srv://***@cluster0.example.net'],
    ['admin:s3cret@db.example', '***@db.example'],
  ])('masks the whole password of the malformed %s', (uri, expected) => {
    expect(redactUri(uri)).toBe(expected);
  });
});

describe('withDatabase', () => {
  it.each([
    ['mongodb://127.0.0.1:41235', 'mongodb://127.0.0.1:41235/t_1'],
    ['mongodb://h:1/other?x=1', 'mongodb://h:1/t_1?x=1'],
    ['mongodb://u:p@a:1,b:2/db?replicaSet=rs0', 'mongodb://u:p@a:1,b:2/t_1?replicaSet=rs0'],
  ])('names the database in %s', (uri, expected) => {
    expect(withDatabase(uri, 't_1')).toBe(expected);
  });

  it('refuses something that is not a MongoDB URI', () => {
    expect(() => withDatabase('postgres://u:secret@h/db', 'x')).toThrow(/not a mongodb:\/\/ URI: postgres:\/\/\*\*\*@h\/db/);
  });
});
