/**
 * A call the caller cannot wait on forever (a Redis that is gone, a health check, a publish made
 * while holding a PostgreSQL transaction): it settles as `work` does, or rejects after `ms` with
 * "<what> did not answer within <ms> ms". The work itself is not cancelled, only no longer awaited.
 */
export class DeadlineError extends Error {
  constructor(what: string, ms: number) {
    super(`${what} did not answer within ${ms} ms`);
    this.name = "DeadlineError";
  }
}

export async function within<T>(work: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new DeadlineError(what, ms)), ms);
  });
  try {
    return await Promise.race([work, deadline]);
  } finally {
    clearTimeout(timer);
  }
}
