/**
 * Conformance of descriptor and miniscript implementations on the vectors in test/fixtures/.
 * Usage: node --import tsx scripts/conformance/run.ts [--failures]
 */
import { runBcoin, runBips, runCoreDescriptors, runMiniscript, runRandomMs, type Tally } from './checks.ts';
import { descImpls, msImpls } from './impls.ts';

const showFailures = process.argv.includes('--failures');
const fmt = (t: Tally) => `${t.pass}/${t.pass + t.fail}`;
function show(label: string, t: Tally) {
  console.log(`  ${label.padEnd(34)} ${fmt(t)}`);
  if (showFailures) for (const f of t.failures) console.log(`      x ${f}`);
}

for (const impl of descImpls) {
  console.log(`\n== ${impl.name}`);
  const core = runCoreDescriptors(impl);
  show('Core Check', core.check);
  show('Core CheckUnparsable', core.unparsable);
  show('Core CheckMultipath', core.multipath);
  console.log(
    `  Core CheckInferDescriptor           skipped (${core.inferSkipped}): wallet key-store inference`,
  );
  const b = runBcoin(impl);
  show('bcoin desc-valid', b.valid);
  show('bcoin desc-invalid', b.invalid);
  const bips = runBips(impl);
  for (const [bip, t] of Object.entries(bips)) show(`BIP ${bip}`, t);
}
for (const impl of msImpls) {
  console.log(`\n== ${impl.name}`);
  const r = runMiniscript(impl);
  show('valid cases accepted', r.valid);
  show('invalid cases rejected', r.invalid);
  show('script hex (p2wsh + tapscript)', r.scripts);
  if (impl.props) show('type properties (m, s, k)', r.props);
  if (impl.liftRoundTrip) show('lift round trip', r.lift);
  if (impl.liftRoundTrip) show('random_ms.txt round trip', runRandomMs(impl));
}
