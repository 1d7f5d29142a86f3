"""The `kanserve` command. Heavy imports (torch, onnxruntime) happen inside each subcommand, so `serve` never loads
torch and `--help` is instant."""
import argparse
import json
import sys

DESCRIPTION = ("Train, export and serve KAN and MLP classifiers of MNIST digits, and measure which is faster. "
               "`kanserve COMMAND --help` describes each command.")
DATA_DIR_HELP = ("MNIST folder (default: $KANSERVE_DATA_DIR, then ~/.cache/kanserve/mnist, downloaded there once "
                 "and checked against the canonical checksums)")


class HelpFormatter(argparse.ArgumentDefaultsHelpFormatter):
    """Every option's help ends with its default, unless the default is None, False or empty: there the help says
    what happens instead."""

    def _get_help_string(self, action: argparse.Action) -> str | None:
        if action.default is None or action.default is False or action.default in ("", []) or action.required:
            return action.help
        return super()._get_help_string(action)


def version() -> str:
    from importlib.metadata import PackageNotFoundError
    from importlib.metadata import version as installed

    try:
        return installed("kanserve")
    except PackageNotFoundError:  # run from a source tree that was never installed
        return "unknown (not installed)"


def cmd_summary(args) -> None:
    from models.registry import create_model
    from models.summary import format_table, model_list

    print(format_table(create_model(args.model)) if args.model else model_list())


def cmd_list(args) -> None:
    from models.registry import list_models

    print("\n".join(list_models()))


def cmd_download(args) -> None:
    from models.data import cache_dir, chosen_data_dir, download_mnist

    print(f"MNIST verified in {download_mnist(chosen_data_dir(args.data_dir) or cache_dir())}")


def cmd_train(args) -> None:
    from models.recipes import recipe
    from models.train import TrainConfig, train

    defaults = recipe(args.model)
    cfg = TrainConfig(model=args.model, data_dir=args.data_dir, out=args.out or f"runs/{args.model}",
                      epochs=args.epochs or defaults["epochs"], batch_size=args.batch_size,
                      lr=args.lr or defaults["lr"], seed=args.seed, device=args.device, val_holdout=args.val_holdout,
                      train_subset=args.train_subset, max_steps_per_epoch=args.max_steps)
    print(f"training {cfg.model}: {cfg.epochs} epochs, lr {cfg.lr:g}, batch {cfg.batch_size} -> {cfg.out}", flush=True)
    train(cfg, resume=args.resume)


def cmd_evaluate(args) -> None:
    import torch

    from models.data import load_mnist
    from models.train import evaluate, load_checkpoint, to_tensor

    model, _ = load_checkpoint(args.checkpoint)
    images, labels = load_mnist("test", args.data_dir)
    acc = evaluate(model, to_tensor(images), torch.tensor(labels).long(), progress=not args.no_progress)
    result = {"accuracy": acc, "n": len(labels)}
    print(json.dumps(result) if args.json else f"accuracy={acc:.4f} n={len(labels)}")


def add_model_commands(sub) -> None:
    """summary, models, download, train, evaluate: the commands of the models package."""
    from models.recipes import describe

    s = sub.add_parser("summary", help="a model's layer table in the report's (torchsummary) format; no model: "
                                       "every registered model with its parameter count")
    s.add_argument("model", nargs="?", default=None, help="a registered model name (`kanserve models` lists them)")
    s.set_defaults(func=cmd_summary)
    sub.add_parser("models", help="list the registered model names").set_defaults(func=cmd_list)

    s = sub.add_parser("download", help="download MNIST (about 11 MB) and verify its checksums")
    s.add_argument("--data-dir", default=None, help="where to put MNIST (default: $KANSERVE_DATA_DIR, then "
                                                     "~/.cache/kanserve/mnist); files already there are verified")
    s.set_defaults(func=cmd_download)

    s = sub.add_parser("train", help="train a registered model on MNIST (resumable; writes OUT/{last,best,final}.pt)")
    s.add_argument("--model", required=True, help="a registered model name (`kanserve models` lists them)")
    s.add_argument("--data-dir", default=None, help=DATA_DIR_HELP)
    s.add_argument("--out", default=None, help="run folder (default: runs/MODEL)")
    s.add_argument("--epochs", type=int, default=None,
                   help=f"epochs to train (default: the model's recipe: {describe()})")
    s.add_argument("--lr", type=float, default=None, help="peak learning rate of the one-cycle schedule (default: "
                                                          "the model's recipe, see --epochs)")
    s.add_argument("--batch-size", type=int, default=128, help="images per optimizer step")
    s.add_argument("--seed", type=int, default=0, help="seeds the initialisation and each epoch's shuffle")
    s.add_argument("--device", choices=["auto", "cpu", "cuda"], default="auto", help="auto: CUDA when torch sees it")
    s.add_argument("--resume", action="store_true", help="continue from OUT/last.pt exactly")
    s.add_argument("--val-holdout", type=int, default=0, metavar="N",
                   help="hold out the last N training images (never trained on); report val_accuracy each epoch")
    s.add_argument("--train-subset", type=int, default=None, metavar="N",
                   help="use only the first N training images (default: all)")
    s.add_argument("--max-steps", type=int, default=None, metavar="N",
                   help="cap optimizer steps per epoch (default: a whole pass over the data)")
    s.set_defaults(func=cmd_train)

    s = sub.add_parser("evaluate", help="test accuracy of a checkpoint (torch) on the 10,000 MNIST test images")
    s.add_argument("--checkpoint", required=True, help="a checkpoint written by `kanserve train` (e.g. "
                                                       "checkpoints/fasterkan.pt)")
    s.add_argument("--data-dir", default=None, help=DATA_DIR_HELP)
    s.add_argument("--json", action="store_true", help='print {"accuracy": ..., "n": ...} instead of a line')
    s.add_argument("--no-progress", action="store_true", help="no progress bar")
    s.set_defaults(func=cmd_evaluate)


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="kanserve", description=DESCRIPTION, formatter_class=HelpFormatter)
    p.add_argument("--version", action="version", version=f"%(prog)s {version()}")
    sub = p.add_subparsers(dest="command", required=True, metavar="COMMAND")
    add_model_commands(sub)

    from bench.commands import register as register_bench
    from export.commands import register as register_export
    from service.commands import register as register_service

    for register in (register_export, register_service, register_bench):
        register(sub)
    for command in sub.choices.values():
        command.formatter_class = HelpFormatter
    return p


def main(argv: list[str] | None = None) -> None:
    args = build_parser().parse_args(argv)
    try:
        args.func(args)
    except (ValueError, RuntimeError, FileNotFoundError) as e:
        print(f"kanserve {args.command}: error: {e}", file=sys.stderr)
        sys.exit(2)


if __name__ == "__main__":
    main()
