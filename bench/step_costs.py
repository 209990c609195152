"""Where a training step of a zoo model goes: each layer's forward pass and its gradients,
timed alone on one batch, next to the whole step (forward, loss, gradients, Adam update).

    .venv/bin/python bench/step_costs.py [--model fast_cnn] [--batch 128]

Each figure is the fastest of three rounds of 50 calls, in ms per batch; "with gradients"
is the forward pass and the backward pass (the gradients of the layer's weights and, unless
it is the first layer with weights, of its input). The parts need not add up to the step:
TensorFlow fuses some work and runs some side by side.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

ROUNDS, CALLS = 3, 50


def fastest_ms(call: Callable[[], object]) -> float:
    import tensorflow as tf

    for _ in range(5):
        call()  # trace and warm up
    best = float("inf")
    for _ in range(ROUNDS):
        start = time.perf_counter()
        for _ in range(CALLS):
            result = call()
        for tensor in tf.nest.flatten(result):
            tensor.numpy()  # wait for the last call to finish before stopping the clock
        best = min(best, (time.perf_counter() - start) / CALLS * 1000)
    return best


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="fast_cnn")
    parser.add_argument("--batch", type=int, default=128)
    args = parser.parse_args()

    import numpy as np
    import tensorflow as tf

    from fmnist_core.classes import NUM_CLASSES
    from fmnist_core.cli.bench import training_step
    from fmnist_core.zoo import ZOO

    if args.model not in ZOO or ZOO[args.model].family != "keras":
        parser.error(f"--model must be a Keras model of the zoo, not {args.model!r}")
    model = ZOO[args.model].build()
    rng = np.random.default_rng(0)  # the time a step takes does not depend on what it sees
    images = tf.constant(rng.integers(0, 256, (args.batch, 28, 28)).astype(np.float32))
    labels = tf.constant(rng.integers(0, NUM_CLASSES, args.batch))

    step = training_step(model, images, labels)
    print(f"{args.model}, batch {args.batch}: one training step {fastest_ms(step):.2f} ms")
    print(f"{'layer':<24} {'output':<14} {'forward ms':>10} {'with gradients ms':>17}")
    x = images
    for number, layer in enumerate(model.layers[1:]):  # after the Input
        # The first layer with weights needs no input gradient: nothing before it learns.
        needs_input_gradient = any(earlier.trainable_weights for earlier in model.layers[1 : number + 1])

        @tf.function
        def forward(layer=layer, x=x) -> tf.Tensor:
            return layer(x, training=True)

        @tf.function
        def gradients(layer=layer, x=x, wrt_input=needs_input_gradient) -> list[tf.Tensor]:
            with tf.GradientTape() as tape:
                tape.watch(x)
                out = layer(x, training=True)
            sources = ([x] if wrt_input else []) + list(layer.trainable_weights)
            return tape.gradient(out, sources, output_gradients=tf.ones_like(out))

        grad_ms = fastest_ms(gradients) if (layer.trainable_weights or needs_input_gradient) else 0.0
        y = forward()
        print(f"{layer.name:<24} {'x'.join(map(str, y.shape[1:])):<14} {fastest_ms(forward):>10.2f} {grad_ms:>17.2f}")
        x = y
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
