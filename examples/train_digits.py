"""Train an MLP and a small convolutional net on scikit-learn's 8x8 handwritten digits, with chainrule.

    python examples/train_digits.py                 # both models; plots and checkpoints in ./digits-output
    python examples/train_digits.py --model cnn --epochs 20 --seed 1
    mpiexec -n 2 python examples/train_digits.py --model cnn --distributed   # data-parallel on 2 processes

The data ship inside scikit-learn (1,797 images, no download). A fixed, stratified quarter is held out; the
script prints the held-out accuracy of each model, saves a plot of training loss and accuracy per epoch as PNG,
and a checkpoint of the trained weights (cr.save). Needs the examples extra: pip install "chainrule[examples]".

With ``--distributed`` (under mpiexec; the mpi extra) every process trains the same model on its share of each
batch through ``chainrule.distributed.DataParallel``; the gradients are averaged, so the run computes what one
process computes on whole batches (the conv net, which has no dropout, to rounding). Only the main process prints
and writes files.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np

import chainrule as cr
from chainrule import nn, optim


def load_digits(seed: int):
    from sklearn.datasets import load_digits as sklearn_digits
    from sklearn.model_selection import train_test_split

    digits = sklearn_digits()
    images = (digits.images / 16.0).astype(np.float64)  # pixel values 0..16 -> 0..1
    x_train, x_test, y_train, y_test = train_test_split(
        images, digits.target, test_size=0.25, random_state=seed, stratify=digits.target
    )
    mean, std = x_train.mean(), x_train.std()
    return (x_train - mean) / std, (x_test - mean) / std, y_train, y_test


def mlp() -> nn.Module:
    return nn.Sequential(nn.Flatten(), nn.Linear(64, 128), nn.ReLU(), nn.Dropout(0.1), nn.Linear(128, 10))


def cnn() -> nn.Module:
    return nn.Sequential(
        nn.Conv2d(1, 16, 3, padding=1),  # 16 x 8 x 8
        nn.ReLU(),
        nn.MaxPool2d(2),  # 16 x 4 x 4
        nn.Conv2d(16, 32, 3, padding=1),  # 32 x 4 x 4
        nn.ReLU(),
        nn.MaxPool2d(2),  # 32 x 2 x 2
        nn.Flatten(),
        nn.Linear(128, 10),
    )


def accuracy(model: nn.Module, x: np.ndarray, y: np.ndarray, distributed: bool = False) -> float:
    """The fraction of ``x`` classified right; with ``distributed``, each process scores its share."""
    rank, size = 0, 1
    if distributed:
        import chainrule.distributed as dist

        rank, size = dist.rank(), dist.world_size()
    model.eval()
    with cr.no_grad():
        predicted = model(x[rank::size]).numpy().argmax(axis=1)
    model.train()
    right = np.asarray(float((predicted == y[rank::size]).sum()))
    if distributed:
        right = dist.all_reduce(right, "sum")
    return float(right) / len(x)


def train(
    name: str,
    model: nn.Module,
    data,
    epochs: int,
    seed: int,
    batch: int = 32,
    progress: bool = True,
    distributed: bool = False,
):
    x_train, x_test, y_train, y_test = data
    if name == "cnn":
        x_train, x_test = x_train[:, None], x_test[:, None]  # one channel
    else:
        x_train, x_test = x_train.reshape(len(x_train), -1), x_test.reshape(len(x_test), -1)
    rank, size = 0, 1
    if distributed:
        import chainrule.distributed as dist

        rank, size = dist.rank(), dist.world_size()
        model = dist.DataParallel(model)  # rank 0's weights everywhere; gradients averaged after backward
    opt = optim.Adam(model.parameters(), lr=3e-3, weight_decay=1e-4)
    schedule = optim.CosineAnnealingLR(opt, T_max=epochs)
    order = np.random.default_rng(seed)  # the same permutation on every process
    history = {"loss": [], "train accuracy": [], "held-out accuracy": []}
    try:
        from tqdm import tqdm
    except ImportError:
        tqdm = None
    show = progress and rank == 0
    epochs_bar = tqdm(range(epochs), desc=name, unit="epoch", disable=not show) if tqdm else range(epochs)
    for _ in epochs_bar:
        losses = []
        permutation = order.permutation(len(x_train))
        for start in range(0, len(x_train), batch):
            rows = permutation[start : start + batch]
            if len(rows) < size:
                continue  # a last batch too small to give every process an example
            mine = rows[rank::size]
            # the batch's mean loss, as this process's share of it: summed here, averaged over processes
            per_example = nn.functional.cross_entropy(model(x_train[mine]), y_train[mine], reduction="sum")
            loss = per_example * (size / len(rows))
            opt.zero_grad()
            loss.backward()
            opt.step()
            losses.append(loss.item())
        schedule.step()
        history["loss"].append(_mean_over_processes(losses, distributed))
        history["train accuracy"].append(accuracy(model, x_train, y_train, distributed))
        history["held-out accuracy"].append(accuracy(model, x_test, y_test, distributed))
        if tqdm and show:
            latest = {"loss": f"{history['loss'][-1]:.3f}", "held_out": f"{history['held-out accuracy'][-1]:.3f}"}
            epochs_bar.set_postfix(latest)
    return history


def _mean_over_processes(values: list[float], distributed: bool) -> float:
    if not distributed:
        return float(np.mean(values))
    import chainrule.distributed as dist

    return float(dist.all_reduce(np.asarray(np.mean(values)), "mean"))


def plot(histories: dict[str, dict], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, (left, right) = plt.subplots(1, 2, figsize=(10, 4))
    for (name, history), color in zip(histories.items(), ["tab:blue", "tab:orange"]):
        epochs = range(1, len(history["loss"]) + 1)
        left.plot(epochs, history["loss"], color=color, label=name)
        right.plot(epochs, history["train accuracy"], "--", color=color, label=f"{name} (train)")
        right.plot(epochs, history["held-out accuracy"], color=color, label=f"{name} (held out)")
    left.set(xlabel="epoch", ylabel="training loss (cross-entropy)", yscale="log", title="Loss")
    right.set(xlabel="epoch", ylabel="accuracy", ylim=(0.8, 1.0), title="Accuracy on 8x8 digits")
    left.legend()
    right.legend()
    figure.tight_layout()
    figure.savefig(path, dpi=120)
    plt.close(figure)


def main(argv: list[str] | None = None) -> dict[str, float]:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", choices=["mlp", "cnn", "both"], default="both")
    parser.add_argument("--epochs", type=int, default=None, help="default: 30 (MLP), 15 (conv net)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, default=Path("digits-output"))
    parser.add_argument("--quiet", action="store_true", help="no progress bar")
    parser.add_argument("--distributed", action="store_true", help="data-parallel under mpiexec (the mpi extra)")
    args = parser.parse_args(argv)
    main_process = True
    if args.distributed:
        import chainrule.distributed as dist

        dist.init()
        main_process = dist.is_main()
    if main_process:
        args.out.mkdir(parents=True, exist_ok=True)
    data = load_digits(args.seed)
    results, histories = {}, {}
    for name in ["mlp", "cnn"] if args.model == "both" else [args.model]:
        cr.manual_seed(args.seed)  # the same weights and dropout masks every run
        model = mlp() if name == "mlp" else cnn()
        epochs = args.epochs or (30 if name == "mlp" else 15)
        start = time.perf_counter()
        histories[name] = train(
            name, model, data, epochs, args.seed, progress=not args.quiet, distributed=args.distributed
        )
        results[name] = histories[name]["held-out accuracy"][-1]
        seconds = time.perf_counter() - start
        if args.distributed:
            dist.save(model.state_dict(), args.out / f"{name}.crz")  # the main process writes, the others wait
        else:
            cr.save(model.state_dict(), args.out / f"{name}.crz")
        if main_process:
            print(f"{name}: held-out accuracy {results[name]:.4f} after {epochs} epochs ({seconds:.1f} s)")
    if main_process:
        plot(histories, args.out / "digits.png")
        print(f"wrote {args.out / 'digits.png'} and the checkpoints in {args.out}")
    return results


if __name__ == "__main__":
    main()
