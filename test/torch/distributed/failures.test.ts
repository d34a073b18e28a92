// Runs alone (scripts/run-tests.mjs): dead and silent peers must be reported within the timeouts it sets.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { fileURLToPath } from 'node:url';
import { describeRanks, runRanks } from '../../support/ranks.js';
import { distributed as dist } from '../../../src/torch/index.js';

const worker = (name: string) => fileURLToPath(new URL(`./workers/${name}.js`, import.meta.url));
const skip = dist.isAvailable() ? false : `distributed unavailable: ${dist.unavailableReason()}`;

test('a killed peer surfaces as a JS Error from backward, naming both ranks', { skip, timeout: 60_000 }, async () => {
  const ranks = await runRanks(worker('failures'), { timeoutMs: 45_000, env: { FAILURE: 'kill' } });
  const [r0, r1] = ranks;
  assert.equal(r1!.signal, 'SIGKILL', describeRanks(ranks));
  assert.equal(r0!.code, 0, describeRanks(ranks));
  const outcome = r0!.result as { step: number; message: string; elapsedMs: number };
  assert.equal(outcome.step, 2);
  assert.match(
    outcome.message,
    /^rank 0 of 2 \(gloo\): backward failed: .*(closed|reset|Broken pipe).*\(peer: rank 1\)$/,
  );
  // A dead peer is noticed through the socket, long before the 30 s collective timeout.
  assert.ok(outcome.elapsedMs < 10_000, `the error took ${outcome.elapsedMs} ms`);
});

test('a peer that never joins the collective gives the timeout error', { skip, timeout: 60_000 }, async () => {
  const ranks = await runRanks(worker('failures'), {
    timeoutMs: 45_000,
    env: { FAILURE: 'hang', TIMEOUT_MS: '1500', HANG_MS: '4000' },
  });
  assert.equal(ranks[0]!.code, 0, describeRanks(ranks));
  const outcome = ranks[0]!.result as { message: string; elapsedMs: number };
  assert.match(outcome.message, /^rank 0 of 2 \(gloo\): allReduce failed: .*[Tt]imed out.*\(peer: rank 1\)$/);
  assert.ok(outcome.elapsedMs >= 1000 && outcome.elapsedMs < 4000, `the error came after ${outcome.elapsedMs} ms`);
});

test(
  'a rank that never starts fails the join within the one timeout, naming how many came',
  { skip, timeout: 60_000 },
  async () => {
    const ranks = await runRanks(worker('failures'), {
      timeoutMs: 45_000,
      env: { FAILURE: 'absent', TIMEOUT_MS: '4000' },
    });
    assert.equal(ranks[0]!.code, 0, describeRanks(ranks));
    const outcome = ranks[0]!.result as { message: string; elapsedMs: number };
    assert.match(
      outcome.message,
      /^rank 0 of 2 \(gloo\): rendezvous at 127\.0\.0\.1:\d+ failed: 1 of 2 ranks reached the store within 4000 ms/,
    );
    // Not the store's timeout and then the process group's again (twice the timeout, as it was).
    assert.ok(outcome.elapsedMs >= 3500 && outcome.elapsedMs < 7000, `the error came after ${outcome.elapsedMs} ms`);
  },
);
