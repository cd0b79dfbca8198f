/**
 * Lease owners that name their process: `<label>-<uuid>@<host>:<pid>:<started>`. A process
 * restarted after a crash (SIGKILL, OOM) would otherwise wait out the dead process's leases
 * (15 s) with nothing projecting: reads wait and answer stale meanwhile. With the process named
 * in the owner, a store on this host can tell that the holder is gone and hand its leases over
 * at once. Only holders on this host are judged (the store may be shared across hosts); a
 * holder whose process looks alive keeps its lease until it expires, as before.
 */
import { randomUUID } from 'node:crypto';
import { hostname } from 'node:os';

const HOST = hostname();
/**
 * When this process started (ms). Computed the same way in every thread of the process (a
 * projector thread's owner must not look like another incarnation), to within a few ms.
 */
const STARTED = Math.round(Date.now() - process.uptime() * 1000);
/** Two start times of one pid this close apart are one process (rounding, clock reads). */
const SAME_START_MS = 2000;
const OWNER = /@([^@:]+):(\d+):(\d+)$/;

/** A lease owner for this process. */
export function leaseOwner(label: string): string {
  return `${label}-${randomUUID()}@${HOST}:${process.pid}:${STARTED}`;
}

/**
 * True when `owner` names a process of this host that no longer runs: its pid is gone, or it is
 * this process's pid with another start time (a restarted container's process is often pid 1
 * again). Owners that do not name a process (older versions, tests) are never judged dead.
 */
export function isDeadLocalOwner(owner: string): boolean {
  const match = OWNER.exec(owner);
  if (!match || match[1] !== HOST) return false;
  const pid = Number(match[2]);
  const started = Number(match[3]);
  if (pid === process.pid) return Math.abs(started - STARTED) > SAME_START_MS;
  try {
    process.kill(pid, 0);
    return false;
  } catch (error) {
    // EPERM: it runs, as another user.
    return (error as NodeJS.ErrnoException).code === 'ESRCH';
  }
}
