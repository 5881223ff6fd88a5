// TensorFlow.js contenders: the same focal loss composed from ops, differentiated by
// tf.valueAndGrad, on the WASM backend (SIMD, single thread in Node) and the CPU backend.
// Each timed call does what a user does per batch: make tensors from the typed arrays (logits,
// int32 labels → oneHot), run valueAndGrad, read the loss and the gradient back (dataSync).
import { createRequire } from 'node:module';
import { dirname } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { setWasmPaths } from '@tensorflow/tfjs-backend-wasm';

const require = createRequire(import.meta.url);
setWasmPaths(dirname(require.resolve('@tensorflow/tfjs-backend-wasm/dist/tfjs-backend-wasm.wasm')) + '/');

let initialized = false;
/** Registers and initializes both backends (once). */
export async function initTfjs() {
  if (initialized) return;
  tf.env().set('IS_TEST', false);
  if (!(await tf.setBackend('wasm'))) throw new Error('tfjs wasm backend failed to initialize');
  if (!(await tf.setBackend('cpu'))) throw new Error('tfjs cpu backend failed to initialize');
  initialized = true;
}

export async function useBackend(name) {
  if (tf.getBackend() !== name) await tf.setBackend(name);
}

export function tfjsInfo() {
  return `tfjs ${tf.version.tfjs}, wasm SIMD ${tf.env().getBool('WASM_HAS_SIMD_SUPPORT')}, threads ${tf.env().getBool('WASM_HAS_MULTITHREAD_SUPPORT')}`;
}

/**
 * Softmax focal loss, hard targets, mean over items: −(1 − p_t)^γ log p_t.
 * Channels-first [N, C, ...spatial] is transposed to channels-last first (tf.logSoftmax works on
 * the last axis), as a tfjs user would.
 */
export function tfjsSoftmax(logits, targets, N, C, S, spatialShape, gamma) {
  return tf.tidy(() => {
    let x = S === 1 ? tf.tensor2d(logits, [N, C]) : tf.tensor(logits, [N, C, ...spatialShape]);
    const labels = tf.tensor1d(targets, 'int32');
    const oneHot = tf.oneHot(labels, C).toFloat();
    const f = (z) => {
      let rows = z;
      if (S !== 1) {
        const perm = [0, ...spatialShape.map((_, i) => i + 2), 1];
        rows = tf.reshape(tf.transpose(z, perm), [N * S, C]);
      }
      const logp = tf.logSoftmax(rows);
      const logpt = tf.sum(tf.mul(logp, oneHot), -1);
      const pt = tf.exp(logpt);
      const focal = tf.pow(tf.sub(1, pt), gamma);
      return tf.mean(tf.neg(tf.mul(focal, logpt)));
    };
    const { value, grad } = tf.valueAndGrad(f)(x);
    const loss = value.dataSync()[0];
    const g = grad.dataSync();
    return { loss, grad: g };
  });
}

/** Sigmoid focal loss (torchvision's formula), mean over elements. */
export function tfjsSigmoid(logits, targets, gamma, alpha) {
  return tf.tidy(() => {
    const x = tf.tensor1d(logits);
    const y = tf.tensor1d(targets, 'float32');
    const f = (z) => {
      const p = tf.sigmoid(z);
      // binary_cross_entropy_with_logits: relu(x) − x·y + log1p(exp(−|x|))
      const ce = tf.add(tf.sub(tf.relu(z), tf.mul(z, y)), tf.log1p(tf.exp(tf.neg(tf.abs(z)))));
      const pt = tf.add(tf.mul(p, y), tf.mul(tf.sub(1, p), tf.sub(1, y)));
      const focal = tf.pow(tf.sub(1, pt), gamma);
      const at = tf.add(tf.mul(alpha, y), tf.mul(1 - alpha, tf.sub(1, y)));
      return tf.mean(tf.mul(at, tf.mul(focal, ce)));
    };
    const { value, grad } = tf.valueAndGrad(f)(x);
    const loss = value.dataSync()[0];
    const g = grad.dataSync();
    return { loss, grad: g };
  });
}
