/**
 * ESLint rule `rongtong/no-server-values-in-render`.
 *
 * Remix replaces every `*.server` module with an empty one in the browser bundle, so a value
 * imported from it is `undefined` there. The server renders the page fine, then hydration calls the
 * missing function (or spreads the missing array) and the browser swaps the page for the error box.
 * That is how `/catalog` (`bpsToPercentText is not a function`) and `/join/:id`
 * (`APPLICATION_FORM_FIELDS is not iterable`) broke. This rule refuses the shape at lint time.
 *
 * Modes (option `mode`):
 * - "route" (route modules, app/root.tsx): a value imported from a `.server` module may be used only
 *   by the server-only exports (`loader`, `action`, `headers`) and by top-level functions that only
 *   they reach. The default export, `meta`, `links`, `ErrorBoundary`, `handle`, any other export,
 *   every function any of those reach, and every statement that runs when the module is evaluated
 *   (top-level initialisers run in the browser too) may not touch one.
 * - "shared" (components and other modules the browser bundle loads): no value import from a
 *   `.server` module at all. `import type` and `import { type X }` stay allowed everywhere.
 */

import { importTarget, isContextSurface, serverNamesOfSurface } from "./domain-barrels.js";

const SERVER_MODULE = /\.server(?:$|[./])/;
/** Exports the Remix compiler strips from the browser build. */
const SERVER_EXPORTS = new Set(["loader", "action", "headers"]);
/** Nodes under which an identifier names a type, not a runtime value. */
const TYPE_CONTEXTS = new Set([
  "TSTypeAnnotation",
  "TSTypeQuery",
  "TSTypeReference",
  "TSTypeParameterInstantiation",
  "TSTypeAliasDeclaration",
  "TSInterfaceDeclaration",
  "TSQualifiedName",
  "TSImportType",
]);

function isFunctionNode(node) {
  return node?.type === "ArrowFunctionExpression" || node?.type === "FunctionExpression";
}

/** Unwrap `x as T`, `x satisfies T`, `x!` to the expression underneath. */
function unwrapTs(node) {
  let current = node;
  while (current && (current.type === "TSAsExpression" || current.type === "TSSatisfiesExpression" || current.type === "TSNonNullExpression")) {
    current = current.expression;
  }
  return current;
}

/** The statement directly in `Program.body` that contains `node`. */
function topLevelStatement(node) {
  let current = node;
  while (current.parent && current.parent.type !== "Program") current = current.parent;
  return current;
}

function inTypeContext(identifier) {
  for (let node = identifier.parent; node; node = node.parent) {
    if (TYPE_CONTEXTS.has(node.type)) return true;
    if (node.type === "Program") return false;
  }
  return false;
}

function patternNames(pattern) {
  if (!pattern) return [];
  switch (pattern.type) {
    case "Identifier":
      return [pattern.name];
    case "ObjectPattern":
      return pattern.properties.flatMap((p) => patternNames(p.type === "RestElement" ? p.argument : p.value));
    case "ArrayPattern":
      return pattern.elements.flatMap((e) => patternNames(e));
    case "RestElement":
      return patternNames(pattern.argument);
    case "AssignmentPattern":
      return patternNames(pattern.left);
    default:
      return [];
  }
}

/** Names a top-level statement declares (functions, variables, classes), inside `export` too. */
function declaredNames(statement) {
  const declaration = statement.type === "ExportNamedDeclaration" || statement.type === "ExportDefaultDeclaration" ? statement.declaration : statement;
  if (!declaration) return [];
  if ((declaration.type === "FunctionDeclaration" || declaration.type === "ClassDeclaration") && declaration.id) return [declaration.id.name];
  if (declaration.type === "VariableDeclaration") return declaration.declarations.flatMap((d) => patternNames(d.id));
  return [];
}

/**
 * Whether a top-level statement runs only when called (a function, or `const f = () => …`), as
 * opposed to code that runs while the module is evaluated (in the browser as well).
 */
function isDeferred(statement) {
  const declaration = statement.type === "ExportNamedDeclaration" ? statement.declaration : statement;
  if (!declaration) return true; // `export { a }`: the names are handled on their own
  if (declaration.type === "ImportDeclaration" || declaration.type === "ExportAllDeclaration") return true;
  if (declaration.type === "FunctionDeclaration") return true;
  if (declaration.type.startsWith("TS") && declaration.type !== "TSEnumDeclaration") return true; // types vanish
  if (declaration.type === "VariableDeclaration") {
    return declaration.declarations.every((d) => !d.init || isFunctionNode(unwrapTs(d.init)));
  }
  return false;
}

