import js from "@eslint/js";
import tseslint from "typescript-eslint";

export default tseslint.config(
  { ignores: ["dist/", "node_modules/", ".skillgate/", "reports/", "examples/**/dist/"] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    languageOptions: { globals: { process: "readonly", console: "readonly", Buffer: "readonly", URL: "readonly" } },
    rules: {
      "@typescript-eslint/no-explicit-any": "error",
      "@typescript-eslint/no-unused-vars": ["error", { argsIgnorePattern: "^_", varsIgnorePattern: "^_" }],
      "no-control-regex": "off",
      eqeqeq: ["error", "always"],
      "no-console": "off",
    },
  },
  {
    // Skill code runs in an isolate: ECMAScript built-ins only, no Node or web globals.
    files: ["examples/skills/**/*.js"],
    languageOptions: { sourceType: "module", globals: { process: "off", console: "off", Buffer: "off", URL: "off" } },
  },
  {
    // Module boundaries from the design card: only runtime/ may depend on the other modules.
    files: ["audit/**/*.ts"],
    rules: {
      "no-restricted-imports": ["error", { patterns: ["**/runtime/**", "**/sandbox/**", "**/skills-registry/**"] }],
    },
  },
  {
    files: ["sandbox/**/*.ts"],
    rules: {
      "no-restricted-imports": ["error", { patterns: ["**/runtime/**", "**/audit/*/**", "**/skills-registry/*/**"] }],
    },
  },
  {
    files: ["skills-registry/**/*.ts"],
    rules: {
      "no-restricted-imports": ["error", { patterns: ["**/runtime/**", "**/audit/*/**", "**/sandbox/*/**"] }],
    },
  },
);
