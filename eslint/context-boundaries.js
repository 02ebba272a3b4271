/**
 * ESLint rule `rongtong/context-boundaries` (decision 022).
 *
 * Each folder directly under app/domain is a bounded context whose index.ts is its only public
 * surface. Outside a context (another context, a route, app/web, app/api, app/seed, jobs/,
 * workflows/, db/) an import may name the context (`~/domain/orders`, `../orders`) but not a file
 * inside it (`~/domain/orders/placement.server`). Inside a context, files import each other freely.
 * A barrel names what it re-exports from `.server` modules (`export { a } from "./x.server"`), never
 * `export *` from one: the render rule reads the names to know which are server-only.
 */
import path from "node:path";
import { contextOf, importTarget, isContextSurface } from "./domain-barrels.js";

const rule = {
  meta: {
    type: "problem",
    docs: { description: "Import a bounded context of app/domain only through its index.ts" },
    schema: [],
    messages: {
      internal:
        "'{{source}}' is a file inside the {{context}} context. Import '{{surface}}' (its index.ts) instead; if what you need is not exported there, export it from app/domain/{{context}}/index.ts.",
      starServer: "A context's index.ts names what it re-exports from a .server module (export { a, b } from \"{{source}}\"): `export *` hides from the render rule which names are server-only.",
    },
  },
  create(context) {
    const file = context.filename;
    const own = contextOf(file);
    const isBarrel = own !== null && /^index\.[jt]sx?$/.test(path.basename(file)) && path.dirname(file).endsWith(path.join("domain", own));

    function check(node, source) {
      const target = importTarget(file, source);
      if (!target) return;
      const targetContext = contextOf(target);
      if (!targetContext || targetContext === own || isContextSurface(target)) return;
      // The same specifier cut back to the context's folder: what the import should say.
      let surface = source;
      while (surface.includes("/") && !isContextSurface(importTarget(file, surface))) surface = surface.slice(0, surface.lastIndexOf("/"));
      context.report({ node, messageId: "internal", data: { source, context: targetContext, surface } });
    }

    return {
      ImportDeclaration(node) {
        check(node.source, node.source.value);
      },
      ExportNamedDeclaration(node) {
        if (node.source) check(node.source, node.source.value);
      },
      ExportAllDeclaration(node) {
        if (!node.source) return;
        check(node.source, node.source.value);
        if (isBarrel && node.exportKind !== "type" && /\.server(?:$|[./])/.test(node.source.value)) {
          context.report({ node, messageId: "starServer", data: { source: node.source.value } });
        }
      },
      ImportExpression(node) {
        if (node.source.type === "Literal" && typeof node.source.value === "string") check(node.source, node.source.value);
      },
    };
  },
};

export default rule;
