import type { ActionFunctionArgs, LoaderFunctionArgs } from "@remix-run/node";
import { apiNotFound } from "~/api/handler.server";

/** Any other /api/v1 path: a JSON 404, never the HTML error page an API client cannot read. */
export const loader = (args: LoaderFunctionArgs) => apiNotFound(args);
export const action = (args: ActionFunctionArgs) => apiNotFound(args);
