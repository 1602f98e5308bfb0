// For native-transport.test.ts: 30,000 round trips between a native ROUTER and DEALER while a
// shell floods this process with SIGUSR2. Its own process, so the storm reaches nothing of the
// test runner's; prints {"got": n, "inOrder": bool, "errors": [...]} and exits 0.
import { spawn } from 'node:child_process';
import { NativeSocket } from '../src/transport/native.ts';

const [url] = process.argv.slice(2);
// Installed for the whole run: a signal still on its way at the end would otherwise take
// SIGUSR2's default action (ending the process).
process.on('SIGUSR2', () => {});
const storm = spawn('sh', ['-c', `while kill -USR2 ${process.pid} 2>/dev/null; do :; done`], {
  stdio: 'ignore',
});
const server = new NativeSocket({ type: 'router' });
server.onMessage = (f) => server.send(f);
const errors: string[] = [];
server.onError = (e) => errors.push(String(e));
const ep = await server.bind(url);
const client = new NativeSocket({ type: 'dealer' });
client.onError = (e) => errors.push(String(e));
const total = 30_000;
const got: number[] = [];
let next = 0;
const sendNext = () => {
  const b = Buffer.alloc(8);
  b.writeUInt32LE(next++, 0);
  client.send([b]);
};
const done = new Promise<void>((resolve) => {
  client.onMessage = (f) => {
    got.push(f[0].readUInt32LE(0));
    if (next < total) sendNext();
    if (got.length === total) resolve();
  };
});
client.connect(ep);
while (next < 64) sendNext();
const timer = setTimeout(() => {
  errors.push(`timed out with ${got.length} of ${total} back`);
  finish();
}, 60_000);
await done;
finish();

function finish(): void {
  clearTimeout(timer);
  storm.once('exit', () => {
    client.close();
    server.close();
    const inOrder = got.every((v, i) => v === i);
    process.stdout.write(`${JSON.stringify({ got: got.length, inOrder, errors })}\n`, () => process.exit(0));
  });
  storm.kill('SIGKILL');
}
