"""The mistakes students typically make, as wrong answers computed from the same inputs.

:data:`KNOWN_MISTAKES` names them per reference (columns centred along the rows, a
flipped kernel, a mean where the sum is needed...); :data:`ROLL_MISTAKES` builds them
from the graded roll number's config: the answer of another roll number's variant, or
a rule that drops its state. ``diagnosis.likely_mistake`` names the first one a wrong
answer equals.
"""

from __future__ import annotations

import functools
import itertools

import numpy as np

from dlcourse import augment, conv, layers, metrics, optim, thresholds
from dlcourse.grading.references import ref_mlp_forward


def _sigmoid_instead_of_grad(x):
    return layers.sigmoid(x)


def _tanh_grad_of_input(x):
    return 1.0 - x ** 2


def _db_mean(dout, x, W):
    dx, dW, db = layers.dense_backward(dout, (x, W))
    return [dx, dW, db / len(dout)]


def _flipped_kernel_conv(x, w, b, stride, pad):
    return conv.conv2d_forward(x, w[:, :, ::-1, ::-1].copy(), b, stride, pad)[0]


def _softmax_grad_without_labels(logits, y):
    shifted = logits - logits.max(axis=1, keepdims=True)
    probs = np.exp(shifted) / np.exp(shifted).sum(axis=1, keepdims=True)
    loss = layers.softmax_cross_entropy_forward(logits, y)[0]
    return [loss, probs / len(logits)]


def _auc_ties_as_losses(y, scores):
    y, scores = np.asarray(y), np.asarray(scores, np.float64)
    pos, neg = scores[y == 1], scores[y == 0]
    return float(np.mean(pos[:, None] > neg[None, :]))


def _offer_mistakes(config, function):
    """Another roll number's offer; for the profit, customers at the threshold left out."""
    mine = config["churn_offer"]
    other = next(o for o in thresholds.OFFERS if o != mine)
    build = (thresholds.campaign_profit_for if function == "campaign_profit"
             else thresholds.best_tau_for)
    mistakes = [(f"this is the {other} offer's profit: your roll number's offer is a {mine} "
                 "(CONFIG['churn_offer'])", build(other))]
    if function == "campaign_profit":
        mistakes.append(("customers exactly at the threshold are not contacted: act on "
                         "scores >= tau", thresholds.campaign_profit_for(mine, strict=True)))
    return tuple(mistakes)


def _dx_cropped_top_left(dout, x, w, b, stride, pad):
    """dx cut from the top-left of the padded gradient instead of its centre."""
    padded = np.pad(x, ((0, 0), (0, 0), (pad, pad), (pad, pad)))
    _, cache = conv.conv2d_forward(padded, w, b, stride, 0)
    dxp, dw, db = conv.conv2d_backward(dout, cache)
    return [dxp[:, :, :x.shape[2], :x.shape[3]], dw, db]


def _evaluate_binary_hard_scores(y, scores, threshold):
    hard = (np.asarray(scores) >= threshold).astype(np.float64)
    report = metrics.binary_report(y, hard, threshold)
    return {k: report[k] for k in ("accuracy", "precision", "recall", "roc_auc", "pr_auc")}


def _evaluate_binary_swapped(y, scores, threshold):
    report = metrics.binary_report(y, scores, threshold)
    out = {k: report[k] for k in ("accuracy", "precision", "recall", "roc_auc", "pr_auc")}
    return {**out, "precision": report["recall"], "recall": report["precision"]}


#: reference name -> ((mistake, wrong answer from the same inputs), ...)
KNOWN_MISTAKES = {
    "sigmoid_grad": (("it returns sigmoid(x) itself: the derivative is s * (1 - s)",
                      _sigmoid_instead_of_grad),),
    "relu_grad": (("it is 1 everywhere: the derivative is 0 where x <= 0",
                   lambda x: np.ones_like(x, dtype=np.float64)),),
    "tanh_grad": (("1 - x**2 is applied to x itself: the derivative is 1 - tanh(x)**2",
                   _tanh_grad_of_input),),
    "dense_backward": (("db is the batch mean: the bias gradient sums dout over the batch",
                        _db_mean),),
    "conv_forward": (("the kernel is flipped: the course's convolution is a "
                      "cross-correlation (no flip)", _flipped_kernel_conv),),
    "softmax_ce": (("dlogits is softmax / N: subtract the one-hot labels first",
                    _softmax_grad_without_labels),),
    "precision_recall": (("precision and recall are swapped: precision = TP / (TP + FP), "
                          "recall = TP / (TP + FN)",
                          lambda y, p: (metrics.recall(y, p), metrics.precision(y, p))),),
    "roc_auc": (("tied scores count as misordered pairs: a tie counts as half a pair",
                 _auc_ties_as_losses),),
    "conv_backward": (("dx is cut from the top-left of the padded gradient: drop pad "
                       "rows and columns on every side", _dx_cropped_top_left),),
    "evaluate_binary": (("the areas under the curves come from hard 0/1 predictions: rank "
                         "the scores themselves", _evaluate_binary_hard_scores),
                        ("precision and recall are swapped", _evaluate_binary_swapped)),
    "center_columns": (("the rows are centred (axis=1): centre each column (axis=0)",
                        lambda X: X - X.mean(axis=1, keepdims=True)),),
    "mse": (("the sum is divided by n - 1: the mean divides by n",
             lambda y, y_hat: float(np.sum((y - y_hat) ** 2) / (len(y) - 1))),),
}


