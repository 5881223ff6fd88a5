#!/usr/bin/env node
// `node examples/tfjs/train.mjs [cpu|wasm]`: a tiny TensorFlow.js classifier trained with focal loss from
// focal-loss/tfjs — 2-D points from three clusters of 1 : 5 : 25 points, a softmax output (so the loss takes
// probabilities: fromLogits false, as Keras), Adam. Prints the loss every 10 epochs and the recall per class.
import * as tf from '@tensorflow/tfjs';
import { focalLoss } from 'focal-loss/tfjs';

const backend = process.argv[2] ?? 'cpu';
if (backend === 'wasm') {
  const { setWasmPaths } = await import('@tensorflow/tfjs-backend-wasm');
  const { createRequire } = await import('node:module');
  const { dirname } = await import('node:path');
  setWasmPaths(
    dirname(createRequire(import.meta.url).resolve('@tensorflow/tfjs-backend-wasm/dist/tfjs-backend-wasm.wasm')) + '/',
  );
}
tf.env().set('PROD', true); // quiet: no "install tfjs-node" banner
await tf.setBackend(backend);

// Data: three Gaussian clusters, the first one rare. Data, initial weights and batch order are seeded.
let seed = 7;
const random = () => (seed = (Math.imul(seed, 1664525) + 1013904223) >>> 0) / 2 ** 32;
const gauss = () => Math.sqrt(-2 * Math.log(1 - random())) * Math.cos(2 * Math.PI * random());
const clusters = [
  { center: [0, 1.5], n: 20 },
  { center: [-1.5, -1], n: 100 },
  { center: [1.5, -1], n: 500 },
];
const points = [];
const labels = [];
clusters.forEach(({ center, n }, k) => {
  for (let i = 0; i < n; i++) {
    points.push([center[0] + gauss(), center[1] + gauss()]);
    labels.push(k);
  }
});
const x = tf.tensor2d(points);
const y = tf.oneHot(tf.tensor1d(labels, 'int32'), 3).toFloat();

const model = tf.sequential({
  layers: [
    tf.layers.dense({
      inputShape: [2],
      units: 16,
      activation: 'tanh',
      kernelInitializer: tf.initializers.glorotUniform({ seed: 1 }),
    }),
    tf.layers.dense({ units: 3, activation: 'softmax', kernelInitializer: tf.initializers.glorotUniform({ seed: 2 }) }),
  ],
});
model.compile({ optimizer: tf.train.adam(0.02), loss: focalLoss({ gamma: 2, alpha: [0.6, 0.3, 0.1] }) });

console.log(`tfjs ${tf.version.tfjs} on the ${tf.getBackend()} backend: ${labels.length} points, classes 1 : 5 : 25`);
await model.fit(x, y, {
  epochs: 60,
  batchSize: 64,
  shuffle: false,
  verbose: 0,
  callbacks: {
    onEpochEnd: (epoch, logs) =>
      void (
        (epoch === 0 || (epoch + 1) % 10 === 0) &&
        console.log(`epoch ${String(epoch + 1).padStart(2)}  focal loss ${logs.loss.toFixed(4)}`)
      ),
  },
});

const predicted = tf.tidy(() => model.predict(x).argMax(-1).dataSync());
clusters.forEach(({ n }, k) => {
  const found = labels.filter((l, i) => l === k && predicted[i] === k).length;
  console.log(`class ${k}: recall ${(found / n).toFixed(3)} (${found}/${n})`);
});
