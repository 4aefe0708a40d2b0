// `npm start` itself, as a developer runs it, through the bad minutes: its local database is killed (the terminal
// says so, sign-ins answer a 503 page within 3 s, the database comes back by itself and sign-ins work again); a
// second `npm start` sharing that database works again without a restart, and takes the database over when the
// first one stops; `npm run demo -- --info` prints the banner again.
import { afterAll, beforeAll, expect, it } from '@jest/globals';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { connect, createServer, type Server } from 'node:net';
import { once } from 'node:events';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { freePort } from '../helpers/ports.ts';
import * as client from 'openid-client';
import { Browser, findForm, messageIds } from '../helpers/browser.ts';
import { waitFor } from '../helpers/recovery.ts';
import { authorizationUrl, openLoginPage, submitLogin } from '../helpers/rp.ts';
import { DEMO, demoRpUris } from '../../scripts/start.ts';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const REDIRECT_URI = demoRpUris(`http://localhost:${DEMO.rpPort}`).redirectUri;

/** A running `npm start` and everything it printed. */
class Terminal {
  output = '';
  readonly exited: Promise<number | null>;
  readonly child: ChildProcess;
  constructor(child: ChildProcess) {
    this.child = child;
    child.stdout!.setEncoding('utf8').on('data', (chunk: string) => (this.output += chunk));
    child.stderr!.setEncoding('utf8').on('data', (chunk: string) => (this.output += chunk));
    this.exited = new Promise((resolve) => child.once('exit', (code) => resolve(code)));
  }
  said(pattern: RegExp, what: string, timeoutMs = 60_000): Promise<RegExpMatchArray> {
    return waitFor(() => pattern.exec(this.output) ?? undefined, `${what}; the terminal says:\n${this.output}`, timeoutMs);
  }
  /** Ctrl-C, as a person stops it (to the whole process group: npm, node and the database it started). */
  async stop(): Promise<void> {
    if (this.child.exitCode !== null || this.child.signalCode !== null) return;
    process.kill(-this.child.pid!, 'SIGINT');
    const timer = setTimeout(() => process.kill(-this.child.pid!, 'SIGKILL'), 15_000);
    await this.exited;
    clearTimeout(timer);
  }
}

let dataDir: string;
const terminals: Terminal[] = [];

function env(port: number): NodeJS.ProcessEnv {
  const { MONGODB_URI: _ignored, ISSUER: _issuer, ...rest } = process.env;
  return { ...rest, NODE_ENV: 'development', PORT: String(port), LOCAL_DB_DIR: dataDir, LOG_FORMAT: 'pretty' };
}

function npmStart(port: number, extraEnv: NodeJS.ProcessEnv = {}): Terminal {
  const terminal = new Terminal(spawn('npm', ['start'], { cwd: ROOT, env: { ...env(port), ...extraEnv }, detached: true, stdio: ['ignore', 'pipe', 'pipe'] }));
  terminals.push(terminal);
  return terminal;
}

