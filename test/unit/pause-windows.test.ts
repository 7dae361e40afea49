// Unit tests of schedulePauseWindow's input checks (src/pause-windows.ts): every bad option is refused with
// an InvalidInputError naming the value and the fix, before the client connects (no server needed).
import assert from 'node:assert/strict';
import { UnifiedExecutor } from '../../src/executor';
import { CloacinaError, InvalidInputError } from '../../src/errors';
import { buildPauseWindowSettings, whyNotCron, type PauseWindowOptions } from '../../src/pause-windows';
import { pauseWindowSweep } from '../../activities/pause-window';

/** An executor whose client must never be asked for: a check that ran too late fails the test at once. */
function offline(): UnifiedExecutor {
  const ex = new UnifiedExecutor('temporal://127.0.0.1:1/default?taskQueue=q', { identity: 'tester' });
  Object.defineProperty(ex, 'client', {
    value: () => Promise.reject(new Error('the executor tried to connect before checking its input')),
  });
  return ex;
}

const good: PauseWindowOptions = {
  id: 'nightly',
  query: "CloacinaWorkflow = 'etl'",
  cron: '0 22 * * *',
  duration: '8h',
  reason: 'overnight cost window',
};

async function expectInvalid(options: unknown, ...texts: (string | RegExp)[]): Promise<void> {
  let caught: unknown;
  try {
    await offline().schedulePauseWindow(options as PauseWindowOptions);
  } catch (err) {
    caught = err;
  }
  assert.ok(caught instanceof InvalidInputError, `expected an InvalidInputError, got ${String(caught)}`);
  assert.ok(caught instanceof CloacinaError);
  for (const t of texts) {
    if (typeof t === 'string') assert.ok(caught.message.includes(t), `${caught.message}\nlacks ${t}`);
    else assert.match(caught.message, t);
  }
}

