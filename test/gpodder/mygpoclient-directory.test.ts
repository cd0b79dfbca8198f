/**
 * gpodder.net's podcast directory read by a real client: Debian's python3-mygpoclient's public
 * client (toplist, search, podcast data), driven by mygpo_directory_test.py over real HTTP. The
 * listeners it expects are written first (test/support/published-podcasts.ts): two publishing
 * listeners and a private one.
 * Without /usr/bin/python3 or the module this FAILS in CI and is SKIPPED elsewhere (see
 * real-client.ts).
 */
import { publishListeners } from '../support/published-podcasts.js';
import { describeRealClient } from './real-client.js';

describeRealClient(
  'gpodder API: the podcast directory with a real client (python3-mygpoclient)',
  'reads the toplist, a search and a podcast’s data through mygpoclient’s public client, without a private listener’s podcast',
  {
    name: 'mygpoclient',
    script: 'mygpo_directory_test.py',
    probe: 'import mygpoclient.public',
    install: 'apt-get install -y python3-mygpoclient',
    verboseEnv: 'MYGPO_VERBOSE',
    username: 'mygpo-directory',
    password: 'a long mygpo password',
    timeout: 60_000,
    prepare: publishListeners,
  },
);
