import { describe, expect, it } from 'vitest';
import { renderTurn } from '../../src/runner/render-turn.js';

describe('render turns', () => {
  it('gives the event loop a turn between any two renders, even when both were queued in the same tick', async () => {
    const order: string[] = [];
    // Re-arms itself once per turn of the event loop, from before the renders queue.
    let turns = 0;
    let stop = false;
    const probe = () => {
      order.push(`turn ${++turns}`);
      if (!stop) setImmediate(probe);
    };
    setImmediate(probe);
    const renders = ['a', 'b', 'c'].map((name) => renderTurn().then(() => order.push(`render ${name}`)));
    await Promise.all(renders);
    stop = true;
    const at = (name: string) => order.indexOf(`render ${name}`);
    expect(order.slice(at('a'), at('b')).some((entry) => entry.startsWith('turn'))).toBe(true);
    expect(order.slice(at('b'), at('c')).some((entry) => entry.startsWith('turn'))).toBe(true);
  });

  it('serves renders in the order they asked', async () => {
    const order: number[] = [];
    await Promise.all(Array.from({ length: 50 }, (_, i) => renderTurn().then(() => order.push(i))));
    expect(order).toEqual(Array.from({ length: 50 }, (_, i) => i));
  });
});