describe('schedulePauseWindow input', () => {
  const cases: [string, unknown, (string | RegExp)[]][] = [
    ['options not an object', 'nightly', ['options of schedulePauseWindow', '{ id, query, cron']],
    [
      'a misspelt option',
      { ...good, durationMs: 1000 },
      ['Unknown option `durationMs`', 'did you mean `duration`?'],
    ],
    ['an unknown option', { ...good, zzzzzzzzz: 1 }, ['Unknown option `zzzzzzzzz`', 'the options are {']],
    ['an empty query', { ...good, query: '  ' }, ['`query`', 'non-empty visibility query']],
    ['no query', { ...good, query: undefined }, ['`query`', 'got `undefined`']],
    ['a query too long', { ...good, query: 'x'.repeat(4001) }, ['`query`', 'at most 4000']],
    ['no cron', { ...good, cron: undefined }, ['`cron`', "'0 22 * * *'"]],
    ['a cron with four fields', { ...good, cron: '0 22 * *' }, ['`cron`', '"0 22 * *"', 'has 4 fields']],
    ['a minute out of range', { ...good, cron: '61 22 * * *' }, ['minute field `61`', 'outside 0-59']],
    ['an hour out of range', { ...good, cron: '0 24 * * *' }, ['hour field `24`', 'outside 0-23']],
    ['a bad month name', { ...good, cron: '0 22 * FOO *' }, ['month field `FOO`', 'JAN-DEC']],
    ['a backwards range', { ...good, cron: '0 22 * * 5-1' }, ['day of week field `5-1`', 'backwards']],
    ['a step of zero', { ...good, cron: '*/0 22 * * *' }, ['minute field `*/0`', 'step of 0']],
    ['a bad shorthand', { ...good, cron: '@nightly' }, ['`@nightly`', '@daily']],
    ['a time zone in the cron', { ...good, cron: 'CRON_TZ=UTC 0 22 * * *' }, ['`timezone` option']],
    ['a bad time zone', { ...good, timezone: 'Mars/Olympus' }, ['`timezone`', '"Mars/Olympus"', 'IANA']],
    ['a zero duration', { ...good, duration: 0 }, ['`duration`', 'from 1 second to 31 days', 'got `0`']],
    ['a negative duration', { ...good, duration: -5000 }, ['`duration`', 'got `-5000`']],
    ['a duration that is not one', { ...good, duration: 'soon' }, ['`duration`', '"soon"']],
    ['a duration over the bound', { ...good, duration: '32d' }, ['`duration`', '31 days', 'pauseAll']],
    ['no reason', { ...good, reason: undefined }, ['`reason`', 'non-empty']],
    ['an empty reason', { ...good, reason: ' ' }, ['`reason`', 'non-empty']],
    ['a reason too long', { ...good, reason: 'r'.repeat(1001) }, ['reason', '1000']],
    ['an unknown mode', { ...good, mode: 'hard' }, ['`mode`', 'graceful, immediate', '"hard"']],
    [
      'a sweep as long as the window',
      { ...good, sweepEvery: '8h' },
      ['`sweepEvery`', "less than the window's `duration` (28800000 ms)"],
    ],
    [
      'a sweep too frequent for the window',
      { ...good, sweepEvery: '10s' },
      ['`sweepEvery`', 'from 28800 ms', 'at most 1000 sweeps'],
    ],
    ['a sweep that is not a duration', { ...good, sweepEvery: 'often' }, ['`sweepEvery`', '"often"']],
    ['a bad id', { ...good, id: 'night ly!' }, ['`id`', '"night ly!"', 'letters, digits']],
    ['an empty by', { ...good, by: '' }, ['by']],
  ];
  for (const [what, options, texts] of cases) {
    it(`refuses ${what}`, async () => expectInvalid(options, ...texts));
  }

  it('accepts the cron forms the schedule does', () => {
    for (const cron of [
      '0 22 * * *',
      '30 22 * * 1-5',
      '0 22 * * MON-FRI',
      '*/15 0-6 * * *',
      '0 0 1 JAN,JUL *',
      '0 30 22 * * * 2030',
      '0 22 * * * 2030',
      '@daily',
      '@every 6h',
      '0 22 * * 0 # Sundays',
    ])
      assert.equal(whyNotCron(cron), undefined, cron);
  });

  it('fills the defaults: id, `by` naming the window, graceful, the duration in ms', () => {
    const s = buildPauseWindowSettings({ ...good, id: undefined, duration: '90m' });
    assert.match(s.id, /^[0-9a-f-]{36}$/);
    assert.equal(s.by, `pause-window:${s.id}`);
    assert.equal(s.mode, 'graceful');
    assert.equal(s.durationMs, 90 * 60_000);
    assert.equal(s.timezone, undefined);
    assert.equal(buildPauseWindowSettings({ ...good, sweepEvery: '5m' }).sweepEveryMs, 300_000);
    assert.deepEqual(buildPauseWindowSettings({ ...good, by: 'ops', mode: 'immediate', timezone: 'UTC' }), {
      id: 'nightly',
      query: good.query,
      cron: good.cron,
      timezone: 'UTC',
      durationMs: 8 * 3600_000,
      reason: good.reason,
      by: 'ops',
      mode: 'immediate',
    });
  });

  it('refuses a bad id in describePauseWindow and deletePauseWindow before connecting', async () => {
    await assert.rejects(offline().describePauseWindow(''), InvalidInputError);
    await assert.rejects(offline().deletePauseWindow(undefined as unknown as string), InvalidInputError);
  });
});

describe('pause window sweep', () => {
  it('pauses nothing once the window has ended, and says so, with no activity context or client', async () => {
    // Reached only when the sweep starts after the window's end (retried, or waiting for a worker): a run
    // paused then would resume at once. It returns before it asks for the activity's context.
    const resumeAt = new Date(Date.now() - 1000).toISOString();
    const result = await pauseWindowSweep({
      windowId: 'nightly',
      query: "CloacinaWorkflow = 'etl'",
      reason: 'overnight cost window',
      by: 'system:window:nightly',
      mode: 'graceful',
      resumeAt,
      bulkId: 'window:nightly:2026-11-29T22:00:00.000Z',
    });
    assert.deepEqual(result, {
      bulkId: 'window:nightly:2026-11-29T22:00:00.000Z',
      query: "CloacinaWorkflow = 'etl'",
      total: 0,
      succeeded: 0,
      failed: 0,
      fresh: 0,
      outcomes: [],
      outcomesOmitted: 0,
      skipped: `the window ended at ${resumeAt}, before this sweep ran`,
    });
  });
});
