// Local waves: the outcomes of local attempts running together are delivered when the last one resolves
// or is abandoned, in the order the attempts started, whatever order (and batching) their results came in.
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { LocalWave, type WaveMember } from '../../workflows/local-wave';

/** `n` members joined at once, resolved in `order`: what was delivered, and after which resolution. */
function resolveAll(n: number, order: number[]): { delivered: number[]; at: number[] } {
  const wave = new LocalWave();
  const members = Array.from({ length: n }, () => wave.join());
  const delivered: number[] = [];
  const at: number[] = [];
  let step = -1;
  for (const i of order) {
    step++;
    wave.resolved(members[i]!, () => {
      delivered.push(i);
      at.push(step);
    });
  }
  return { delivered, at };
}

/** The numbers 0 to n - 1 in any order. */
const permutation = (n: number) => fc.shuffledSubarray([...Array(n).keys()], { minLength: n, maxLength: n });

describe('local waves', () => {
  it('deliver every outcome once, in start order, when the last attempt resolves, whatever the order', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 40 }).chain((n) => fc.tuple(fc.constant(n), permutation(n))),
        ([n, order]) => {
          const { delivered, at } = resolveAll(n, order);
          assert.deepEqual(delivered, [...Array(n).keys()]);
          assert.deepEqual(at, Array(n).fill(n - 1), 'nothing before the last resolution');
        },
      ),
    );
  });

  it('two executions that meet the results in different orders deliver the same sequence', () => {
    fc.assert(
      fc.property(
        fc
          .integer({ min: 1, max: 30 })
          .chain((n) => fc.tuple(fc.constant(n), permutation(n), permutation(n))),
        ([n, first, replay]) => {
          assert.deepEqual(resolveAll(n, first), resolveAll(n, replay));
        },
      ),
    );
  });

  it('an abandoned attempt no longer holds its wave open; its late result is delivered at once', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 20 }).chain((n) =>
          fc.tuple(
            fc.constant(n),
            // Each attempt either resolves or is abandoned, in some order; abandoned ones resolve later.
            permutation(n),
            fc.array(fc.boolean(), { minLength: n, maxLength: n }),
          ),
        ),
        ([n, order, abandoned]) => {
          const wave = new LocalWave();
          const members: WaveMember[] = Array.from({ length: n }, () => wave.join());
          const delivered: { i: number; ended: number }[] = [];
          let ended = 0;
          for (const i of order) {
            ended++;
            if (abandoned[i]) wave.left(members[i]!);
            else wave.resolved(members[i]!, () => delivered.push({ i, ended }));
          }
          assert.equal(wave.isOpen, false);
          // The held outcomes come out together, in start order, once every member has ended.
          assert.deepEqual(
            delivered,
            [...Array(n).keys()].filter((i) => !abandoned[i]).map((i) => ({ i, ended: n })),
          );
          // A late result of an abandoned attempt does not wait for anything.
          const late: number[] = [];
          for (let i = 0; i < n; i++) if (abandoned[i]) wave.resolved(members[i]!, () => late.push(i));
          assert.deepEqual(
            late,
            [...Array(n).keys()].filter((i) => abandoned[i]),
          );
        },
      ),
    );
  });

  it('an attempt that starts while a wave is open joins it: the wave drains when it resolves too', () => {
    const wave = new LocalWave();
    const delivered: string[] = [];
    const a = wave.join();
    const b = wave.join();
    wave.resolved(b, () => delivered.push('b'));
    const c = wave.join(); // started between b's result and a's
    wave.resolved(a, () => delivered.push('a'));
    assert.equal(delivered.length, 0, 'c is still running');
    assert.equal(wave.isOpen, true);
    wave.resolved(c, () => delivered.push('c'));
    assert.deepEqual(delivered, ['a', 'b', 'c']);
    assert.equal(wave.isOpen, false);
  });

  it('an attempt started by a delivery opens the next wave; the rest of the drained one is delivered', () => {
    const wave = new LocalWave();
    const delivered: string[] = [];
    const a = wave.join();
    const b = wave.join();
    let next = undefined as WaveMember | undefined;
    wave.resolved(b, () => delivered.push('b'));
    wave.resolved(a, () => {
      delivered.push('a');
      next = wave.join();
    });
    assert.deepEqual(delivered, ['a', 'b']);
    assert.equal(wave.isOpen, true, 'the attempt a delivery started');
    wave.resolved(next!, () => delivered.push('next'));
    assert.deepEqual(delivered, ['a', 'b', 'next']);
    assert.equal(wave.isOpen, false);
  });
});
