/** Moved to the runtime lib (the upstream worker and the runner bridge publish events the same way). */
export { JobEventsPublisher } from '@switchyard/runtime';
