#!/usr/bin/python3
"""Reads an Atom feed with feedparser (Debian's python3-feedparser, the Universal Feed Parser
that many feed readers are built on) and prints what a reader gets from it, as one JSON object.

Usage: /usr/bin/python3 atom_reader.py URL
"""
import json
import sys

import feedparser


def main(url):
    parsed = feedparser.parse(url)
    print(json.dumps({
        'status': parsed.get('status'),
        'version': parsed.get('version'),
        'bozo': parsed.bozo,
        'bozo_exception': str(parsed.get('bozo_exception', '')),
        'feed': {
            'title': parsed.feed.get('title'),
            'id': parsed.feed.get('id'),
            'updated': parsed.feed.get('updated'),
            'links': [{'rel': link.get('rel'), 'href': link.get('href'), 'type': link.get('type')} for link in parsed.feed.get('links', [])],
        },
        'entries': [{
            'id': entry.get('id'),
            'title': entry.get('title'),
            'author': entry.get('author'),
            'author_href': entry.get('author_detail', {}).get('href'),
            'updated': entry.get('updated'),
            'updated_parsed': entry.get('updated_parsed') is not None,
            'links': [{'rel': link.get('rel'), 'href': link.get('href')} for link in entry.get('links', [])],
            'content': [content.get('value') for content in entry.get('content', [])],
        } for entry in parsed.entries],
    }))


if __name__ == '__main__':
    if len(sys.argv) != 2:
        print(__doc__, file=sys.stderr)
        sys.exit(2)
    main(sys.argv[1])
