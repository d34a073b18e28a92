// The suite's reporter: node's own `spec` output, then the 10 slowest tests (so whoever makes the
// suite faster knows where to look; durations are reported, never asserted), then one closing line
// with the counts ("tests: N passed, N failed, N skipped") that stays the last line of the run.
// (A subclass of the spec reporter is not driven through its own methods by node 20's runner, so the
// spec reporter is fed here as a stream.)
import { relative } from 'node:path';
import { spec as Spec } from 'node:test/reporters';

const SLOWEST_SHOWN = 10;

export default async function* specWithSlowest(source) {
  const spec = new Spec();
  const tests = [];
  const counts = { passed: 0, failed: 0, skipped: 0 };
  for await (const event of source) {
    if (event.type === 'test:pass' || event.type === 'test:fail') record(event, tests, counts);
    spec.write(event);
    for (let chunk = spec.read(); chunk !== null; chunk = spec.read()) yield chunk;
  }
  // The spec reporter lists the failing tests again when it ends.
  const failures = [];
  spec.on('data', (chunk) => failures.push(chunk));
  await new Promise((resolve) => spec.end(resolve));
  yield failures.join('');

  const slowest = tests.sort((a, b) => b.ms - a.ms).slice(0, SLOWEST_SHOWN);
  yield [
    `\nthe ${slowest.length} slowest tests:`,
    ...slowest.map(({ name, ms }) => `${(ms / 1000).toFixed(1).padStart(7)} s  ${name}`),
    `tests: ${counts.passed} passed, ${counts.failed} failed, ${counts.skipped} skipped\n`,
  ].join('\n');
}

function record({ type, data }, tests, counts) {
  // Suites report their children's time again; only the tests themselves are listed and counted.
  if (data.details?.type === 'suite') return;
  if (data.skip !== undefined || data.todo !== undefined) counts.skipped += 1;
  else if (type === 'test:fail') counts.failed += 1;
  else counts.passed += 1;
  const file = data.file ? relative(process.cwd(), data.file) : '?';
  tests.push({ name: `${file} > ${data.name}`, ms: data.details?.duration_ms ?? 0 });
}
