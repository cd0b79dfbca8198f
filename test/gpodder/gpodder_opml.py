"""gPodder's own OPML code (gpodder.opml, Debian's gpodder) for test/gpodder/gpodder-opml.test.ts.

  gpodder_opml.py export FILE   reads channels as JSON on stdin ([{url, title, description}]),
                                writes them to FILE with gpodder.opml.Exporter, as gPodder's
                                "Export to OPML" does
  gpodder_opml.py import FILE   reads FILE with gpodder.opml.Importer, as gPodder's "Import from
                                OPML" does, and prints its items as JSON
"""
import json
import sys
from types import SimpleNamespace

import gpodder

gpodder.prefix = '/usr'
import gpodder.opml  # noqa: E402 (after the prefix, as gPodder sets it up)


def main(command, path):
    if command == 'export':
        channels = [SimpleNamespace(**channel) for channel in json.load(sys.stdin)]
        if not gpodder.opml.Exporter(path).write(channels):
            sys.exit('gpodder.opml.Exporter could not write %s' % path)
    elif command == 'import':
        print(json.dumps(gpodder.opml.Importer(path).items))
    else:
        sys.exit('usage: gpodder_opml.py export|import FILE')


if __name__ == '__main__':
    main(*sys.argv[1:3])
