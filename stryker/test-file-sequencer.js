// Jest's test sequencer, for Stryker's runs (used by stryker.config.mjs only):
// - minus the test files that hold no test the run's --testNamePattern selects. Stryker runs each mutant with a
//   name filter listing the tests that cover it, but Jest would still load every related test file just to skip its
//   tests, and under --experimental-vm-modules loading one of ours (the whole app) costs about a second: most of a
//   mutant's time. Which file holds which test comes from the initial run (test-names-environment.js); a file it
//   has not seen is kept.
// - in the order that kills a mutant soonest, given the bail in test-names-environment.js: the files that failed
//   last time (they killed the previous mutant) first, then the quickest ones (Jest's default runs the slowest first).
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import testSequencer from '@jest/test-sequencer';
import { TEST_NAMES_FILE } from './test-names-environment.js';

const Sequencer = testSequencer.default ?? testSequencer;

function testNamesByFile(rootDir) {
  const file = join(rootDir, TEST_NAMES_FILE);
  const byFile = new Map();
  if (!existsSync(file)) return byFile;
  for (const line of readFileSync(file, 'utf8').split('\n')) {
    if (!line.trim()) continue;
    const { path, names } = JSON.parse(line);
    byFile.set(path, [...(byFile.get(path) ?? []), ...names]);
  }
  return byFile;
}

export default class TestFileSequencer extends Sequencer {
  #pattern;

  constructor(options) {
    super(options);
    const pattern = options.globalConfig.testNamePattern;
    this.#pattern = pattern ? new RegExp(pattern, 'i') : undefined; // as jest-circus matches it
  }

  sort(tests) {
    if (this.#pattern && tests.length > 0) {
      const byFile = testNamesByFile(tests[0].context.config.rootDir);
      tests = tests.filter((test) => {
        const names = byFile.get(test.path);
        return !names || names.some((name) => this.#pattern.test(name));
      });
    }
    const rank = (test) => [this.hasFailed(test) ? 0 : 1, this.time(test) ?? Number.POSITIVE_INFINITY];
    return tests
      .map((test) => ({ test, rank: rank(test) }))
      .sort((a, b) => a.rank[0] - b.rank[0] || a.rank[1] - b.rank[1] || (a.test.path < b.test.path ? -1 : 1))
      .map(({ test }) => test);
  }
}
