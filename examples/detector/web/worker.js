// @ts-check
// A Web Worker of the detector page: runs the experiment's tasks (experiment.js runTask) with the package's
// WebAssembly module loaded in this worker, exactly as worker.js does in a Node worker thread.
import { init, sigmoidFocalLoss, sigmoidFocalLossWithGrad } from '/dist/browser.js';
import { handleTaskMessage } from '/detector/experiment.js';

const losses = { lossWithGrad: sigmoidFocalLossWithGrad, lossNone: sigmoidFocalLoss };
const ready = init();
self.addEventListener('message', async (e) => {
  await ready;
  handleTaskMessage(/** @type {MessageEvent} */ (e).data, losses, (reply) => self.postMessage(reply));
});
