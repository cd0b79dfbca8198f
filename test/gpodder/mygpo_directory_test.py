#!/usr/bin/python3
"""Reads a running podsync's podcast directory through mygpoclient's public client.

Usage: /usr/bin/python3 mygpo_directory_test.py BASE_URL USERNAME PASSWORD

The server must publish (public and anonymous listeners' plays) SHOW, played by two listeners,
and OTHER, played by one, and hold PRIVATE, played by a private listener only (the mocha side
writes them: test/support/published-podcasts.ts). Prints one line per check and exits 1 if any
check failed. Needs Debian's python3-mygpoclient.
"""

from mygpoclient import http, public
from checks import Checks, run_main

SHOW = 'https://feeds.example.com/rust-weekly.xml'
OTHER = 'https://feeds.example.com/garden-hour.xml'
PRIVATE = 'https://feeds.example.com/very-private-matters.xml'


def main(argv):
    if len(argv) != 4:
        print(__doc__)
        return 2
    base = argv[1]
    checks = Checks()
    client = public.PublicClient(root_url=base)

    toplist = client.get_toplist(10)
    checks.check('the toplist lists the published podcasts, most played first',
                 [podcast.url for podcast in toplist] == [SHOW, OTHER], repr([podcast.url for podcast in toplist]))
    checks.check('with their titles and listener counts',
                 (toplist[0].title, toplist[0].subscribers, toplist[1].subscribers) == ('Rust Weekly', 2, 1),
                 repr([podcast.__dict__ for podcast in toplist]))
    checks.check('each with a link to its page on this server',
                 toplist[0].mygpo_link.startswith(base + '/podcast?feed='), toplist[0].mygpo_link)
    checks.check('a toplist of one', [podcast.url for podcast in client.get_toplist(1)] == [SHOW])

    found = client.search_podcasts('garden hour')
    checks.check('a search finds a podcast by the words of its title', [podcast.url for podcast in found] == [OTHER],
                 repr([podcast.url for podcast in found]))
    checks.check('a private listener’s podcast is not found', client.search_podcasts('private matters') == [])

    data = client.get_podcast_data(SHOW)
    checks.check('one podcast’s data', (data.url, data.title, data.subscribers) == (SHOW, 'Rust Weekly', 2), repr(data.__dict__))
    checks.raises('a podcast only a private listener played is Not Found', http.NotFound,
                  lambda: client.get_podcast_data(PRIVATE))
    return checks.summary()


if __name__ == '__main__':
    run_main(main)
