#!/usr/bin/python3
"""Drives a running podsync through the gPodder desktop app's own sync code (gpodder.my).

Usage: /usr/bin/python3 gpodder_app_test.py BASE_URL USERNAME PASSWORD
   or: PODSYNC_URL=... PODSYNC_USER=... PODSYNC_PASSWORD=... /usr/bin/python3 gpodder_app_test.py

The account must exist and hold no data yet. Prints one line per check and exits 1 if any
check failed (2 on a usage error). Needs Debian's gpodder (3.11) and python3-mygpoclient.

Two gPodder "installations" (devices A and B, each with its own GPODDER_HOME, gpodder.core.Core,
database and gpodder.my.MygPoClient) run in this one process; gpodder.set_home switches the
active one before each step, as if two copies of the app took turns. Feeds are served by a
small HTTP server on 127.0.0.1, so podcasts and episodes are gPodder's real model objects
(Model.load_podcast fetches and parses them) and no request leaves the machine; media URLs
are never fetched. The sync path is gPodder's unchanged: the GUI's calls (on_subscribe,
on_unsubscribe, on_playback, on_playback_full, on_download, on_delete, flush(now=True),
get_received_actions, confirm_received_actions, process_episode_actions, get_rewritten_urls,
get_devices, get_download_user_subscriptions_url, set_subscriptions), with MygPoClient's own
queue (minidb) and mygpoclient underneath. gPodder swallows sync errors (it logs them and
keeps the actions queued), so the checks also watch its log, its queue, and every HTTP answer
mygpoclient got.

What it covers: device creation; subscriptions both ways (A subscribes 3 feeds, B sees and
applies them; B unsubscribes one, A sees and applies the removal), also through the OPML the
GUI downloads and the whole list the GUI uploads; a playback start without position
(on_playback) and a later play from A uploaded and seen by B; plays with positions,
downloads, deletes from A reaching B with the right fields and merged into B's episodes; a
late upload (an action recorded by B two hours earlier, uploaded after A's last sync, still
reaches A); a media URL of 2,000 characters kept unchanged and not rewritten; and both
devices' queues empty after sync.
"""
import atexit
import json
import logging
import os
import shutil
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from xml.sax.saxutils import escape
from checks import Checks

FEED_COUNT = 3
EPISODES_PER_FEED = 4
# A media URL of 2,000 characters (the service keeps up to 2,048).
LONG_URL_PREFIX = 'https://cdn.example.com/show-1/long-episode.mp3?token='
LONG_URL = LONG_URL_PREFIX + ('abcdefghij' * 200)[:2000 - len(LONG_URL_PREFIX)]


# --- What mygpoclient sent and got back ------------------------------------------------------
# gPodder catches every sync error and only logs it, so a failed upload would otherwise show
# as nothing more than a non-empty queue. Every exchange is kept (mygpoclient's requests go
# through urllib's OpenerDirector; gPodder's feed fetches use requests and do not).

EXCHANGES = []
_open = urllib.request.OpenerDirector.open
_depth = threading.local()


class _Answer:
    """What mygpoclient reads from a response (it only calls read())."""

    def __init__(self, body):
        self._body = body

    def read(self):
        return self._body


def _recording_open(self, fullurl, data=None, timeout=None, **kwargs):
    if getattr(_depth, 'value', 0):  # a retry inside urllib (the Basic challenge): not recorded
        return _open(self, fullurl, data, timeout or 60, **kwargs)
    _depth.value = 1
    method = fullurl.get_method() if isinstance(fullurl, urllib.request.Request) else 'GET'
    url = fullurl.full_url if isinstance(fullurl, urllib.request.Request) else fullurl
    sent = fullurl.data if isinstance(fullurl, urllib.request.Request) else data
    try:
        response = _open(self, fullurl, data, timeout or 60, **kwargs)
        body = response.read()
        EXCHANGES.append({'method': method, 'url': url, 'sent': sent, 'status': response.status, 'body': body})
        return _Answer(body)
    except urllib.error.HTTPError as error:
        EXCHANGES.append({'method': method, 'url': url, 'sent': sent, 'status': error.code, 'body': error.read()})
        raise
    finally:
        _depth.value = 0


urllib.request.OpenerDirector.open = _recording_open


