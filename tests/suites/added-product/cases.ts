// The added product suite's cases: one reads the testbed as the run loaded
// it and contributes a table, one registers an undo the teardown runs at the
// end. Neither touches a lab: the suite runs on any testbed file.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { LabRun, Stage } from '../../../lib/suite/api.js';
import { UNDO_MS } from './values.js';

/** Its stage ids, as a suite exports them. */
export const TESTBED_READ = 'added.testbed';
export const UNDO_REGISTERED = 'added.undo';

export class AddedCases {
  constructor(private readonly lab: LabRun) {}

  stages(): Stage[] {
    return [
      { id: TESTBED_READ, title: 'The testbed as the run loaded it', group: 'checks', needs: [], run: async () => this.readTestbed() },
      { id: UNDO_REGISTERED, title: 'An undo registered, run at the end', group: 'checks', needs: [TESTBED_READ], run: async () => this.registerUndo() },
    ];
  }

  private readTestbed(): void {
    this.lab.table({ title: 'Testbed', columns: ['name', 'profile'], rows: [[this.lab.tb.name, this.lab.profile.name]] });
  }

  private registerUndo(): void {
    this.lab.teardown.defer('the added suite: its undo', () => new Promise((done) => setTimeout(done, UNDO_MS)));
    // What the signal test waits for: the cases ran, the teardown comes next.
    writeFileSync(join(this.lab.dir, 'cases-done'), '');
  }
}
