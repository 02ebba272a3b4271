/**
 * The outbox context's public surface: what routes, jobs, workflows and other contexts may use
 * (decision 022). Anything not exported here is the context's own; the lint rule
 * rongtong/context-boundaries refuses an import of a file inside the folder from outside it.
 */
export { OUTBOX_LIMITS, claimNextRunnable, enqueue, enqueueAll, enqueueClause, holdWaitingJob, listFailedJobs, lockPublishableBatch, lockStaleInFlight, markCompleted, markExhausted, markPublished, markRun, outboxCounts, outboxJobId, outboxRows, pruneOutbox, recordPublishFailure, recordRunFailure, renewLease, rerunFailedJob } from "./outbox.server";
export type { OutboxJob, OutboxRow, RetryPolicy, Trx } from "./outbox.server";