def describe(exchange):
    sent = exchange['sent']
    return '%s %s -> %s; sent %s; answered %s' % (
        exchange['method'], exchange['url'], exchange['status'],
        (sent or b'')[:600], (exchange['body'] or b'')[:600])


class LogRecords(logging.Handler):
    """gPodder's warnings and errors (a failed sync is only a log line there)."""

    def __init__(self):
        super().__init__(logging.WARNING)
        self.records = []

    def emit(self, record):
        self.records.append('%s %s: %s' % (record.levelname, record.name, record.getMessage()))


class TwoHoursBehind:
    """Stands in for the time module in gpodder.my: the clock of a device that recorded an
    action two hours ago (while offline)."""

    @staticmethod
    def time():
        return time.time() - 7200

    @staticmethod
    def sleep(seconds):
        time.sleep(seconds)


# --- Feeds --------------------------------------------------------------------------------


def episode_media_url(feed, n):
    return 'https://cdn.example.com/show-%d/episode-%d.mp3' % (feed, n)


def feed_xml(feed):
    items = []
    media = [episode_media_url(feed, n) for n in range(1, EPISODES_PER_FEED + 1)]
    if feed == 1:
        media.append(LONG_URL)
    for n, url in enumerate(media, start=1):
        items.append(
            '<item><title>Show %d, episode %d</title><guid>show-%d-episode-%d</guid>'
            '<pubDate>Mon, %02d Jan 2026 10:00:00 +0000</pubDate>'
            '<enclosure url="%s" type="audio/mpeg" length="1000000"/></item>'
            % (feed, n, feed, n, n, escape(url, {'"': '&quot;'})))
    return ('<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel>'
            '<title>Show %d</title><link>https://shows.example.com/%d</link>'
            '<description>Test feed %d</description>%s</channel></rss>'
            % (feed, feed, feed, ''.join(items))).encode('utf-8')


