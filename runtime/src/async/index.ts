export { AsyncQueue, type AsyncQueueOptions, type RequestEncoder, type SubmitOptions } from "./async-queue.ts";
export { RoundRobin, type Submitter } from "./round-robin.ts";
