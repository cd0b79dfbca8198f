/** The listener's home: subscriptions, recent listening, playlists, devices; and forgetting a device. */
import { z } from 'zod';
import { gpodderDeviceId } from '../domain/gpodder.js';
import type { ListenerService } from '../services/listener.js';
import type { Site } from './site.js';
import { principalOf, seeOther, show, showMessage } from './site.js';
import { SUBSCRIPTION_NOTICES } from './subscription-pages.js';

const NOTICES: Readonly<Record<string, string>> = {
  ...SUBSCRIPTION_NOTICES,
  forgotten: 'Device forgotten. An app still using it adds it again at its next sync.',
};
const forgetForm = z.object({ device: gpodderDeviceId, confirm: z.literal('yes').optional() });

export function homePage(site: Site, listener: ListenerService): void {
  site.userPage('/', async (req, res) => {
    const done = req.query['done'];
    const notice = typeof done === 'string' && Object.hasOwn(NOTICES, done) ? NOTICES[done] : null;
    show(res, 'home', { overview: await listener.overview(principalOf(res).userId), notice });
  });

  // A device an app no longer uses (a phone replaced, an app reinstalled under a new name) stays
  // listed, and counts towards the account's 100 devices, until forgotten here.
  site.userForm('/devices/forget', async (req, res) => {
    const form = forgetForm.safeParse(req.body);
    if (!form.success) return showMessage(res, 400, 'That did not work', 'device: name one of your devices.', '/');
    const { device } = form.data;
    if (form.data.confirm !== 'yes') {
      return show(res, 'confirm', {
        title: 'Forget this device?',
        message: `${device} is taken off your account, with its sync group and its settings. Your subscriptions and listening stay. An app still using it adds it again at its next sync.`,
        action: '/devices/forget',
        fields: { device },
        button: 'Forget the device',
        typeToConfirm: null,
        error: null,
        cancel: '/#devices',
      });
    }
    if (!(await listener.forgetDevice(principalOf(res), device))) return showMessage(res, 404, 'Not found', 'You have no device by that name.', '/');
    seeOther(res, '/?done=forgotten#devices');
  });
}
