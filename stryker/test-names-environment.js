// Jest's node environment with two additions for Stryker (used by stryker.config.mjs only):
// - In a run without a test-name filter (Stryker's initial run), each test file appends one line { path, names } to
//   .stryker-test-names.jsonl in the sandbox, for test-file-sequencer.js; a name is the full name that Jest's
//   --testNamePattern is matched against (describe titles and test title, space-separated).
// - A bail for mutant runs: once a test fails while Stryker has a mutant active, that mutant is killed, so the
//   test files after it in the same run skip their tests and hooks. (Jest's own `bail` exits the process, which
//   Stryker's in-process runner cannot have.) Stryker runs Jest in band, so one process sees all the test files.
import { appendFileSync } from 'node:fs';
import { join } from 'node:path';
import nodeEnvironment from 'jest-environment-node';

const NodeEnvironment = nodeEnvironment.TestEnvironment ?? nodeEnvironment.default ?? nodeEnvironment;

export const TEST_NAMES_FILE = '.stryker-test-names.jsonl';

const ACTIVE_MUTANT = '__STRYKER_ACTIVE_MUTANT__';
const KILLED = Symbol.for('latchkey.stryker.killedMutant'); // on the runner's global: shared by all test files

function skipAll(block) {
  block.mode = 'skip';
  for (const child of block.children) {
    if (child.type === 'describeBlock') skipAll(child);
    else if (child.type === 'test') child.mode = 'skip';
  }
}

function fullName(test) {
  const names = [test.name];
  for (let block = test.parent; block?.parent; block = block.parent) names.unshift(block.name);
  return names.join(' ');
}

export default class TestNamesEnvironment extends NodeEnvironment {
  #record;
  #file;
  #testPath;
  #names = new Set();

  constructor(config, context) {
    super(config, context);
    this.#record = !config.globalConfig.testNamePattern;
    this.#file = join(config.projectConfig.rootDir, TEST_NAMES_FILE);
    this.#testPath = context.testPath;
  }

  async handleTestEvent(event, state) {
    const mutant = process.env[ACTIVE_MUTANT];
    if (event.name === 'run_start' && mutant !== undefined && globalThis[KILLED] === mutant) {
      skipAll(state.rootDescribeBlock);
    } else if (event.name === 'test_start' && this.#record) {
      this.#names.add(fullName(event.test));
    } else if (event.name === 'test_done' && mutant !== undefined && event.test.errors.length > 0) {
      globalThis[KILLED] = mutant;
    }
  }

  async teardown() {
    if (this.#record && this.#names.size > 0) {
      appendFileSync(this.#file, JSON.stringify({ path: this.#testPath, names: [...this.#names] }) + '\n');
    }
    await super.teardown();
  }
}
