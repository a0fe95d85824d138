// The run's fixtures, undone in reverse order of their setting up, whatever
// happened: a fixture that was never set up registers nothing, and one that
// fails to undo is a teardown problem for the report, not a reason to leave
// the others in place (pytest's finalizers, vitest's fixture teardown).
import { errorMessage } from '../errors.js';

interface Fixture {
  name: string;
  // biome-ignore lint/suspicious/noConfusingVoidType: an undo returns its problems, or nothing at all (session.close())
  undo: () => Promise<string[] | void>;
}

export class Teardown {
  private readonly stack: Fixture[] = [];

  /** Registers how to undo a fixture that has just been set up. */
  defer(name: string, undo: Fixture['undo']): void {
    this.stack.push({ name, undo });
  }

  /**
   * Sets a fixture up, and registers its undo only once that succeeded
   * (Playwright's `use`): a fixture that was never set up is never undone.
   */
  async use<T>(name: string, setUp: () => Promise<T>, undo: Fixture['undo']): Promise<T> {
    const value = await setUp();
    this.defer(name, undo);
    return value;
  }

  /** The fixtures' names, in the order they will be undone. */
  get pending(): string[] {
    return this.stack.map((f) => f.name).reverse();
  }

  /**
   * Undoes every fixture, last first; returns the problems, each prefixed
   * with its fixture's name. Those `only` leaves out are dropped, not undone
   * (a lab the run no longer holds is not touched): the caller says so.
   */
  async run(only: (name: string) => boolean = () => true): Promise<string[]> {
    const problems: string[] = [];
    for (let f = this.stack.pop(); f; f = this.stack.pop()) {
      if (!only(f.name)) continue;
      try {
        const found = await f.undo();
        if (found) problems.push(...found);
      } catch (err) {
        problems.push(`${f.name}: ${errorMessage(err)}`);
      }
    }
    return problems;
  }
}
