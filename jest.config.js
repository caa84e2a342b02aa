// Unit tests live beside the code (*.spec.ts); end-to-end tests in test/ (*.e2e-spec.ts) run against
// the compiled apps (npm test builds first), a real redis-server and generated tiny GGUF models.
const aliases = {
  '^@switchyard/audio$': '<rootDir>/libs/audio/src',
  '^@switchyard/contracts$': '<rootDir>/libs/contracts/src',
  '^@switchyard/diffusion$': '<rootDir>/libs/diffusion/src',
  '^@switchyard/llama$': '<rootDir>/libs/llama/src',
  '^@switchyard/model-gen$': '<rootDir>/libs/model-gen/src',
  '^@switchyard/runtime$': '<rootDir>/libs/runtime/src',
  '^@switchyard/upstream$': '<rootDir>/libs/upstream/src',
};
// Type-checking is `npm run typecheck`'s job; jest only transpiles (isolatedModules), which is fast.
const transform = { '^.+\\.ts$': ['ts-jest', { tsconfig: '<rootDir>/tsconfig.spec.json' }] };
module.exports = {
  projects: [
    {
      displayName: 'unit',
      testEnvironment: 'node',
      rootDir: __dirname,
      roots: ['<rootDir>/apps', '<rootDir>/libs', '<rootDir>/tools'],
      testMatch: ['**/*.spec.ts'],
      moduleNameMapper: aliases,
      transform,
    },
    {
      displayName: 'e2e',
      testEnvironment: 'node',
      rootDir: __dirname,
      roots: ['<rootDir>/test'],
      testMatch: ['**/*.e2e-spec.ts'],
      moduleNameMapper: aliases,
      transform,
    },
  ],
};
