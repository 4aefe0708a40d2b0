// Tests are TypeScript ESM, transformed by @swc/jest (no dependency on the TypeScript compiler API).
// One FerretDB server is started for the whole run (test/global-setup.js); each file gets its own database.
export default {
  testEnvironment: 'node',
  extensionsToTreatAsEsm: ['.ts'],
  transform: {
    '^.+\\.ts$': ['@swc/jest', { jsc: { parser: { syntax: 'typescript' }, target: 'es2022' }, module: { type: 'es6' } }],
  },
  testMatch: ['<rootDir>/test/**/*.test.ts'],
  globalSetup: '<rootDir>/test/global-setup.js',
  globalTeardown: '<rootDir>/test/global-teardown.js',
  // The heaviest tests (hundreds of recovery steps, a hundred argon2 sign-ins) take 30-40 s on a loaded 2-core CI
  // machine: room to spare, so that a slow run is not a failure.
  testTimeout: 180000,
};
