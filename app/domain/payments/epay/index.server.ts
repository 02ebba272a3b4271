import type { AppConfig } from "../../../config.server";
import { createHttpEpayGateway, type HttpEpayGatewayOptions } from "./http-client.server";
import type { EpayGateway } from "./gateway.server";

export * from "./gateway.server";
export * from "./signing.server";
export { createHttpEpayGateway, parseSignedCallback, HTTP_CLIENT_DEFAULTS, type HttpEpayGatewayOptions } from "./http-client.server";

/** The gateway the running app talks to: EPAY_BASE_URL, EPAY_MERCHANT_ID, EPAY_SECRET. */
export function epayGatewayFromConfig(
  config: Pick<AppConfig, "epayBaseUrl" | "epayMerchantId" | "epaySecret">,
  overrides: Partial<HttpEpayGatewayOptions> = {},
): EpayGateway {
  return createHttpEpayGateway({
    baseUrl: config.epayBaseUrl,
    merchantId: config.epayMerchantId,
    secret: config.epaySecret,
    ...overrides,
  });
}
