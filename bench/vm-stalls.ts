/**
 * How often this machine stops a running thread (VM steal, host preemption): spins for N s
 * reading the clock and counts the gaps. A floor under any latency percentile the benches report.
 * Run: node --import tsx bench/vm-stalls.ts [seconds=5]
 */
const secs = Number(process.argv[2] ?? 5);
const end = performance.now() + secs * 1000;
let last = performance.now();
const gaps: number[] = [];
let samples = 0;
while (last < end) {
  const now = performance.now();
  const g = now - last;
  if (g > 0.1) gaps.push(g);
  last = now;
  samples++;
}
gaps.sort((a, b) => b - a);
const total = gaps.reduce((a, b) => a + b, 0);
const over = (ms: number) => gaps.filter((g) => g > ms).length;
console.log(
  JSON.stringify({
    secs,
    samples,
    gapsOver0_1ms: gaps.length,
    over0_5: over(0.5),
    over1: over(1),
    over5: over(5),
    top: gaps.slice(0, 8).map((g) => +g.toFixed(2)),
    stolenMs: +total.toFixed(1),
  }),
);
