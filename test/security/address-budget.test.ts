// Per-IP budgets are per network: an IPv6 client can pick any address of its /64, so all of them share one budget;
// an IPv4-mapped address is its IPv4 address. (The same rule through HTTP: test/flows/recovery-proxy.test.ts.)
import { expect, it } from '@jest/globals';
import { addressBudgetKey } from '../../src/security/limits.ts';

it.each([
  ['203.0.113.9', '203.0.113.9'],
  ['::ffff:203.0.113.9', '203.0.113.9'],
  ['2001:db8:1:2::1', '2001:db8:1:2::/64'],
  ['2001:0DB8:0001:0002:ffff:ffff:ffff:ffff', '2001:db8:1:2::/64'],
  ['2001:db8::1', '2001:db8:0:0::/64'],
  ['::1', '0:0:0:0::/64'],
  ['fe80::1%eth0', 'fe80:0:0:0::/64'],
  ['64:ff9b::203.0.113.9', '64:ff9b:0:0::/64'],
])('keys %s by %s', (address, key) => {
  expect(addressBudgetKey(address)).toBe(key);
});