/** Exports the browser bundle keeps: everything but loader/action/headers (and types). */
function isClientExport(statement) {
  if (statement.type === "ExportDefaultDeclaration") return true;
  if (statement.type !== "ExportNamedDeclaration" || !statement.declaration) return false;
  if (statement.declaration.type.startsWith("TS") && statement.declaration.type !== "TSEnumDeclaration") return false;
  const names = declaredNames(statement);
  return !(names.length > 0 && names.every((n) => SERVER_EXPORTS.has(n)));
}

function isServerExport(statement) {
  if (statement.type !== "ExportNamedDeclaration" || !statement.declaration) return false;
  const names = declaredNames(statement);
  return names.length > 0 && names.every((n) => SERVER_EXPORTS.has(n));
}

/** Array methods that call their callback right away, so a callback given to one at module scope runs on load. */
const EAGER_CALLBACK_METHODS = new Set(["map", "flatMap", "forEach", "filter", "reduce", "reduceRight", "some", "every", "find", "findIndex", "findLast", "findLastIndex", "sort", "toSorted", "from", "fromEntries"]);

function isEagerlyInvoked(fn) {
  const parent = fn.parent;
  if (!parent) return false;
  if (parent.type === "CallExpression" && parent.callee === fn) return true; // IIFE
  if (parent.type === "CallExpression" && parent.arguments.includes(fn)) {
    const callee = parent.callee;
    const name = callee.type === "MemberExpression" && callee.property.type === "Identifier" ? callee.property.name : callee.type === "Identifier" ? callee.name : null;
    return name !== null && EAGER_CALLBACK_METHODS.has(name);
  }
  return false;
}

/** Whether `identifier` sits in a function inside `statement` that is not run while `statement` is evaluated. */
function insideDeferredFunction(identifier, statement) {
  for (let node = identifier.parent; node && node !== statement.parent; node = node.parent) {
    if (node.type === "FunctionDeclaration" || node.type === "FunctionExpression" || node.type === "ArrowFunctionExpression") {
      if (!isEagerlyInvoked(node)) return true;
    }
    if (node.type === "MethodDefinition" || node.type === "PropertyDefinition") return true;
  }
  return false;
}

