"""The losses a recipe names (`loss = "cross_entropy"`): one entry each, built on demand
(torch is imported when a builder runs, never when this module loads)."""
from __future__ import annotations

from .registry import Loss, register

LENET_J = 1.0  # the positive constant j of LeCun et al.'s eq. 9


def _cross_entropy(classes: int):
    import torch.nn.functional as F
    return F.cross_entropy


def _sequence_cross_entropy(classes: int):
    import torch.nn.functional as F

    def sequence_cross_entropy(out, y):
        """Scores for every position [N, T, V] (classes on the last axis) against the
        next tokens [N, T]: the mean over every position of every sequence."""
        return F.cross_entropy(out.reshape(-1, out.shape[-1]), y.reshape(-1))
    return sequence_cross_entropy


def _mse(classes: int):
    import torch.nn.functional as F

    def mse(out, y):
        if y.is_floating_point() and y.shape == out.shape:  # vector targets
            return F.mse_loss(out, y)
        target = F.one_hot(y, out.shape[1]).to(out.dtype) if out.shape[1] > 1 else \
            y.to(out.dtype).view(-1, 1)
        return F.mse_loss(out, target)
    return mse


def _perceptron(classes: int):
    import torch.nn.functional as F

    def perceptron(scores, y):
        """Rosenblatt's error-correction rule as a loss: per R-unit j with target t_j
        (one-vs-rest) and response y_j = [s_j >= 0], sum_j (y_j - t_j) s_j; its gradient
        step is exactly w_j <- w_j + lr (t_j - y_j) a."""
        target = F.one_hot(y, scores.shape[1]).to(scores.dtype)
        fired = (scores >= 0).to(scores.dtype)
        return ((fired - target) * scores).sum(1).mean()
    return perceptron


def _lenet(classes: int):
    import torch

    def lenet(scores, y):
        """LeCun 1998 eq. 9 on scores = -distances: E = y_D + log(e^-j + sum e^-y_i)."""
        padded = torch.cat([scores, scores.new_full((scores.shape[0], 1), -LENET_J)], 1)
        return (-scores.gather(1, y.view(-1, 1)).squeeze(1) + padded.logsumexp(1)).mean()
    return lenet


register(Loss(name="cross_entropy", fields={}, output="logits", build=_cross_entropy,
              cite="torch.nn.functional.cross_entropy",
              doc="softmax over the first output, then the negative log-likelihood of the "
                  "target class"))
register(Loss(name="mse", fields={}, output="scores", build=_mse,
              cite="Rumelhart, Hinton & Williams 1986",
              doc="mean squared error against one-hot targets (or vector targets of the "
                  "output's shape; one output unit: the class index itself)"))
register(Loss(name="lenet", fields={}, output="logits", build=_lenet,
              cite="LeCun et al. 1998, eq. 9",
              doc="the RBF output's penalty y_D + log(e^-j + sum_i e^-y_i), j = 1, on scores "
                  "that are negative distances"))
register(Loss(name="perceptron", fields={}, output="scores", build=_perceptron,
              cite="Rosenblatt 1958",
              doc="the error-correction rule as a loss: sum_j (y_j - t_j) s_j per response "
                  "unit, y_j = [s_j >= 0]"))
register(Loss(name="sequence_cross_entropy", fields={}, output="logits", axis=-1,
              build=_sequence_cross_entropy, cite="nanoGPT model.py (Karpathy 2022)",
              doc="a language model's next-token loss: scores for every position [N, T, "
                  "vocab] against targets [N, T], cross-entropy averaged over all positions"))
