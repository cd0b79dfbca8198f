#!/usr/bin/python3
"""Drives a running podsync through mygpoclient, the gpodder.net client library gPodder uses.

Usage: /usr/bin/python3 mygpo_client_test.py BASE_URL USERNAME PASSWORD
   or: PODSYNC_URL=... PODSYNC_USER=... PODSYNC_PASSWORD=... /usr/bin/python3 mygpo_client_test.py

The account must exist and hold no data yet. Prints one line per check and exits 1 if any
check failed (2 on a usage error). Needs Debian's python3-mygpoclient.

What it covers: two devices; subscriptions both ways with `since`; 150+ episode actions both
ways, with the podcast filter (a device filter ignored) and duplicates; the late-upload case (an old action
uploaded after another device's sync still reaches it); the simple API in JSON, TXT and OPML;
settings and favorites; a wrong password; and many calls on one client object (mygpoclient
answers at most three Basic challenges per object, so they must run on the session cookie).
"""
import os
import xml.etree.ElementTree as ElementTree

from mygpoclient import api, http, json as myjson, util
from checks import Checks, run_main

FEEDS = ['https://feeds.example.com/show-%d.xml' % n for n in range(8)]
PHONE = 'phone-a'
LAPTOP = 'laptop.b'


def episode_url(feed_index, n):
    return 'https://cdn.example.com/show-%d/episode-%d.mp3' % (feed_index, n)


def actions_from(device, count, offset):
    """`count` actions of every type, plays with started/position/total, in 2026."""
    actions = []
    for n in range(count):
        feed = n % 4
        kind = ('play', 'download', 'play', 'delete', 'new')[n % 5]
        timestamp = '2026-01-%02dT%02d:%02d:00' % (1 + n % 28, n % 24, (n + offset) % 60)
        if kind == 'play':
            actions.append(api.EpisodeAction(FEEDS[feed], episode_url(feed, offset + n), 'play', device=device,
                                             timestamp=timestamp, started=0, position=30 + n, total=1800))
        else:
            actions.append(api.EpisodeAction(FEEDS[feed], episode_url(feed, offset + n), kind, device=device,
                                             timestamp=timestamp))
    return actions


def key(action):
    return (action.podcast, action.episode, action.action, action.device, action.timestamp,
            action.started, action.position, action.total)


def has_session_cookie(client):
    return any(cookie.name == 'sessionid' for cookie in client._client._cookie_jar)


