// What the latency-probe suite asks of the generator, for the suite and the test that reads its result.
export const PROBE = { rate: 1000, durationS: 2, frame: 64, latency: { streamId: 7, rate: 100 } };
