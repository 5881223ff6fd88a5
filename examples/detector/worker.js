// @ts-check
// A worker_threads worker of pool.js: runs the experiment's tasks with the package loaded in this thread.
import { parentPort } from 'node:worker_threads';
import { sigmoidFocalLoss, sigmoidFocalLossWithGrad } from 'focal-loss';
import { handleTaskMessage } from './experiment.js';
import { threadCpuSeconds } from './pool.js';

const losses = { lossWithGrad: sigmoidFocalLossWithGrad, lossNone: sigmoidFocalLoss, cpuSeconds: threadCpuSeconds };
const port = /** @type {import('node:worker_threads').MessagePort} */ (parentPort);
port.on('message', (m) => handleTaskMessage(m, losses, (reply) => port.postMessage(reply)));