def main(argv):
    if len(argv) == 4:
        base, username, password = argv[1:]
    else:
        base, username, password = (os.environ.get(name) for name in ('PODSYNC_URL', 'PODSYNC_USER', 'PODSYNC_PASSWORD'))
    if not (base and username and password):
        print(__doc__)
        return 2
    checks = Checks()
    phone = api.MygPodderClient(username, password, base)
    laptop = api.MygPodderClient(username, password, base)

    # ---- devices -------------------------------------------------------------------------
    checks.check('phone creates its device', phone.update_device_settings(PHONE, caption='Phone A', type='mobile'))
    checks.check('laptop creates its device', laptop.update_device_settings(LAPTOP, caption='Laptop B', type='laptop'))
    devices = {device.device_id: device for device in phone.get_devices()}
    checks.check('both devices are listed with caption and type',
                 devices.get(PHONE) is not None and devices[PHONE].caption == 'Phone A' and devices[PHONE].type == 'mobile'
                 and devices.get(LAPTOP) is not None and devices[LAPTOP].type == 'laptop', repr(devices))
    checks.check('a successful login left a sessionid cookie in the client', has_session_cookie(phone))

    # ---- subscriptions both ways, with since -----------------------------------------------
    start = laptop.pull_subscriptions(LAPTOP)
    checks.check('a new account has no subscriptions', start.add == [] and start.remove == [], repr(start.__dict__))
    uploaded = phone.update_subscriptions(PHONE, [FEEDS[0], FEEDS[1], '  %s ' % FEEDS[2]], [])
    checks.check('upload answers an integer since', isinstance(uploaded.since, int))
    checks.check('upload maps the untrimmed URL in update_urls', ('  %s ' % FEEDS[2], FEEDS[2]) in uploaded.update_urls,
                 repr(uploaded.update_urls))
    on_laptop = laptop.pull_subscriptions(LAPTOP, start.since)
    checks.check('laptop sees the phone’s subscriptions since its cursor',
                 sorted(on_laptop.add) == sorted(FEEDS[0:3]) and on_laptop.remove == [], repr(on_laptop.__dict__))
    back = laptop.update_subscriptions(LAPTOP, [FEEDS[3]], [FEEDS[0]])
    on_phone = phone.pull_subscriptions(PHONE, uploaded.since)
    # An upload's cursor reaches ten minutes back (another device may have written since the
    # uploader last read): the phone gets its own recent adds again, and the laptop's changes.
    checks.check('phone sees the laptop’s add and remove since its cursor (its own recent adds again)',
                 sorted(on_phone.add) == sorted(FEEDS[1:4]) and on_phone.remove == [FEEDS[0]], repr(on_phone.__dict__))
    checks.check('nothing new after the latest cursor', phone.pull_subscriptions(PHONE, on_phone.since).add == [])
    checks.check('cursors only grow', on_phone.since >= back.since >= uploaded.since)
    checks.raises('a URL both added and removed is a 400', http.BadRequest,
                  lambda: phone.update_subscriptions(PHONE, [FEEDS[5]], [FEEDS[5]]))
    rejected = phone.update_subscriptions(PHONE, ['ftp://example.com/feed'], [])
    checks.check('a non-http URL is rejected through update_urls', rejected.update_urls == [('ftp://example.com/feed', '')],
                 repr(rejected.update_urls))

    # ---- episode actions both ways (150+ each) ----------------------------------------------
    laptop_start = laptop.download_episode_actions(since=0)
    phone_actions = actions_from(PHONE, 160, 0)
    phone_since = phone.upload_episode_actions(phone_actions)
    checks.check('phone uploads 160 actions and gets an integer timestamp', isinstance(phone_since, int))
    got = laptop.download_episode_actions(since=laptop_start.since)
    checks.check('laptop downloads exactly the phone’s 160 actions, field for field',
                 sorted(map(key, got.actions)) == sorted(map(key, phone_actions)), '%d actions' % len(got.actions))
    checks.check('timestamps come back in gpodder format',
                 all(util.iso8601_to_datetime(action.timestamp) is not None and '+' not in action.timestamp for action in got.actions))
    checks.check('started/position/total only on play',
                 all(action.action == 'play' or (action.position is None and action.total is None) for action in got.actions))
    laptop_actions = actions_from(LAPTOP, 155, 500)
    laptop_since = laptop.upload_episode_actions(laptop_actions)
    got_back = phone.download_episode_actions(since=phone_since)
    got_keys = set(map(key, got_back.actions))
    checks.check('phone downloads all the laptop’s 155 actions since its upload (and its own recent ones again)',
                 set(map(key, laptop_actions)) <= got_keys <= set(map(key, laptop_actions + phone_actions))
                 and len(got_back.actions) == len(got_keys), '%d actions' % len(got_back.actions))
    by_podcast = phone.download_episode_actions(since=0, podcast=FEEDS[1])
    checks.check('the podcast filter returns that podcast’s actions only',
                 len(by_podcast.actions) == 40 + 39 and all(action.podcast == FEEDS[1] for action in by_podcast.actions),
                 '%d actions' % len(by_podcast.actions))
    # Ignored, as oPodSync does: Music Assistant names its own device and expects every device's
    # actions (docs/api.md, "Client quirks honoured").
    by_device = phone.download_episode_actions(since=0, device_id=LAPTOP)
    everything = phone.download_episode_actions(since=0)
    checks.check('a device filter is ignored: every device’s actions',
                 len(by_device.actions) == len(everything.actions) == 160 + 155
                 and {action.device for action in by_device.actions} == {PHONE, LAPTOP},
                 '%d actions' % len(by_device.actions))
    before_again = len(phone.download_episode_actions(since=0).actions)
    phone.upload_episode_actions(phone_actions[:50])
    after_again = phone.download_episode_actions(since=0).actions
    checks.check('re-uploading the same actions adds nothing',
                 len(after_again) == before_again == 160 + 155,
                 '%d before, %d after, %d distinct after' % (before_again, len(after_again), len(set(map(key, after_again)))))

    # ---- the late upload ---------------------------------------------------------------------
    cursor = laptop.download_episode_actions(since=got.since).since
    late = api.EpisodeAction(FEEDS[0], episode_url(0, 9999), 'play', device=PHONE, timestamp='2015-06-01T08:00:00',
                             started=0, position=600, total=1200)
    phone.upload_episode_actions([late])
    after = laptop.download_episode_actions(since=cursor)
    checks.check('an action from 2015 uploaded late reaches the laptop syncing from its 2026 cursor',
                 [key(action) for action in after.actions] == [key(late)], repr([a.to_dictionary() for a in after.actions]))

    # ---- the simple API: JSON, TXT, OPML ----------------------------------------------------
    checks.check('simple API: PUT JSON', phone.put_subscriptions(PHONE, [FEEDS[4], FEEDS[5]]))
    checks.check('simple API: GET JSON', sorted(phone.get_subscriptions(PHONE)) == [FEEDS[4], FEEDS[5]])
    raw = http.HttpClient(username, password)
    txt_uri = phone.locator.subscriptions_uri(PHONE, 'txt')
    raw.PUT(txt_uri, ('%s\n%s\n' % (FEEDS[5], FEEDS[6])).encode('utf-8'))
    txt = raw.GET(txt_uri).decode('utf-8').split()
    checks.check('simple API: PUT and GET TXT', sorted(txt) == [FEEDS[5], FEEDS[6]], repr(txt))
    opml_uri = phone.locator.subscriptions_uri(PHONE, 'opml')
    opml = ('<?xml version="1.0"?><opml version="2.0"><body><outline type="rss" text="Seven" xmlUrl="%s"/>'
            '<outline type="rss" xmlUrl="%s"/></body></opml>' % (FEEDS[7], FEEDS[6])).encode('utf-8')
    raw.PUT(opml_uri, opml)
    outlines = ElementTree.fromstring(raw.GET(opml_uri)).iter('outline')
    checks.check('simple API: PUT and GET OPML', sorted(o.get('xmlUrl') for o in outlines) == [FEEDS[6], FEEDS[7]])
    everything = myjson.JsonClient(username, password).GET(laptop.locator.subscriptions_uri(None, 'json'))
    checks.check('simple API: the account list (all devices)', sorted(everything) == [FEEDS[6], FEEDS[7]], repr(everything))
    changes = laptop.pull_subscriptions(LAPTOP, on_phone.since)
    checks.check('the laptop sees the simple API’s changes through the advanced API',
                 FEEDS[7] in changes.add and FEEDS[1] in changes.remove, repr(changes.__dict__))

    # ---- settings and favorites ---------------------------------------------------------------
    settings = phone.set_settings('account', None, None, {'theme': 'dark', 'volume': 7}, [])
    checks.check('settings: set answers the settings', settings == {'theme': 'dark', 'volume': 7}, repr(settings))
    checks.check('settings: podcast scope', phone.set_settings('podcast', FEEDS[6], None, {'speed': 1.5}, []) == {'speed': 1.5})
    checks.check('settings: read back', laptop.get_settings('account') == {'theme': 'dark', 'volume': 7})
    checks.check('favorites: a list of episodes', phone.get_favorite_episodes() == [])

    # ---- many calls on one client object, on the session cookie --------------------------------
    for n in range(60):
        phone.pull_subscriptions(PHONE, on_phone.since)
        phone.download_episode_actions(since=got_back.since)
    checks.check('120 more calls on one client object (mygpoclient answers only three challenges)', True)
    checks.check('the phone client still holds its session cookie', has_session_cookie(phone))

    # ---- a wrong password ---------------------------------------------------------------------
    checks.raises('a wrong password is Unauthorized', http.Unauthorized,
                  lambda: api.MygPodderClient(username, password + '-wrong', base).get_devices())

    return checks.summary()


if __name__ == '__main__':
    run_main(main)
