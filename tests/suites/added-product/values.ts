/** How long its undo takes: none in a healthy run; the signal test makes it long, so that only a second signal ends the run. */
export const UNDO_MS = 0;