/** Listens on `port` (refusing every connection) as soon as the killed database has let go of it. */
async function holdPort(port: number): Promise<Server> {
  const deadline = Date.now() + 5000;
  for (;;) {
    const holder = createServer((socket) => socket.destroy());
    const error = await new Promise<Error | undefined>((resolve) => {
      holder.once('error', resolve);
      holder.listen(port, '127.0.0.1', () => resolve(undefined));
    });
    if (!error) return holder;
    if (Date.now() > deadline) throw error;
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

/** The FerretDB process the owner of the data folder started (its child). */
function ferretDbPid(): number {
  const owner = Number(readFileSync(join(dataDir, 'owner.lock'), 'utf8'));
  const children = readFileSync(`/proc/${owner}/task/${owner}/children`, 'utf8').trim().split(/\s+/).map(Number);
  const pid = children.find((child) => readFileSync(`/proc/${child}/comm`, 'utf8').trim() === 'ferretdb');
  if (!pid) throw new Error(`no FerretDB among the children of ${owner}`);
  return pid;
}

/** A full sign-in of the demo user at the instance on `port`, to the tokens. */
async function signIn(port: number, clientSecret: string): Promise<void> {
  const config = await client.discovery(new URL(`http://localhost:${port}/oidc`), DEMO.clientId, clientSecret, undefined, { execute: [client.allowInsecureRequests] });
  const start = await authorizationUrl(config, REDIRECT_URI);
  const browser = new Browser();
  let page = await browser.follow(await submitLogin(browser, await openLoginPage(browser, start.url), DEMO.username, DEMO.password), REDIRECT_URI);
  if (!page.url.startsWith(REDIRECT_URI)) {
    const consent = findForm(page, '/confirm');
    page = await browser.follow(await browser.post(consent.action, consent.fields), REDIRECT_URI);
  }
  const callback = new URL(page.url);
  const tokens = await client.authorizationCodeGrant(config, callback, { pkceCodeVerifier: start.verifier, expectedState: start.state, expectedNonce: start.nonce });
  expect(tokens.claims()?.preferred_username ?? tokens.claims()?.sub).toBeTruthy();
}

beforeAll(() => {
  dataDir = mkdtempSync(join(tmpdir(), 'latchkey-start-'));
});
afterAll(async () => {
  for (const terminal of terminals) await terminal.stop();
  rmSync(dataDir, { recursive: true, force: true });
});

it('says when its database dies, answers 503 meanwhile, brings it back, and a second instance lives on', async () => {
  const [portA, portB] = [await freePort(), await freePort()];
  const first = npmStart(portA, { SHUTDOWN_GRACE_MS: '60000' });
  const secret = (await first.said(/client_secret (\S+)/, 'the first start to print the new demo client'))[1]!;
  await first.said(/Ctrl-C stops it/, 'the banner');
  const second = npmStart(portB);
  await second.said(/Ctrl-C stops it/, 'the second start to be up');
  await signIn(portA, secret);
  await signIn(portB, secret);

  // A sign-in page is open when the database dies; the port is held for a moment so the outage can be seen.
  const config = await client.discovery(new URL(`http://localhost:${portA}/oidc`), DEMO.clientId, secret, undefined, { execute: [client.allowInsecureRequests] });
  const browser = new Browser();
  const loginPage = await openLoginPage(browser, (await authorizationUrl(config, REDIRECT_URI)).url);
  const dbPort = Number(new URL(readFileSync(join(dataDir, 'uri'), 'utf8').trim()).port);
  process.kill(ferretDbPid(), 'SIGKILL');
  const holder = await holdPort(dbPort);
  try {
    await first.said(/local database stopped \(SIGKILL\); restarting it/, 'the terminal to say the database stopped', 10_000);
    const started = Date.now();
    const page = await submitLogin(browser, loginPage, DEMO.username, DEMO.password);
    expect(Date.now() - started).toBeLessThan(8000); // the 2 s server selection, not the driver's 30 s, with room for a loaded machine
    expect(page.status).toBe(503);
    expect(messageIds(page)).toContain('error.database_unavailable');
    expect(messageIds(page)).toContain('error.support_code');
  } finally {
    await new Promise((resolve) => holder.close(resolve));
  }
  await first.said(/local database is back/, 'the database to come back', 60_000);
  await signIn(portA, secret);
  await signIn(portB, secret); // the second instance reconnected by itself

  // The first instance stops (and its database with it): the second takes the database over, on the same port.
  // A browser's connection opened ahead of need (no request on it yet) does not hold the stop up for the grace
  // period (a minute here), and Ctrl-C reaching the database too reads as no crash: nothing is restarted.
  const preconnected = connect(portA, '127.0.0.1');
  await once(preconnected, 'connect');
  await first.stop();
  preconnected.destroy();
  expect(first.output).toContain('latchkey stopped');
  expect(first.output.match(/restarting it/g)).toHaveLength(1); // the SIGKILL's, above
  await second.said(/owner has gone; this process runs the database now/, 'the second instance to take the database over', 30_000);
  await signIn(portB, secret);

  // The banner again, from what is running.
  const info = spawnSync('npm', ['run', '--silent', 'demo', '--', '--info'], { cwd: ROOT, env: env(portB), encoding: 'utf8', timeout: 30_000 });
  expect(info.status).toBe(0);
  expect(info.stdout).toContain(`Issuer:     http://localhost:${portB}/oidc`);
  expect(info.stdout).toContain(`password ${DEMO.password}`);
  expect(info.stdout).toContain('Ctrl-C in the terminal that started it stops it.'); // it runs nothing itself
  expect(info.stdout).not.toContain(secret);
  const nothing = spawnSync('npm', ['run', '--silent', 'demo', '--', '--info'], { cwd: ROOT, env: env(portA), encoding: 'utf8', timeout: 30_000 });
  expect(nothing.status).toBe(1);
  expect(nothing.stderr).toContain(`Latchkey is not running at http://localhost:${portA}/oidc`);

  await second.stop();
  expect(existsSync(join(dataDir, 'owner.lock'))).toBe(false);
}, 240_000);
