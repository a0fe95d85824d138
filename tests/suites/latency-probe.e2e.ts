// A suite that asks the traffic generator for latency: one trial with a
// latency stream beside the load, its result kept as the suite's measurement
// and a table. What the TRex driver's latency face needs of a run (the
// latency issue's suite measures at several loads; this one proves the path).
import { join } from 'node:path';
import { writeStreamPcap } from '../../lib/traffic/pcap.js';
import { streamFromTestbed } from '../../lib/traffic/stream.js';
import { defineSuite } from '../../lib/suite/api.js';
import { PROBE } from './latency-probe.values.js';

export default defineSuite({ name: 'latency-probe', title: 'One trial with a latency stream beside the load', requires: [{ feature: 'guest' }] }, (lab) => [
  ...lab.setupStages(),
  {
    id: 'latency.trial',
    title: `${PROBE.rate} frames/s for ${PROBE.durationS} s with a latency stream of ${PROBE.latency.rate} frames/s`,
    group: 'traffic',
    needs: [lab.setupDone],
    run: async () => {
      const tg = await lab.trafficGenerator();
      const file = join(lab.dir, 'trial.pcap');
      const spec = streamFromTestbed(lab.tb, 1, { count: 100, sizes: [PROBE.frame] });
      writeStreamPcap(file, spec);
      await tg.prepareTrials(file, spec.count);
      const r = await tg.measure(PROBE);
      lab.measured({ kind: 'latency-probe', ...r });
      const l = r.latency;
      if (!l) throw new Error('the generator returned no latency for a trial that asked for it');
      lab.table({
        title: 'Latency',
        columns: ['sent', 'received', 'lost', 'min µs', 'avg µs', 'max µs', 'p50 µs', 'p99 µs'],
        rows: [[l.sent, l.received, l.lost, l.minUs, l.avgUs, l.maxUs, l.p50Us ?? '-', l.p99Us ?? '-'].map(String)],
      });
    },
  },
]);
