/** Moved to the runtime lib (the upstream worker and the runner bridge listen for cancels the same way). */
export { CancelListener } from '@switchyard/runtime';
