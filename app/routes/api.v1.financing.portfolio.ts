import { getPortfolio, portfolioJson } from "~/api/contracts/financing";
import { apiRoute, implement } from "~/api/handler.server";
import * as Financing from "~/domain/financing";

/** `GET /api/v1/financing/portfolio` — contracts/financing.ts. */
export const { loader, action } = apiRoute(implement(getPortfolio, async ({ db }) => portfolioJson(await Financing.portfolio(db, new Date()))));
