/**
 * Lets time pass in a test without waiting: while installed, `Date` (the service's clocks, the
 * store's recording times, the phones' clocks) runs ahead of the real clock by an offset that
 * only grows. Timers (`setTimeout`) are untouched. Install before the service starts, remove
 * after it stopped, so no running code ever sees the clock go back.
 */
const RealDate = Date;

export class ForwardTime {
  private offset = 0;
  private installed: DateConstructor | undefined;

  install(): void {
    if (this.installed) return;
    this.installed = globalThis.Date;
    const now = () => RealDate.now() + this.offset;
    globalThis.Date = new Proxy(RealDate, {
      construct: (target, args: unknown[], newTarget) => Reflect.construct(target, args.length === 0 ? [now()] : args, newTarget) as object,
      apply: () => new RealDate(now()).toString(),
      get: (target, property, receiver) => (property === 'now' ? now : Reflect.get(target, property, receiver)),
    });
  }

  advance(ms: number): void {
    if (ms < 0) throw new Error('time only moves forward');
    this.offset += ms;
  }

  uninstall(): void {
    if (this.installed) globalThis.Date = this.installed;
    this.installed = undefined;
  }
}
