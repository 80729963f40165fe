import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    // Worker threads and the e2e CLI run from dist/: refuse a build older than the sources.
    globalSetup: ['test/helpers/build-fresh.ts'],
    // Native SQLite and child processes: separate processes keep one test's crash from taking the run down.
    pool: 'forks',
    testTimeout: 120_000,
    hookTimeout: 120_000,
    // In CI a JSON report as well, from which .ci/run prints one plain "N passed, N failed" line.
    reporters: process.env['CI'] ? ['default', ['json', { outputFile: '.test-results.json' }]] : ['default'],
  },
});
