/**
 * A real gpodder client against the running service: Debian's python3-mygpoclient (the
 * library gPodder itself uses), driven by mygpo_client_test.py over real HTTP on an ephemeral
 * port. Without /usr/bin/python3 or the module this FAILS in CI (`.ci/run` installs it) and is
 * SKIPPED, saying so, elsewhere (see real-client.ts).
 */
import { describeRealClient } from './real-client.js';

describeRealClient(
  'gpodder API with a real client (python3-mygpoclient)',
  'syncs two devices through mygpoclient: subscriptions, 150+ episode actions each way, simple API, late uploads, one long-lived client',
  {
    name: 'mygpoclient',
    script: 'mygpo_client_test.py',
    probe: 'import mygpoclient.api',
    install: 'apt-get install -y python3-mygpoclient',
    verboseEnv: 'MYGPO_VERBOSE',
    username: 'mygpo-user',
    password: 'a long mygpo password',
    timeout: 150_000,
  },
);
