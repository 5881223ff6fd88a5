// @ts-check
// Node side of the experiment's worker pool: one worker_threads Worker per core (worker.js), each running
// runTask (experiment.js) on the tasks it is given, and the CPU clock of the calling thread.
import { readFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { Worker } from 'node:worker_threads';
import { createWorkerPool } from './experiment.js';

/**
 * CPU time of the calling thread in seconds (Linux: /proc/thread-self/schedstat, nanoseconds on a CPU), or
 * null where that file does not exist. Each worker is its own OS thread, so this is one run's own CPU time,
 * whatever else the machine is doing.
 * @returns {number | null}
 */
export function threadCpuSeconds() {
  try {
    return Number(readFileSync('/proc/thread-self/schedstat', 'utf8').split(' ')[0]) / 1e9;
  } catch {
    return null;
  }
}

/** The default number of workers: the cores Node may use. */
export const defaultWorkers = () => availableParallelism();

/**
 * @param {number} size  number of worker threads
 */
export function createThreadPool(size) {
  const workers = Array.from({ length: size }, () => {
    const w = new Worker(new URL('./worker.js', import.meta.url));
    return {
      post: (/** @type {any} */ m) => w.postMessage(m),
      listen: (/** @type {(m: any) => void} */ h) => {
        w.on('message', h);
        // A worker that dies takes its task with it: fail loudly rather than wait forever.
        w.on('error', (error) => h({ id: -1, fatal: error }));
      },
      terminate: () => w.terminate(),
    };
  });
  return createWorkerPool(workers);
}
