// The steps of every profile, by family: each family's file holds its steps in
// the guide's order and words (a step's id is frozen once released). A profile
// lists the steps it takes (lib/profiles/<name>.profile.ts); grep for a command of the
// guide to find its step.
export * from './guest-router.js';
export * from './guest-testpmd.js';
export * from './kni.js';
export * from './ovs-dpdk.js';
export * from './restart.js';
export * from './switch.js';
export * from './vm.js';