class FeedHandler(BaseHTTPRequestHandler):
    def do_GET(self):  # noqa: N802 - http.server's name
        try:
            feed = int(self.path.rsplit('-', 1)[1].split('.')[0])
            body = feed_xml(feed)
        except (IndexError, ValueError):
            self.send_error(404)
            return
        self.send_response(200)
        self.send_header('Content-Type', 'application/rss+xml')
        self.send_header('Content-Length', str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


# --- gPodder ------------------------------------------------------------------------------


def main():
    args = sys.argv[1:]
    if len(args) == 3:
        base_url, username, password = args
    elif not args and all(os.environ.get(k) for k in ('PODSYNC_URL', 'PODSYNC_USER', 'PODSYNC_PASSWORD')):
        base_url, username, password = (os.environ[k] for k in ('PODSYNC_URL', 'PODSYNC_USER', 'PODSYNC_PASSWORD'))
    else:
        print(__doc__.split('\n\n')[1], file=sys.stderr)
        return 2

    root = tempfile.mkdtemp(prefix='gpodder-app-test-')
    # Removed last: atexit runs handlers in reverse order, and gPodder's own (MygPoClient's
    # final flush, Config's save) are registered later and still write there.
    atexit.register(shutil.rmtree, root, True)
    # gPodder reads GPODDER_HOME when imported; the homes are switched with set_home below.
    os.environ['GPODDER_HOME'] = os.path.join(root, 'a')
    os.environ.pop('GPODDER_DOWNLOAD_DIR', None)
    return run(base_url.rstrip('/'), username, password, root)


def run(base_url, username, password, root):
    import gpodder
    gpodder.prefix = '/usr'  # where extensions are looked for (unset, Core cannot start)
    from gpodder import core, my, opml

    log = LogRecords()
    logging.getLogger('gpodder').addHandler(log)
    logging.getLogger('mygpoclient').addHandler(log)

    feeds_server = ThreadingHTTPServer(('127.0.0.1', 0), FeedHandler)
    threading.Thread(target=feeds_server.serve_forever, daemon=True).start()
    feed_base = 'http://127.0.0.1:%d' % feeds_server.server_address[1]
    feeds = ['%s/feeds/show-%d.xml' % (feed_base, n) for n in range(FEED_COUNT)]

    c = Checks()

    class Device:
        """One gPodder installation: its home, Core (database, model, config) and MygPoClient."""

        def __init__(self, uid, caption):
            self.uid = uid
            self.home = os.path.join(root, uid)
            self.activate()
            self.core = core.Core()
            self.config = self.core.config
            self.model = self.core.model
            # As gtkui/main.py does at start-up, with sync still disabled.
            self.client = my.MygPoClient(self.config)
            # As the preferences dialog does (each change goes through MygPoClient's config
            # observer), then on closing it: create_device() and flush(now=True).
            self.config.mygpo.server = base_url
            self.config.mygpo.username = username
            self.config.mygpo.password = password
            self.config.mygpo.device.uid = uid
            self.config.mygpo.device.caption = caption
            self.config.mygpo.enabled = True
            self.client.create_device()

        def activate(self):
            gpodder.set_home(self.home)

        def sync(self):
            """flush(now=True) (what the GUI runs at start-up and after the preferences) and
            wait for the worker thread it starts."""
            self.activate()
            before = set(threading.enumerate())
            start = len(EXCHANGES)
            self.client.flush(now=True)
            for thread in set(threading.enumerate()) - before:
                thread.join(60)
            return EXCHANGES[start:]

        def podcasts(self):
            return self.model.get_podcasts()

        def podcast(self, url):
            return next((p for p in self.podcasts() if p.url == url), None)

        def episode(self, podcast_url, episode_url):
            """gtkui/main.py's find_episode."""
            for podcast in self.podcasts():
                if podcast.url == podcast_url:
                    for episode in podcast.get_all_episodes():
                        if episode.url == episode_url:
                            return episode
            return None

        def subscribe(self, urls):
            """What gtkui's add_podcast_list does for new URLs: load (fetch, parse, save) each
            podcast, then tell gpodder.net."""
            self.activate()
            worked = []
            for url in urls:
                self.model.load_podcast(url=url, create=True, max_episodes=self.config.limit.episodes)
                worked.append(url)
            self.client.on_subscribe(worked)
            # gtkui's rewrite_urls_mygpo, right after on_subscribe.
            return self.client.get_rewritten_urls()

        def unsubscribe(self, podcasts):
            """What gtkui's remove_podcast_list does."""
            self.activate()
            for podcast in podcasts:
                podcast.remove_downloaded()
                podcast.delete()
            self.client.on_unsubscribe([p.url for p in podcasts])

        def apply_received_subscriptions(self):
            """gtkui's on_add_remove_podcasts_mygpo with every change accepted. Returns the
            received actions as (add|remove, url)."""
            self.activate()
            actions = self.client.get_received_actions()
            received = [('add' if a.is_add else 'remove', a.url) for a in actions]
            existing = [p.url for p in self.podcasts()]
            changes = [a for a in actions
                       if (a.is_add and a.url not in existing) or (a.is_remove and a.url in existing)]
            self.client.confirm_received_actions([a for a in actions if a not in changes])
            added = [a.url for a in changes if a.is_add]
            if added:
                self.subscribe(added)
            removed = [self.podcast(a.url) for a in changes if a.is_remove]
            if removed:
                self.unsubscribe(removed)
            self.client.confirm_received_actions(changes)
            return received

        def received_episode_actions(self):
            return self.client._store.load(my.ReceivedEpisodeAction)

        def merge_episode_actions(self):
            """gtkui's process_received_episode_actions."""
            self.activate()
            self.client.process_episode_actions(self.episode)
            self.core.db.commit()

        def queued(self):
            """gPodder's queue of actions not yet on the server."""
            store = self.client._store
            return (store.load(my.UpdateDeviceAction) + store.load(my.SubscribeAction)
                    + store.load(my.EpisodeAction))

    def errors_in(exchanges):
        return [describe(e) for e in exchanges if not 200 <= e['status'] < 300]

    def first(errors, count=2):
        return '%d, the first: %s' % (len(errors), '\n  '.join(errors[:count])) if errors else 'none'

    def pending(device):
        return [(type(q).__name__, getattr(q, 'url', None) or getattr(q, 'episode_url', None) or q.device_id)
                for q in device.queued()]

    def check_synced(name, device, exchanges, expect=()):
        """One sync: every answer 2xx, the expected calls made, nothing left queued."""
        paths = ['%s %s' % (e['method'], e['url'][len(base_url):].split('?')[0]) for e in exchanges]
        missing = [p for p in expect if not any(p in made for made in paths)]
        errors = errors_in(exchanges)
        queued = pending(device)
        c.check('%s: every request answered 2xx, nothing left in gPodder\'s queue' % name,
                not errors and not missing and not queued,
                '\n  errors: %s\n  expected calls missing: %s (made %s)\n  queued: %s\n  gPodder log: %s' % (
                    first(errors), missing, paths, queued, log.records[-3:]))

    def uploaded_actions(exchanges):
        actions = []
        for e in exchanges:
            if e['method'] == 'POST' and '/episodes/' in e['url']:
                actions += json.loads(e['sent'])
        return actions

    def as_tuple(action):
        return (action.podcast_url, action.episode_url, action.device_id, action.action,
                action.timestamp, action.started, action.position, action.total)

    started_at = time.time()
    a = Device('gpodder-desktop-a', 'gPodder on desktop A')
    b = Device('gpodder-laptop-b', 'gPodder on laptop B')

    # 1. Devices: the preferences dialog's create_device + flush(now=True).
    check_synced('A: device created', a, a.sync(), ['POST /api/2/devices/'])
    check_synced('B: device created', b, b.sync(), ['POST /api/2/devices/'])
    devices = dict((d[0], d) for d in a.client.get_devices())
    c.check('get_devices lists both devices with caption and type',
            devices.get(a.uid) == (a.uid, 'gPodder on desktop A', a.config.mygpo.device.type)
            and devices.get(b.uid) == (b.uid, 'gPodder on laptop B', b.config.mygpo.device.type), repr(devices))

    # 2. A subscribes to three feeds; B receives and applies them.
    rewritten = a.subscribe(feeds)
    c.check('A subscribed to 3 real podcasts (feeds fetched and parsed)',
            sorted(p.url for p in a.podcasts()) == sorted(feeds)
            and all(len(p.get_all_episodes()) >= EPISODES_PER_FEED for p in a.podcasts()),
            repr([(p.url, len(p.get_all_episodes())) for p in a.podcasts()]))
    check_synced('A: subscriptions uploaded', a, a.sync(), ['POST /api/2/subscriptions/'])
    c.check('A: no subscription URL rewritten', not rewritten and not a.client.get_rewritten_urls())
    check_synced('B: synced', b, b.sync(), ['GET /api/2/subscriptions/'])
    received = b.apply_received_subscriptions()
    c.check('B received the 3 subscriptions as add actions',
            sorted(received) == sorted(('add', f) for f in feeds), repr(received))
    c.check('B now has the 3 podcasts', sorted(p.url for p in b.podcasts()) == sorted(feeds))
    check_synced('B: synced after applying', b, b.sync())
    b.activate()
    opml_feeds = [item['url'] for item in opml.Importer(b.client.get_download_user_subscriptions_url()).items]
    c.check('the OPML the GUI downloads (get_download_user_subscriptions_url) lists the 3 feeds',
            sorted(opml_feeds) == sorted(feeds), repr(opml_feeds))

    # 3. B unsubscribes from one; A receives and applies the removal.
    b.unsubscribe([b.podcast(feeds[2])])
    check_synced('B: unsubscription uploaded', b, b.sync(), ['POST /api/2/subscriptions/'])
    check_synced('A: synced', a, a.sync(), ['GET /api/2/subscriptions/'])
    received = a.apply_received_subscriptions()
    c.check('A received the removal and no other',
            [r for r in received if r[0] == 'remove'] == [('remove', feeds[2])], repr(received))
    c.check('A now has the other 2 podcasts', sorted(p.url for p in a.podcasts()) == sorted(feeds[:2]),
            repr([p.url for p in a.podcasts()]))
    check_synced('A: synced after applying', a, a.sync())
    # The GUI's "Upload subscriptions" (on_send_full_subscriptions): A's whole list, replacing
    # the server's, which already is that list.
    first_exchange = len(EXCHANGES)
    a.client.set_subscriptions([p.url for p in a.podcasts()])
    put = EXCHANGES[first_exchange:]
    c.check('A uploaded its whole subscription list (set_subscriptions)',
            put and put[-1]['method'] == 'PUT' and not errors_in(put), first(errors_in(put)))
    check_synced('B: synced', b, b.sync(), ['GET /api/2/subscriptions/'])
    b_before = sorted(p.url for p in b.podcasts())
    received = b.apply_received_subscriptions()
    # Changes recorded within the last ten minutes may be delivered again (an upload's cursor
    # reaches back that far); the GUI applies only those that change something.
    c.check('B receives no subscription change it has not already made (A re-sent the removal it applied and its whole list)',
            sorted(p.url for p in b.podcasts()) == b_before
            and all((kind == 'add') == (url in b_before) for kind, url in received), repr(received))

    # 4. A playback start without a position (what the GUI reports when the player starts),
    #    then a later play with positions of the same episode.
    a.activate()
    started = a.episode(feeds[0], episode_media_url(0, 1))
    started.playback_mark()
    a.client.on_playback([started])
    queued_start = [as_tuple(q) for q in a.client._store.load(my.EpisodeAction)]
    exchanges = a.sync()
    check_synced('A: playback start without position uploaded', a, exchanges, ['POST /api/2/episodes/'])
    sent = uploaded_actions(exchanges)
    c.check('A sent it as a play without started/position/total',
            len(sent) == 1 and sent[0].get('action') == 'play'
            and not any(k in sent[0] for k in ('started', 'position', 'total')), repr(sent))
    time.sleep(1.1)  # gPodder's timestamps are whole seconds: a later action, a later second
    a.client.on_playback_full(started, 0, 95, 1800)
    queued_later = [as_tuple(q) for q in a.client._store.load(my.EpisodeAction)]
    check_synced('A: later play uploaded after the playback start', a, a.sync(), ['POST /api/2/episodes/'])
    check_synced('B: synced', b, b.sync(), ['GET /api/2/episodes/'])
    got = [as_tuple(r) for r in b.received_episode_actions()]
    # Served, a play without a position would reset the position on AntennaPod (it reads a
    # missing position as -1 s): the server keeps it but leaves it out of answers.
    c.check('B did not receive the playback start (a play without a position is never served)',
            queued_start and queued_start[0] not in got and len(got) == 1, 'sent %r, got %r' % (queued_start, got))
    c.check('B received the later play with started 0, position 95, total 1800',
            queued_later and queued_later[0] in got and queued_later[0][5:] == (0, 95, 1800),
            'sent %r, got %r' % (queued_later, got))
    b.merge_episode_actions()
    on_b = b.episode(feeds[0], episode_media_url(0, 1))
    c.check("B's episode merged: played, position 95 of 1800",
            on_b is not None and not on_b.is_new and on_b.current_position == 95 and on_b.total_time == 1800,
            on_b and repr((on_b.is_new, on_b.current_position, on_b.total_time)))
    c.check('B has nothing left to merge', not b.received_episode_actions())

    # 5. Plays with positions, downloads, deletes and a ~2,000-character media URL from A.
    a.activate()
    played = a.episode(feeds[0], episode_media_url(0, 2))
    downloaded = a.episode(feeds[1], episode_media_url(1, 1))
    deleted = a.episode(feeds[1], episode_media_url(1, 2))
    long_one = a.episode(feeds[1], LONG_URL)
    c.check('A parsed the long media URL unchanged from its feed', long_one is not None and len(LONG_URL) == 2000,
            repr([len(e.url) for e in a.podcast(feeds[1]).get_all_episodes()]))
    a.client.on_playback_full(played, 30, 600, 2400)
    a.client.on_download([downloaded, long_one])
    a.client.on_delete([deleted])
    a.client.on_playback_full(long_one, 0, 42, 3000)
    queued = sorted(as_tuple(q) for q in a.client._store.load(my.EpisodeAction))
    c.check('A queued 5 actions', len(queued) == 5, repr(queued))
    exchanges = a.sync()
    check_synced('A: plays, downloads, deletes and the long URL uploaded', a, exchanges, ['POST /api/2/episodes/'])
    answers = [json.loads(e['body']) for e in exchanges
               if e['method'] == 'POST' and '/episodes/' in e['url'] and e['status'] == 200]
    rewrites = [pair for answer in answers for pair in answer.get('update_urls', [])]
    c.check('the upload answer rewrote no URL (update_urls empty)', answers and not rewrites, repr(rewrites))
    c.check('A: get_rewritten_urls() is empty', not a.client.get_rewritten_urls())
    check_synced('B: synced', b, b.sync(), ['GET /api/2/episodes/'])
    got = sorted(as_tuple(r) for r in b.received_episode_actions())
    c.check('B received the 5 actions with every field as A queued them', got == queued,
            '\n  sent %r\n  got  %r' % (queued, got))
    long_received = [r for r in b.received_episode_actions() if r.episode_url.startswith(LONG_URL_PREFIX)]
    c.check('B received the long media URL unchanged (2,000 characters)',
            len(long_received) == 2 and all(r.episode_url == LONG_URL for r in long_received),
            repr([len(r.episode_url) for r in long_received]))
    b.merge_episode_actions()
    b_played = b.episode(feeds[0], episode_media_url(0, 2))
    b_deleted = b.episode(feeds[1], episode_media_url(1, 2))
    b_long = b.episode(feeds[1], LONG_URL)
    c.check("B's episodes merged: played at 600 of 2400",
            not b_played.is_new and b_played.current_position == 600 and b_played.total_time == 2400,
            repr((b_played.is_new, b_played.current_position, b_played.total_time)))
    c.check("B's episodes merged: the deleted one marked deleted", b_deleted.state == gpodder.STATE_DELETED,
            repr(b_deleted.state))
    c.check("B's episodes merged: the long-URL one found and played at 42 of 3000",
            b_long is not None and not b_long.is_new and b_long.current_position == 42 and b_long.total_time == 3000,
            b_long and repr((b_long.is_new, b_long.current_position, b_long.total_time)))

    # 6. Late upload: B played an episode two hours ago while offline (queued, not sent);
    #    A syncs; then B comes online and uploads; A's next sync still gets it.
    b.activate()
    late_episode = b.episode(feeds[0], episode_media_url(0, 3))
    clock, my.time = my.time, TwoHoursBehind
    try:
        b.client.on_playback_full(late_episode, 10, 1234, 2000)
    finally:
        my.time = clock
    late = [as_tuple(q) for q in b.client._store.load(my.EpisodeAction)]
    check_synced('A: synced before the late upload', a, a.sync(), ['GET /api/2/episodes/'])
    a.merge_episode_actions()
    c.check('the late action is two hours older than A\'s last sync',
            late and late[0][4] < time.time() - 7000, repr(late))
    check_synced('B: late action uploaded', b, b.sync(), ['POST /api/2/episodes/'])
    check_synced('A: synced after the late upload', a, a.sync(), ['GET /api/2/episodes/'])
    got = [as_tuple(r) for r in a.received_episode_actions()]
    c.check('A received the late action with its old timestamp', late and got == late, 'sent %r, got %r' % (late, got))
    a.merge_episode_actions()
    a_late = a.episode(feeds[0], episode_media_url(0, 3))
    c.check("A's episode merged: played at 1234 of 2000",
            not a_late.is_new and a_late.current_position == 1234 and a_late.total_time == 2000,
            repr((a_late.is_new, a_late.current_position, a_late.total_time)))

    # 7. Nothing left behind. Downloads come before uploads in a sync and carry every
    #    device's actions (as on gpodder.net), so B's last sync brings back its own late play.
    check_synced('A: final sync', a, a.sync())
    check_synced('B: final sync', b, b.sync())
    c.check('A received nothing new', not a.received_episode_actions(),
            repr([as_tuple(r) for r in a.received_episode_actions()]))
    got = [as_tuple(r) for r in b.received_episode_actions()]
    c.check('B received only its own late play back', got == late, repr(got))
    a.merge_episode_actions()
    b.merge_episode_actions()
    c.check("A's queue of pending actions is empty", not a.queued(), repr(pending(a)))
    c.check("B's queue of pending actions is empty", not b.queued(), repr(pending(b)))
    failures = errors_in(EXCHANGES)
    c.check('every request gPodder made (%d) was answered 2xx' % len(EXCHANGES), not failures, first(failures, 3))
    sync_errors = [r for r in log.records if r.startswith('ERROR') or 'Disabling' in r]
    c.check('gPodder logged no sync error', not sync_errors, first(sync_errors, 3))
    c.check('sync still enabled on both devices', a.config.mygpo.enabled and b.config.mygpo.enabled)

    for device in (a, b):
        device.activate()
        device.core.shutdown()
    feeds_server.shutdown()
    print('%d requests to the service in %.1f s' % (len(EXCHANGES), time.time() - started_at))
    return c.summary()


if __name__ == '__main__':
    sys.exit(main())
