import js from "@eslint/js";
import reactHooks from "eslint-plugin-react-hooks";
import tseslint from "typescript-eslint";

export default tseslint.config(
  { ignores: ["build/**", "public/build/**", "node_modules/**", ".data/**", "tests/.artifacts/**"] },
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
