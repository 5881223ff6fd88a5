// The browser entry needs `await init()` once: it fetches focal_loss.wasm next to the module
// (streaming compilation; servers that send the wrong MIME type are handled too).
import { init, softmaxFocalLossWithGrad } from 'focal-loss';

const form = document.getElementById('batch');
const out = document.getElementById('out');
const numbers = (text) =>
  text
    .split(/[\s,]+/)
    .filter(Boolean)
    .map(Number);

function compute() {
  const f = new FormData(form);
  try {
    const logits = new Float64Array(numbers(f.get('logits')));
    const { loss, grad } = softmaxFocalLossWithGrad(logits, numbers(f.get('targets')), {
      classes: Number(f.get('classes')),
      gamma: Number(f.get('gamma')),
    });
    out.textContent = JSON.stringify({ loss, grad: Array.from(grad) }, null, 1);
  } catch (error) {
    out.textContent = String(error); // TypeError / RangeError naming the bad input
  }
  document.body.dataset.state = 'done';
}

await init();
form.addEventListener('submit', (event) => {
  event.preventDefault();
  compute();
});
compute();
