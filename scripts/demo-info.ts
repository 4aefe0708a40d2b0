// `npm run demo -- --info`: prints the start-up banner again (where Latchkey and the demo app are, the demo user's
// credentials), for whoever has lost it in the terminal's scrollback. It starts nothing: it asks the running
// Latchkey (at the issuer this shell's settings name) and the demo app whether they answer.
import { ConfigError, loadConfig } from '../config/index.ts';
import { demoRpOrigin, DEMO, StartError, welcomeText } from './start.ts';

async function answers(url: string): Promise<boolean> {
  try {
    const response = await fetch(url, { signal: AbortSignal.timeout(2000), redirect: 'manual' });
    await response.body?.cancel();
    return response.status < 500;
  } catch {
    return false;
  }
}

/** The banner text, or a StartError saying how to start Latchkey when nothing answers at the issuer. */
export async function demoInfo(env: NodeJS.ProcessEnv = process.env): Promise<string> {
  let config;
  try {
    config = loadConfig(env);
  } catch (error) {
    if (error instanceof ConfigError) throw new StartError(error.message);
    throw error;
  }
  if (!(await answers(`${config.issuer}/.well-known/openid-configuration`))) {
    throw new StartError(`Latchkey is not running at ${config.issuer}: \`npm run demo\` starts it with the demo app, \`npm start\` without.`);
  }
  const url = demoRpOrigin(env);
  // The same rule as at start: the demo user and client exist on the local development database (or when asked).
  const seeded = config.env === 'development' && (!env.MONGODB_URI || env.DEMO_SEED === 'true');
  const seed = seeded ? { clientId: DEMO.clientId, clientSecret: '', createdClient: false, createdUser: false } : undefined;
  return welcomeText(config, seed, { url, running: await answers(`${url}/`) }, { reprint: true });
}
