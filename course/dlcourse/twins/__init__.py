"""Framework twins: the same model, with the same weights, in Keras 3 and PyTorch.

``keras_twin.to_keras(model)`` and ``torch_twin.to_torch(model)`` translate a
scratch ``dlcourse.models.Model`` layer by layer (its ``layers`` list is the
single description all three share) and copy its current weights, so that
scratch and framework runs start from the same point on the same split.

The layout differences each translation takes care of:

- dense kernels: scratch and Keras store (in, out); PyTorch stores (out, in);
- images: scratch and PyTorch are NCHW; Keras is NHWC (``to_nhwc``), so conv
  kernels become (KH, KW, C, F) and the rows of the dense layer after a
  flatten are permuted from (C, H, W) order to (H, W, C) order;
- padding: ``"same"`` means TensorFlow's rule (extra row/column at the
  bottom/right); PyTorch gets the same numbers as an explicit ``ZeroPad2d``.

Importing this package imports no framework; each submodule imports its own.
"""

import numpy as np


def to_nhwc(X):
    """(N, C, H, W) -> (N, H, W, C), the layout Keras expects."""
    return np.ascontiguousarray(np.transpose(X, (0, 2, 3, 1)))


def dense_kernel_after_flatten(W, chw_shape):
    """Reorder the rows of W (C*H*W, M) from NCHW flatten order to NHWC order."""
    c, h, w = chw_shape
    return W.reshape(c, h, w, -1).transpose(1, 2, 0, 3).reshape(c * h * w, -1)


def flatten_sources(model):
    """Per layer: the (C, H, W) shape flattened just before it, else None.

    Only the dense layer right after a flatten of an image needs its rows
    reordered for Keras.
    """
    shapes, out = model.layer_input_shapes(), [None]
    for layer, shape in zip(model.layers[:-1], shapes[:-1], strict=True):
        out.append(shape if layer.kind == "flatten" and len(shape) == 3 else None)
    return out
