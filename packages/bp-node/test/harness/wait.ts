/** Polls `cond` until it returns a truthy value (returned) or the deadline passes (throws `what`). */
export async function waitFor<T>(
  what: string,
  cond: () => T | Promise<T>,
  timeoutMs = 20_000,
  everyMs = 25,
): Promise<NonNullable<T>> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await cond();
    if (v) return v as NonNullable<T>;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, everyMs));
  }
}

/** Collects events of one kind from an emitter-like source. */
export function collect<T>(src: { on(event: string, cb: (v: T) => void): void }, event: string): T[] {
  const out: T[] = [];
  src.on(event, (v: T) => out.push(v));
  return out;
}
