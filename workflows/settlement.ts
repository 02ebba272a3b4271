import { z } from "zod";
import { readConfig } from "../app/config.server";
import { epayGatewayFromConfig, type EpayGateway } from "../app/domain/payments";
import { sendPayout } from "../app/domain/settlement";
import type { Step } from "./registry";

export { SEND_PAYOUT_JOB, SETTLEMENT_QUEUE } from "../app/domain/settlement";

/**
 * Settlement's workflow steps (decision 026). The payout send step makes one try at the gateway,
 * outside any transaction, and applies its answer; it is safe to run twice (the gateway is
 * idempotent on the try's reference, and a final payout changes no more).
 */

const sendPayload = z.object({ payoutId: z.string().uuid() }).strict();
export const parseSendPayoutPayload = (data: unknown) => sendPayload.parse(data);

export function createSendPayoutStep(gatewayOf: () => EpayGateway = () => epayGatewayFromConfig(readConfig())): Step<z.infer<typeof sendPayload>> {
  return async (deps, payload) => {
    const outcome = await sendPayout(deps.db, gatewayOf(), payload.payoutId, deps.now?.() ?? new Date());
    if (outcome !== "already_final") deps.logger.info({ payoutId: payload.payoutId, outcome }, "payout sent to the gateway");
  };
}

export const sendPayoutStep = createSendPayoutStep();
