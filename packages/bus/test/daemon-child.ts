// A tiny daemon for the lifecycle test: serves the test schema over the default ipc endpoint,
// registers a cleanup that logs, and waits for a signal.
import { type Handlers, runDaemon } from '../src/index.ts';
import { testSchema } from './helpers.ts';

const handlers: Handlers<typeof testSchema.table> = {
  echo: (b) => b,
  sleep: () => ({ cancelled: false }),
  fail: () => ({}),
  sum: ({ xs }) => ({ total: xs.reduce((a, b) => a + b, 0n) }),
};

await runDaemon({
  service: 'testd',
  options: { greeting: { type: 'string', default: 'hello', doc: 'a word to log at start' } },
  async main(ctx) {
    ctx.log.info('greeting', { greeting: ctx.config.greeting });
    await ctx.serveRpc(testSchema, handlers, { status: () => ({ greeting: ctx.config.greeting }) });
    ctx.onShutdown(() => ctx.log.info('cleanup ran'));
  },
});
