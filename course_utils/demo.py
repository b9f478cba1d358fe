"""Train the reference small CNN on the shipped Fashion-MNIST subset, and report.

    python -m course_utils.demo                 # 2 epochs; under a minute on a laptop CPU
    python -m course_utils.demo --epochs 5 --device cuda

Prints the device, the parameter count, a progress bar per epoch, the test accuracy and
the seconds it took. Everything runs offline on the data shipped in data/.
"""

from __future__ import annotations

import argparse
import time

from course_utils.data import load_fashion_mnist
from course_utils.device import describe_device, get_device, seed_everything
from course_utils.reference.modules import small_cnn
from course_utils.train import evaluate, fit


def main(argv: list[str] | None = None) -> dict:
    """Run the demonstration; returns its numbers (also printed).

    Args:
        argv: command-line arguments (default: sys.argv[1:]).

    Returns:
        {"device", "parameters", "epochs", "test_loss", "test_accuracy", "seconds",
        "stopped_early"}.
    """
    parser = argparse.ArgumentParser(
        prog="python -m course_utils.demo",
        description="Train small_cnn() on the shipped Fashion-MNIST subset and report.",
    )
    parser.add_argument("--epochs", type=int, default=2, help="passes over the training set")
    parser.add_argument("--device", default=None, help='"cpu", "cuda", "mps" (default: best)')
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--lr", type=float, default=2e-3, help="Adam's learning rate")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--time-budget", type=float, default=None, help="stop training after this many seconds"
    )
    parser.add_argument("--no-progress", action="store_true", help="no progress bars")
    args = parser.parse_args(argv)

    started = time.perf_counter()
    device = get_device(args.device)
    seed_everything(args.seed)
    x_train, y_train = load_fashion_mnist("train")
    x_test, y_test = load_fashion_mnist("test")
    model = small_cnn()
    parameters = sum(p.numel() for p in model.parameters())
    print(f"device: {describe_device(device)}")
    print(f"model: small_cnn(), {parameters:,} parameters")
    print(f"data: Fashion-MNIST subset, {len(x_train):,} training and {len(x_test):,} test images")

    history = fit(
        model,
        (x_train, y_train),
        epochs=args.epochs,
        device=device,
        lr=args.lr,
        batch_size=args.batch_size,
        seed=args.seed,
        time_budget=args.time_budget,
        progress=not args.no_progress,
    )
    test_loss, test_accuracy = evaluate(model, (x_test, y_test), device=device)
    seconds = time.perf_counter() - started
    if history.stopped_early and args.no_progress:  # with bars, fit has said so already
        print(f"stopped early: {history.stop_reason}")
    print(f"test accuracy: {100 * test_accuracy:.1f}% (loss {test_loss:.3f})")
    print(f"time: {seconds:.1f} s for {history.epochs} epoch(s), data loading included")
    return {
        "device": str(device),
        "parameters": parameters,
        "epochs": history.epochs,
        "test_loss": test_loss,
        "test_accuracy": test_accuracy,
        "seconds": seconds,
        "stopped_early": history.stopped_early,
    }


if __name__ == "__main__":
    main()
