// Introspection tells a token's owner, scopes and lifetime, so it asks for client authentication (RFC 7662 §2.1: the
// endpoint must require some form of authorization). A public client holds no secret: its client_id alone, which
// anyone can read from its authorization requests, gets `active: false` for any token, and discovery does not offer
// `none` for introspection. Revocation still accepts a public client (RFC 7009 §2.1 lets it revoke its own tokens).
import { afterAll, beforeAll, expect, it } from '@jest/globals';
import * as client from 'openid-client';
import { createClient, createUser } from '../helpers/factories.ts';
import { discover, tokensFor } from '../helpers/rp.ts';
import { startTestServer, type TestServer } from '../helpers/server.ts';

let server: TestServer;
beforeAll(async () => {
  server = await startTestServer();
});
afterAll(() => server.close());

it('tells a public client nothing about its own tokens, and still lets it revoke them', async () => {
  const publicClient = await createClient(server, { token_endpoint_auth_method: 'none', grant_types: ['authorization_code', 'refresh_token'] });
  const user = await createUser(server);
  const tokens = await tokensFor(server, publicClient, user.username);
  const config = await discover(server, publicClient);

  expect(await client.tokenIntrospection(config, tokens.access_token)).toEqual({ active: false });
  expect(await client.tokenIntrospection(config, tokens.refresh_token!)).toEqual({ active: false });

  // The token was live all along: the userinfo endpoint still answers for it, until the client revokes it.
  expect((await client.fetchUserInfo(config, tokens.access_token, client.skipSubjectCheck)).sub).toBe(user._id);
  await client.tokenRevocation(config, tokens.access_token);
  await expect(client.fetchUserInfo(config, tokens.access_token, client.skipSubjectCheck)).rejects.toThrow();
});

it('still introspects for a confidential client', async () => {
  const confidential = await createClient(server);
  const user = await createUser(server);
  const tokens = await tokensFor(server, confidential, user.username);
  const answer = await client.tokenIntrospection(await discover(server, confidential), tokens.access_token);
  expect(answer).toMatchObject({ active: true, sub: user._id, client_id: confidential.client_id });
});

it('does not offer `none` for introspection in discovery, and does for revocation', async () => {
  const document = (await (await fetch(`${server.issuer}/.well-known/openid-configuration`)).json()) as Record<string, string[]>;
  expect(document.introspection_endpoint_auth_methods_supported).not.toContain('none');
  expect(document.introspection_endpoint_auth_methods_supported).toEqual(expect.arrayContaining(['client_secret_basic', 'client_secret_post']));
  expect(document.revocation_endpoint_auth_methods_supported).toContain('none');
});
