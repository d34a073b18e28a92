// The suite's reporter: node's own `spec` output, then the 10 slowest tests (so whoever makes the
// suite faster knows where to look; durations are reported, never asserted), then one closing line
// with the counts ("tests: N passed, N failed, N skipped") that stays the last line of the run.
// (A subclass of the spec reporter is not driven through its own methods by node 20's runner, so the
// spec reporter is fed here as a stream.)
//
// scripts/run-tests.mjs runs the suite as two `node --test` processes (files side by side, then the
// ones that run alone); there each process appends its tests to the file CLUSTERFIT_TEST_RECORDS
// names and run-tests prints one summary of both at the end (printSummary). Without it, as under a
// plain `node --test --test-reporter=...`, the summary ends this reporter's own output.
import { appendFileSync } from 'node:fs';
import { relative } from 'node:path';
import { spec as Spec } from 'node:test/reporters';

const SLOWEST_SHOWN = 10;

export default async function* specWithSlowest(source) {
  const spec = new Spec();
  const tests = [];
  for await (const event of source) {
    if (event.type === 'test:pass' || event.type === 'test:fail') record(event, tests);
    spec.write(event);
    for (let chunk = spec.read(); chunk !== null; chunk = spec.read()) yield chunk;
  }
  // The spec reporter lists the failing tests again when it ends.
  const failures = [];
  spec.on('data', (chunk) => failures.push(chunk));
  await new Promise((resolve) => spec.end(resolve));
  yield failures.join('');

  const recordsFile = process.env.CLUSTERFIT_TEST_RECORDS;
  if (recordsFile) appendFileSync(recordsFile, tests.map((t) => JSON.stringify(t) + '\n').join(''));
  else yield summary(tests);
}

/** The slowest tests and the count line, for records of one or several runs. */
export function summary(tests) {
  const counts = { passed: 0, failed: 0, skipped: 0 };
  for (const { outcome } of tests) counts[outcome] += 1;
  const slowest = [...tests].sort((a, b) => b.ms - a.ms).slice(0, SLOWEST_SHOWN);
  return [
    `\nthe ${slowest.length} slowest tests:`,
    ...slowest.map(({ name, ms }) => `${(ms / 1000).toFixed(1).padStart(7)} s  ${name}`),
    `tests: ${counts.passed} passed, ${counts.failed} failed, ${counts.skipped} skipped\n`,
  ].join('\n');
}

export function printSummary(tests) {
  process.stdout.write(summary(tests));
}

function record({ type, data }, tests) {
  // Suites report their children's time again; only the tests themselves are listed and counted,
  // except a suite skipped whole (the CUDA-only ones on a CPU machine), which counts as one skip.
  const skipped = data.skip !== undefined || data.todo !== undefined;
  if (data.details?.type === 'suite' && !skipped) return;
  const outcome = skipped ? 'skipped' : type === 'test:fail' ? 'failed' : 'passed';
  const file = data.file ? relative(process.cwd(), data.file) : '?';
  tests.push({ name: `${file} > ${data.name}`, ms: data.details?.duration_ms ?? 0, outcome });
}
