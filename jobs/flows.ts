import type { FlowJob } from "bullmq";
import type { OutboxRow } from "../app/domain/outbox";
import { childrenOf, stepOf, type StepRegistry } from "../workflows/registry";
import { jobOptionsFor } from "./queues";

/**
 * Parent jobs (a step with `children`, workflows/registry.ts) go to BullMQ as flows: the parent in
 * `waiting-children`, every child on its step's queue, all in one MULTI (FlowProducer). The outbox
 * holds only the parent's row; its children are derived from its data, so the relay and the
 * redelivery sweep build the same flow with the same job ids, and adding it again is harmless
 * (BullMQ keeps a held id as it is and re-links a finished child to its parent).
 */

/** The part of a BullMQ FlowProducer the relay and the sweep use. */
export interface FlowPublisher {
  add(flow: FlowJob): Promise<unknown>;
}

/** Whether the row's job is a parent step (published as a flow); unknown names are not. */
export function isParentRow(steps: StepRegistry, row: Pick<OutboxRow, "job_name">): boolean {
  return Object.prototype.hasOwnProperty.call(steps, row.job_name) && steps[row.job_name]!.children !== undefined;
}

export function flowFor(steps: StepRegistry, row: Pick<OutboxRow, "queue" | "job_name" | "job_id" | "payload">): FlowJob {
  return {
    name: row.job_name,
    queueName: row.queue,
    data: row.payload,
    opts: jobOptionsFor(row.job_id),
    children: childrenOf(steps, row.job_name, row.payload).map((child) => ({
      name: child.name,
      queueName: stepOf(steps, child.name).queue,
      data: child.payload,
      // A child that exhausts its retries does not hold its parent back for ever: the parent runs
      // and finds the child's work undone (the accrual close runs such a batch itself).
      opts: { ...jobOptionsFor(child.jobId), ignoreDependencyOnFailure: true },
    })),
  };
}
