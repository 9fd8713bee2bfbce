"""Train and test steps for the PyTorch backend: per phase, `zero_grad`,
`backward` of the phase's objective, then `optimizer.apply` under
`torch.no_grad()`. Keras' PyTorch `fit` runs on one device.

`model.zero_grad()` clears every gradient before each phase: the
generator phase's backward pass also reaches the discriminator's weights.
"""

import torch
from keras import ops

from keras_genae.training import stateful


class _Backend:
    def gradients(self, model, phase, x, labels=None):
        model.zero_grad()
        losses = phase.losses(model, x, labels)
        objective = ops.cast(losses[phase.objective], "float32")
        phase.optimizer.scale_loss(objective).backward()
        grads = [v.value.grad for v in phase.variables]
        # The logged terms need no graph: free it now.
        losses = {k: v.detach() if torch.is_tensor(v) else v for k, v in losses.items()}
        return losses, grads

    def apply(self, phase, grads):
        with torch.no_grad():
            phase.optimizer.apply(grads, phase.variables)

    def snapshot(self, variables):
        with torch.no_grad():
            return [v.value.detach().clone() for v in variables]

    def restore(self, variables, values, ok):
        if bool(ok):  # eager: skip the copies when the step passed
            return
        for v, old in zip(variables, values):
            v.assign(old)

    def global_code(self, model, code):
        return code


def train_step(model, data):
    return stateful.train_step(model, data, _Backend())


def test_step(model, data):
    with torch.no_grad():
        return stateful.test_step(model, data, _Backend())


on_rejected = stateful.on_rejected


def prepare(model):
    model.build_optimizers()