def _other_pooling(config, part):
    """The answer of the pooling the student's roll number does *not* give (a notebook
    written for another roll number, or the wrong choice read from CONFIG)."""
    mine = config["cnn_pooling"]
    other = next(name for name in conv.POOLING if name != mine)
    forward, backward = conv.POOLING[other]
    phrase = (f"this is {other} pooling: your roll number's pooling is {mine} "
              f"(CONFIG['cnn_pooling'])")
    if part == "forward":
        return ((phrase, lambda x, size: forward(x, size)[0]),)
    return ((phrase, lambda dout, x, size: backward(dout, forward(x, size)[1])),)


def _adam_without_bias_correction(w, grads, learning_rate):
    m = v = 0.0
    path = []
    for dw in grads:
        m, v = 0.9 * m + 0.1 * dw, 0.999 * v + 0.001 * dw * dw
        w = w - learning_rate * m / (np.sqrt(v) + 1e-8)
        path.append(w)
    return path


def _rule_path(rule, w, grads, learning_rate, **hyper):
    """``w`` after each step of ``rule`` with hyperparameters ``hyper`` (state kept)."""
    config, path = {"learning_rate": learning_rate, **hyper}, []
    for dw in grads:
        w, config = rule(w, dw, config)
        path.append(w)
    return path


def _optimizer_mistakes(config):
    """Wrong update rules for the roll number's optimizer: its state dropped between
    steps, Adam's moments used without bias correction, another roll number's rule."""
    mine = config["optimizer"]
    mistakes = []
    if mine != "sgd":
        mistakes.append((f"the {mine} state (velocity, moments, step count) starts afresh at "
                         "every step: keep it in `state` between steps",
                         lambda w, grads, lr: optim.trajectory(mine, w, grads, lr,
                                                               keep_state=False)))
    if mine == "adam":
        mistakes.append(("m and v are used without bias correction: divide them by "
                         "1 - beta1**t and 1 - beta2**t", _adam_without_bias_correction))
    if mine == "rmsprop":
        mistakes.append(("the squared gradients decay by 0.99 (PyTorch's default alpha): "
                         "the course's rmsprop uses 0.9 (Keras' rho)",
                         functools.partial(_rule_path, optim.rmsprop, decay_rate=0.99)))
    for other in optim.OPTIMIZERS:
        if other != mine:
            mistakes.append((f"this is the {other} update: your roll number's optimizer is "
                             f"{mine} (CONFIG['optimizer'])",
                             functools.partial(optim.trajectory, other)))
    return tuple(mistakes)


def _augment_mistakes(config):
    """Another roll number's augmentation; the copies without the original batch."""
    mine = config["cnn_augmentation"]
    mistakes = [(f"these are the {other} copies: your roll number's augmentation is {mine} "
                 "(CONFIG['cnn_augmentation'])", functools.partial(augment.augment, kind=other))
                for other in augment.KINDS if other != mine]
    mistakes.append(("only the copies: the original batch comes first, then its copies",
                     lambda X, y: (np.concatenate(augment.copies(X, mine)),
                                   np.tile(y, len(augment.copies(X, mine))))))
    return tuple(mistakes)


def network_mistakes(config):
    """The roll's MLP with its activations in another order, or one layer's replaced."""
    mine = list(config["activations"])
    variants = [(f"the activations {list(order)} are in another order: your roll number "
                 f"gives {mine}, input side first (CONFIG['activations'])", list(order))
                for order in sorted(set(itertools.permutations(mine)) - {tuple(mine)})]
    variants += [(f"hidden layer {layer + 1} uses {other}: your roll number gives {name} "
                  "(CONFIG['activations'])", [*mine[:layer], other, *mine[layer + 1:]])
                 for layer, name in enumerate(mine) for other in layers.ACTIVATIONS
                 if other != name]
    return tuple((phrase, functools.partial(ref_mlp_forward, activations=activations))
                 for phrase, activations in variants)


#: roll-dependent reference name -> config -> ((mistake, wrong answer), ...)
ROLL_MISTAKES = {
    "pool_forward": lambda config: _other_pooling(config, "forward"),
    "pool_backward": lambda config: _other_pooling(config, "backward"),
    "run_optimizer": _optimizer_mistakes,
    "augment": _augment_mistakes,
    "my_network": network_mistakes,
    "campaign_profit": lambda config: _offer_mistakes(config, "campaign_profit"),
    "best_tau": lambda config: _offer_mistakes(config, "best_tau"),
}
