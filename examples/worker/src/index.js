// A Cloudflare Worker computing the focal loss and its gradient for a batch.
//
//   POST /  Content-Type: application/json
//     {"kind": "softmax", "logits": [2, 0.5, -1, 0, 3, 0.1], "targets": [0, 1], "options": {"classes": 3}}
//     {"kind": "sigmoid", "logits": [3, -1], "targets": [1, 0], "options": {"gamma": 2}}
//   → {"loss": 0.0183…, "grad": [...]}          (computed in double precision, Float64Array)
//
//   POST /softmax?classes=3&gamma=2  Content-Type: application/octet-stream
//     body: M·C float32 logits, then M int32 class indices (little-endian)
//   → the float32 gradient (M·C·4 bytes), the mean loss in the `X-Focal-Loss` header
//
// The `workerd` export condition gives focal-loss's Workers entry, which imports focal_loss.wasm as
// a module and instantiates it at startup: no `await init()` needed.
import { sigmoidFocalLossWithGrad, softmaxFocalLossWithGrad } from 'focal-loss';

const json = (value, status = 200) => Response.json(value, { status });

function compute(batch) {
  const logits = Float64Array.from(batch.logits);
  if (batch.kind === 'sigmoid')
    return sigmoidFocalLossWithGrad(logits, Float64Array.from(batch.targets), batch.options);
  if (batch.kind === 'softmax') return softmaxFocalLossWithGrad(logits, batch.targets, batch.options ?? {});
  throw new TypeError(`kind must be 'softmax' or 'sigmoid' (got ${JSON.stringify(batch.kind)})`);
}

async function binarySoftmax(request, url) {
  const classes = Number(url.searchParams.get('classes'));
  const gamma = Number(url.searchParams.get('gamma') ?? 2);
  const body = await request.arrayBuffer();
  if (!(classes >= 1) || body.byteLength % (4 * (classes + 1)) !== 0) {
    return json({ error: `the body must hold M rows of ${classes} float32 logits then M int32 targets` }, 400);
  }
  const rows = body.byteLength / (4 * (classes + 1));
  const logits = new Float32Array(body, 0, rows * classes);
  const targets = new Int32Array(body, rows * classes * 4, rows);
  const { loss, grad } = softmaxFocalLossWithGrad(logits, targets, { classes, gamma });
  return new Response(grad.buffer, {
    headers: { 'Content-Type': 'application/octet-stream', 'X-Focal-Loss': String(loss) },
  });
}

export default {
  async fetch(request) {
    if (request.method !== 'POST')
      return json({ error: 'POST a JSON batch: {"kind", "logits", "targets", "options"}' }, 405);
    const url = new URL(request.url);
    try {
      if (url.pathname === '/softmax') return await binarySoftmax(request, url);
      const { loss, grad } = compute(await request.json());
      return json({ loss: typeof loss === 'number' ? loss : Array.from(loss), grad: Array.from(grad) });
    } catch (error) {
      // TypeError / RangeError from focal-loss name the bad argument: a client error.
      return json({ error: String(error) }, 400);
    }
  },
};
