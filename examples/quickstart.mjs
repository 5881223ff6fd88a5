// `npm start` for now: a short example run. (Replaced by the training demo of the main-job issue.)
import { softmaxFocalLossWithGrad, sigmoidFocalLoss } from 'focal-loss';

const logits = new Float32Array([30, 0, 0, /* confident and right */ 0.2, 0.1, 0 /* unsure */]);
const { loss, grad } = softmaxFocalLossWithGrad(logits, [0, 2], { classes: 3, gamma: 0.5, reduction: 'none' });
console.log('softmax focal loss per row (γ = 0.5):', Array.from(loss));
console.log('gradient:', Array.from(grad));
console.log('sigmoid focal loss, x = 30, y = 1:', sigmoidFocalLoss(new Float64Array([30]), [1], { reduction: 'sum' }));
