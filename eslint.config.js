import js from "@eslint/js";
import reactHooks from "eslint-plugin-react-hooks";
import tseslint from "typescript-eslint";
import rongtong from "./eslint/no-server-values-in-render.js";
import contextBoundaries from "./eslint/context-boundaries.js";

export default tseslint.config(
  // The same as .gitignore: build output, data, caches and scratch files are not the project's source.
  { ignores: ["build/**", "public/build/**", "node_modules/**", ".data/**", ".cache/**", "tmp/**", "tests/.artifacts/**"] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    files: ["**/*.{ts,tsx}"],
    plugins: { "react-hooks": reactHooks },
    rules: {
      ...reactHooks.configs.recommended.rules,
      "@typescript-eslint/no-explicit-any": "error",
      "@typescript-eslint/no-unused-vars": ["error", { argsIgnorePattern: "^_", varsIgnorePattern: "^_" }],
      "@typescript-eslint/no-non-null-assertion": "off",
      "no-restricted-imports": [
        "error",
        {
          patterns: [
            { group: ["**/jobs/*", "bullmq"], message: "routes and models write outbox rows; only jobs/ talks to BullMQ" },
          ],
        },
      ],
    },
  },
  {
    // A value from a .server module is undefined in the browser bundle: route modules may use one
    // only from loader/action/headers; modules the browser loads may not import one at all.
    files: ["app/routes/**/*.{ts,tsx}", "app/root.tsx"],
    plugins: { rongtong },
    rules: { "rongtong/no-server-values-in-render": ["error", { mode: "route" }] },
  },
  {
    files: ["app/components/**/*.{ts,tsx}", "app/i18n/**/*.{ts,tsx}", "app/navigation.ts", "app/entry.client.tsx", "app/domain/**/*.ts"],
    // A context's index.ts is its public surface: it re-exports .server modules by name, and the
    // rule follows those names into whatever imports the context.
    ignores: ["**/*.server.ts", "**/*.server.tsx", "app/domain/*/index.ts"],
    plugins: { rongtong },
    rules: { "rongtong/no-server-values-in-render": ["error", { mode: "shared" }] },
  },
  {
    // Bounded contexts: reached only through their index.ts (tests may reach into a context's files).
    files: ["app/**/*.{ts,tsx}", "jobs/**/*.ts", "workflows/**/*.ts", "db/**/*.ts", "server.ts"],
    plugins: { boundaries: { rules: { "context-boundaries": contextBoundaries } } },
    rules: { "boundaries/context-boundaries": "error" },
  },
  {
    // The domain knows nothing of HTTP, React, the pages or the job wiring.
    files: ["app/domain/**/*.{ts,tsx}"],
    rules: {
      "no-restricted-imports": [
        "error",
        {
          patterns: [
            { group: ["**/jobs/*", "bullmq"], message: "routes and models write outbox rows; only jobs/ talks to BullMQ" },
            { group: ["@remix-run/*"], message: "the domain knows nothing of Remix: take plain values, throw DomainError; app/web turns them into Responses" },
            { group: ["react", "react-dom", "react/*"], message: "the domain renders nothing" },
            { group: ["~/routes/*", "~/web/*", "~/api/*", "**/routes/*", "**/web/*", "**/api/*", "**/workflows/*"], message: "imports point one way: routes → web → domain → db" },
          ],
        },
      ],
    },
  },
  {
    // Plain Node scripts (configs, the pretest check).
    files: ["**/*.js", "**/*.mjs"],
    languageOptions: { globals: { process: "readonly", console: "readonly" } },
  },
  {
    // Layering: only jobs/ (and the tests that drive it) may import BullMQ or the jobs wiring.
    files: ["jobs/**", "tests/**", "server.ts", "app/server/**"],
    rules: { "no-restricted-imports": "off" },
  },
);
