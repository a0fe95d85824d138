// Telling the stream apart from everything else a link carries, and placing
// captured frames inside or outside the span between two counter readings.
import { afterAll, describe, expect, it } from 'vitest';
import { countForeign, ownWindow, peerWindow } from '../../lib/verify/foreign.js';
import { isStreamFrame } from '../../lib/traffic/stream.js';
import { OFF_RUN, buildFrame } from '../../lib/traffic/stream.js';
import { writeForeignPcap } from '../helpers/foreign.js';
import { TempDir, pcapBytes, routed, spec } from '../helpers/pcaps.js';
import { readPcap } from '../../lib/traffic/pcap.js';
import { pcapFrames } from '../../lib/traffic/pcap.js';

const s = spec();
const tmp = new TempDir();
afterAll(() => tmp.remove());

describe('what is the stream', () => {
  it("is this run's stream as sent and as forwarded; another run's stream, ARP, LLDP, IPv6 and other UDP are not", async () => {
    expect(isStreamFrame(buildFrame(s, 0), s.runId)).toBe(true);
    expect(isStreamFrame(routed(s, 7), s.runId)).toBe(true);
    const other = routed(s, 1);
    other.writeUInt32BE(999, OFF_RUN);
    expect(isStreamFrame(other, s.runId)).toBe(false);
    const file = tmp.path + '/foreign.pcap';
    writeForeignPcap(file, '3.3.3.1');
    const kinds: boolean[] = [];
    await readPcap(file, (f) => kinds.push(isStreamFrame(f, s.runId)));
    expect(kinds).toEqual([false, false, false, false]);
    expect(isStreamFrame(Buffer.alloc(20), s.runId)).toBe(false);
  });
});

describe('counting foreign frames between two readings', () => {
  // Frame i is captured at i ms (pcapBytes): stream frames at 0-9 ms, foreign ones at 10-19 ms.
  const frames = () => {
    const foreign = routed(s, 0);
    foreign.writeUInt32BE(12345, OFF_RUN);
    return [...Array.from({ length: 10 }, (_, i) => buildFrame(s, i)), ...Array.from({ length: 10 }, () => foreign)];
  };

  it('counts only foreign frames, certainly inside the definite window, possibly inside the possible one', async () => {
    const file = tmp.file('mixed.pcap', pcapBytes(frames()));
    // Readings at 12.0-12.5 ms and 16.5-17.0 ms: frames at 13, 14, 15, 16 ms are certainly between them; 12 and 17 may be.
    const own = ownWindow({ fromUs: 12_000, toUs: 12_500 }, { fromUs: 16_500, toUs: 17_000 });
    expect(own).toEqual({ definite: { fromUs: 12_500, toUs: 16_500 }, possible: { fromUs: 12_000, toUs: 17_000 } });
    const [c] = await countForeign(pcapFrames(file), s.runId, [own]);
    expect(c).toEqual({ definite: 4, possible: 6 });
  });

  it("places a switch's counters by its peer's capture: the peer's definite span, widened by what the controller measured", async () => {
    const file = tmp.file('peer.pcap', pcapBytes(frames()));
    const peer = ownWindow({ fromUs: 12_000, toUs: 12_500 }, { fromUs: 16_500, toUs: 17_000 });
    // The switch was read 1.6 ms before the peer's first reading ended, and ended 1.6 ms after its last began.
    const sw = peerWindow(peer, 1600, 1600);
    expect(sw).toEqual({ definite: peer.definite, possible: { fromUs: 10_900, toUs: 18_100 } });
    const [c] = await countForeign(pcapFrames(file), s.runId, [sw]);
    expect(c).toEqual({ definite: 4, possible: 8 });
  });
});
