// The long reliability cases (npm run test:reliability): same setup as the main suite.
export default {
  extensions: { ts: 'commonjs' },
  nodeArguments: ['--import', 'tsx'],
  files: ['__test__/reliability/**/*.spec.ts'],
  workerThreads: false,
  concurrency: 1,
  timeout: '3m',
}
