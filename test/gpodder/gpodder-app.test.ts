/**
 * The gPodder desktop app's own sync code against the running service: Debian's gpodder
 * (gpodder.my.MygPoClient over python3-mygpoclient, with gPodder's real Core, database and
 * model), driven by gpodder_app_test.py as two devices over real HTTP on an ephemeral port, with
 * the service under a path (BASE_PATH=/podsync, the server URL in gPodder's preferences with it;
 * mygpoclient.test.ts runs at the root).
 * Without /usr/bin/python3 or the packages this FAILS in CI (`.ci/run` installs them) and is
 * SKIPPED, saying so, elsewhere (see real-client.ts).
 */
import { describeRealClient } from './real-client.js';

describeRealClient(
  'gpodder API with the real gPodder app (gpodder.my), served under a path',
  "syncs two gPodder devices through the app's sync code: subscriptions both ways, playback start without position, plays/downloads/deletes, late upload, a 2,000-character media URL, empty queues",
  {
    name: 'gPodder',
    script: 'gpodder_app_test.py',
    probe: "import gpodder; gpodder.prefix = '/usr'; import gpodder.core, gpodder.my",
    install: 'apt-get install -y --no-install-recommends python3-mygpoclient gpodder',
    verboseEnv: 'GPODDER_VERBOSE',
    username: 'gpodder-app-user',
    password: 'a long gpodder password',
    timeout: 120_000,
    basePath: '/podsync',
  },
);
