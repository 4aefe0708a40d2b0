// `npm run demo`: what `npm start` starts (Latchkey, the local database, the demo client and user), plus the demo
// relying party (scripts/demo-rp.ts) at http://localhost:3001, so signing in can be tried end to end in a browser.
//
//   PORT           Latchkey's port (3000); the default issuer follows it
//   DEMO_RP_PORT   the demo app's port (3001); the demo client's redirect URIs follow it
//
// `npm run demo -- --info` starts nothing and prints the banner (URLs, demo credentials) of what is running.
import { stopOnSignals } from '../src/main.ts';
import { startDemoRp } from './demo-rp.ts';
import { demoInfo } from './demo-info.ts';
import { assertPortFree, demoRpOrigin, demoRpPort, exitWithError, seedDemo, startLatchkey, StartError, welcomeText } from './start.ts';

if (process.argv.includes('--info')) {
  try {
    console.log(await demoInfo());
  } catch (error) {
    exitWithError(error);
  }
  process.exit(0);
}

try {
  const demoApp = { port: demoRpPort(), origin: demoRpOrigin() };
  if ((process.env.NODE_ENV ?? 'development') !== 'development') {
    throw new StartError('npm run demo is for development only (it creates a demo user with a published password).');
  }
  if (process.env.MONGODB_URI) {
    // The demo user's password is printed in the README: it must never reach a database anyone else relies on.
    throw new StartError(
      'npm run demo seeds a demo user whose password is public, so it runs only on the local development database: ' +
        'unset MONGODB_URI (or use `npm start`, which seeds nothing on your own database unless DEMO_SEED=true).',
    );
  }
  // Checked before anything starts, so a busy port does not leave Latchkey and its database half started.
  await assertPortFree('127.0.0.1', demoApp.port, 'DEMO_RP_PORT');
  const started = await startLatchkey();
  try {
    const seed = await seedDemo(started.running, demoApp.origin, started.config);
    // The demo client's secret is read back from the database: it was printed only when it was created.
    const rp = await startDemoRp({
      issuer: started.config.issuer,
      clientId: seed.clientId,
      clientSecret: seed.clientSecret,
      origin: demoApp.origin,
      port: demoApp.port,
    });
    stopOnSignals({ ...started.running, stop: () => rp.stop().finally(started.stop) }, started.log);
    console.log(welcomeText(started.config, seed, { url: demoApp.origin, running: true }));
  } catch (error) {
    await started.stop();
    throw error;
  }
} catch (error) {
  exitWithError(error);
}