const rule = {
  meta: {
    type: "problem",
    docs: { description: "Values imported from a .server module must not reach code the browser runs (a route's component, meta, links, ErrorBoundary, handle, module scope)" },
    schema: [{ type: "object", properties: { mode: { enum: ["route", "shared"] } }, additionalProperties: false }],
    messages: {
      shared:
        "'{{name}}' is imported from the server-only module '{{source}}'. This module is loaded in the browser, where .server modules are empty: move a pure helper to a module that is not .server, or compute the value in a loader.",
      render:
        "'{{name}}' is imported from the server-only module '{{source}}' and used in code the browser runs ({{where}}); there it is undefined. Compute the value in the loader, or import a pure helper from a module that is not .server.",
      reexport: "Re-exporting '{{name}}' from the server-only module '{{source}}' puts it in the browser bundle, where it is undefined.",
    },
  },
  create(context) {
    const mode = context.options[0]?.mode ?? "route";
    const sourceCode = context.sourceCode;

    return {
      "Program:exit"(program) {
        /** Local bindings imported as values from .server modules: variable → import source. */
        const serverBindings = [];
        for (const statement of program.body) {
          // A context's index.ts re-exports .server modules by name: those names are server values too.
          if (statement.type === "ImportDeclaration" && statement.importKind !== "type" && !SERVER_MODULE.test(statement.source.value)) {
            const target = importTarget(context.filename, statement.source.value);
            const serverNames = target && isContextSurface(target) ? serverNamesOfSurface(target) : null;
            if (serverNames?.size) {
              for (const specifier of statement.specifiers) {
                if (specifier.type !== "ImportSpecifier" || specifier.importKind === "type") continue;
                const imported = specifier.imported.type === "Identifier" ? specifier.imported.name : specifier.imported.value;
                if (!serverNames.has(imported)) continue;
                const [variable] = sourceCode.getDeclaredVariables(specifier);
                if (variable) serverBindings.push({ variable, source: `${statement.source.value} (a .server module re-exported)`, specifier });
              }
            }
          }
          if (statement.type === "ImportDeclaration" && statement.importKind !== "type" && SERVER_MODULE.test(statement.source.value)) {
            for (const specifier of statement.specifiers) {
              if (specifier.type === "ImportSpecifier" && specifier.importKind === "type") continue;
              const [variable] = sourceCode.getDeclaredVariables(specifier);
              if (variable) serverBindings.push({ variable, source: statement.source.value, specifier });
            }
          }
          if ((statement.type === "ExportNamedDeclaration" || statement.type === "ExportAllDeclaration") && statement.source && statement.exportKind !== "type" && SERVER_MODULE.test(statement.source.value)) {
            const names =
              statement.type === "ExportAllDeclaration"
                ? ["*"]
                : statement.specifiers.filter((s) => s.exportKind !== "type").map((s) => (s.exported.type === "Identifier" ? s.exported.name : s.exported.value));
            for (const name of names) {
              if (mode === "route" && SERVER_EXPORTS.has(name)) continue;
              context.report({ node: statement, messageId: "reexport", data: { name, source: statement.source.value } });
            }
          }
        }
        if (serverBindings.length === 0) return;

        const valueReferences = (variable) => variable.references.filter((r) => !inTypeContext(r.identifier) && r.identifier.parent?.type !== "ImportSpecifier");

        if (mode === "shared") {
          for (const { variable, source, specifier } of serverBindings) {
            if (valueReferences(variable).length === 0 && variable.references.length > 0) continue; // used as a type only
            context.report({ node: specifier, messageId: "shared", data: { name: variable.name, source } });
          }
          return;
        }

        // Which top-level statements the browser runs: "full" ones (client exports and whatever they
        // call: every line of them may run) and "eager" ones (module-scope code evaluated on load,
        // whose nested callbacks run only if something calls them).
        const statementOfName = new Map();
        for (const statement of program.body) for (const name of declaredNames(statement)) statementOfName.set(name, statement);
        const full = new Set();
        const eager = new Set();
        for (const statement of program.body) {
          if (isClientExport(statement)) full.add(statement);
          else if (!isDeferred(statement) && !isServerExport(statement)) eager.add(statement);
          if (statement.type === "ExportNamedDeclaration" && !statement.declaration && !statement.source) {
            for (const s of statement.specifiers) {
              const exported = s.exported.type === "Identifier" ? s.exported.name : s.exported.value;
              const local = statementOfName.get(s.local.name);
              if (local && !SERVER_EXPORTS.has(exported)) full.add(local);
            }
          }
        }
        /** References between top-level statements: from, to, and whether it sits in a deferred callback. */
        const edges = [];
        const moduleScope = sourceCode.scopeManager.globalScope.childScopes.find((s) => s.type === "module") ?? sourceCode.scopeManager.globalScope;
        for (const variable of moduleScope.variables) {
          const target = statementOfName.get(variable.name);
          if (!target) continue;
          for (const reference of variable.references) {
            if (inTypeContext(reference.identifier)) continue;
            const from = topLevelStatement(reference.identifier);
            if (from === target) continue;
            edges.push({ from, to: target, deferred: insideDeferredFunction(reference.identifier, from) });
          }
        }
        const why = new Map(); // statement → the statement that made it run, for the message
        for (const s of [...full, ...eager]) why.set(s, s);
        for (let changed = true; changed; ) {
          changed = false;
          for (const { from, to, deferred } of edges) {
            if (full.has(to)) continue;
            // Module-scope code that names a function may call it; naming another module-scope value
            // only reads what that value's own evaluation produced (its callbacks run when called).
            if (full.has(from) || (eager.has(from) && !deferred && isDeferred(to))) {
              full.add(to);
              why.set(to, why.get(from));
              changed = true;
            }
          }
        }

        const describe = (statement) => {
          const names = declaredNames(statement);
          if (statement.type === "ExportDefaultDeclaration") return "the default export (the page component)";
          if (!isDeferred(statement) && !isClientExport(statement)) return `module scope${names.length ? ` (${names.join(", ")})` : ""}, which runs when the page loads`;
          if (names.length) return statement.type === "ExportNamedDeclaration" ? `export ${names.join(", ")}` : names.join(", ");
          return "module scope, which runs when the page loads";
        };

        for (const { variable, source } of serverBindings) {
          for (const reference of valueReferences(variable)) {
            const statement = topLevelStatement(reference.identifier);
            const runs = full.has(statement) || (eager.has(statement) && !insideDeferredFunction(reference.identifier, statement));
            if (!runs) continue;
            const root = why.get(statement) ?? statement;
            const where = root === statement ? describe(statement) : `${describe(statement)}, reached from ${describe(root)}`;
            context.report({ node: reference.identifier, messageId: "render", data: { name: variable.name, source, where } });
          }
        }
      },
    };
  },
};

export default {
  meta: { name: "rongtong" },
  rules: { "no-server-values-in-render": rule },
};
