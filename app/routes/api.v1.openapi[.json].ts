import type { LoaderFunctionArgs } from "@remix-run/node";
import { openApiDocument } from "~/api/openapi.server";

/** `GET /api/v1/openapi.json` — public: the document describes the API, not anyone's data. */
export async function loader({ context }: LoaderFunctionArgs) {
  return new Response(JSON.stringify(openApiDocument(context.config.publicUrl ?? undefined)), {
    headers: { "Content-Type": "application/json; charset=utf-8", "Cache-Control": "public, max-age=300" },
  });
}
