// Mutation testing (StrykerJS + its Jest runner) over src/accounts, src/http and src/db: `npm run mutate`.
// Slow (each mutant re-runs the Jest tests that cover it), so it is not part of CI. One file at a time:
//   npm run mutate -- --mutate src/db/atomic.ts
// Reports: reports/mutation/mutation.html and .json; the sandbox lives in .stryker-tmp/ while it runs.
//
// How it fits this ESM suite:
// - The Jest runner runs Jest in Stryker's test-runner process, which gets Node's --experimental-vm-modules
//   (testRunnerNodeArgs), as `npm test` does. `npm run` puts the `node` devDependency (Node 24) first on PATH, so
//   Stryker and its child processes run on Node 24, which strips the types of scripts/local-db.ts in global setup.
// - Stryker instruments the TypeScript of the mutated files in its sandbox; @swc/jest then transforms them as usual.
// - The sandbox is a copy of the project (node_modules symlinked), .tools/ferretdb included, so the global setup
//   starts the already-built FerretDB from the sandbox without rebuilding it (recipe stamp copied along). Set
//   MONGODB_URI to use an existing server instead.
// - coverageAnalysis 'perTest': Stryker wraps the test environment to learn which tests reach each mutant, then
//   runs only those tests for that mutant (Jest's --findRelatedTests + a test-name filter). stryker/ narrows the
//   test files to those holding one of them, runs the likeliest killers first and skips the rest of a mutant's run
//   once a test has failed. A mutant reached outside any test (module top level, beforeAll) is "static" and runs
//   every related test (about a minute each here): `--ignoreStatic` leaves those out for a quicker, partial run.
// - Stryker refuses to start when a test fails in its initial run, so run it on a tree whose `npm test` passes.
export default {
  $schema: './node_modules/@stryker-mutator/core/schema/stryker-schema.json',
  packageManager: 'npm',
  testRunner: 'jest',
  testRunnerNodeArgs: ['--experimental-vm-modules', '--disable-warning=ExperimentalWarning'],
  jest: {
    projectType: 'custom',
    configFile: 'jest.config.js',
    config: {
      // Everything but the browser test (headless chromium: slow, and it writes screenshots).
      testPathIgnorePatterns: ['/node_modules/', '<rootDir>/test/browser/'],
      // Together these make a mutant's run load only the test files that hold a test covering it (see the files).
      testEnvironment: './stryker/test-names-environment.js',
      testSequencer: './stryker/test-file-sequencer.js',
    },
    enableFindRelatedTests: true,
  },
  coverageAnalysis: 'perTest',
  // The message catalogues under src/http/messages are text, not logic: mutating their strings would give
  // hundreds of module-level ("static") mutants, each of which re-runs every test.
  mutate: ['src/accounts/**/*.ts', 'src/http/**/*.ts', 'src/db/**/*.ts', '!src/http/messages/**'],
  // Not needed to run the tests (and .data may hold a running development database).
  ignorePatterns: ['.data', 'test-artifacts', 'coverage', 'bench-results', 'reports', '.ci'],
  concurrency: 1,
  // A mutant that hangs is cut after its tests' normal time × 1.5 + 10 s.
  timeoutMS: 10000,
  reporters: ['clear-text', 'progress', 'html', 'json'],
  tempDirName: '.stryker-tmp',
  // Also after a failed run: a sandbox left in .stryker-tmp/ would be linted by `npm run lint` in this shared checkout.
  cleanTempDir: 'always',
};
