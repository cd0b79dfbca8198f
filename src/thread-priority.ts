/**
 * Background threads (the projector and its commits) run at a lower CPU priority than the HTTP
 * thread, so that on a machine with fewer free cores than busy threads a request is served
 * before read models are brought up to date (docs/architecture.md, "Threads and priorities").
 *
 * Linux keeps a nice value per thread: `setpriority(PRIO_PROCESS, tid)` with a thread id changes
 * that thread alone, and `os.setPriority` passes its id argument through. A thread finds its own
 * id in `/proc/thread-self`. Raising the nice value needs no privilege; elsewhere (no procfs)
 * nothing changes.
 */
import { readlinkSync } from 'node:fs';
import { getPriority, setPriority } from 'node:os';

const MAX_NICE = 19;

/**
 * Lowers the calling thread's priority by `nice` levels (relative, so a service already run at
 * a lower priority keeps the difference); false where the platform does not tell thread ids.
 */
export function setThreadNice(nice: number): boolean {
  if (nice === 0) return false;
  try {
    const tid = Number(readlinkSync('/proc/thread-self').split('/').pop());
    if (!Number.isInteger(tid) || tid <= 0) return false;
    setPriority(tid, Math.min(MAX_NICE, getPriority(tid) + nice));
    return true;
  } catch {
    return false;
  }
}
