"""The `kanserve` command. Heavy imports (torch, onnxruntime) happen inside each subcommand, so `serve`
never loads torch and `--help` is instant."""
import argparse
import json
import sys


def cmd_summary(args) -> None:
    from models.registry import create_model
    from models.summary import format_table

    print(format_table(create_model(args.model)))


def cmd_list(args) -> None:
    from models.registry import list_models

    print("\n".join(list_models()))


def cmd_download(args) -> None:
    from models.data import download_mnist

    print(f"MNIST verified in {download_mnist(args.data_dir)}")


def cmd_train(args) -> None:
    from models.train import TrainConfig, train

    cfg = TrainConfig(model=args.model, data_dir=args.data_dir, out=args.out, epochs=args.epochs,
                      batch_size=args.batch_size, lr=args.lr, seed=args.seed, device=args.device,
                      val_holdout=args.val_holdout, train_subset=args.train_subset,
                      max_steps_per_epoch=args.max_steps)
    train(cfg, resume=args.resume)


def cmd_evaluate(args) -> None:
    import torch

    from models.data import load_mnist
    from models.train import evaluate, load_checkpoint, to_tensor

    model, _ = load_checkpoint(args.checkpoint)
    images, labels = load_mnist("test", args.data_dir)
    acc = evaluate(model, to_tensor(images), torch.tensor(labels).long())
    result = {"accuracy": acc, "n": len(labels)}
    print(json.dumps(result) if args.json else f"accuracy={acc:.4f} n={len(labels)}")


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="kanserve", description=__doc__)
    sub = p.add_subparsers(dest="command", required=True)

    s = sub.add_parser("summary", help="print a model's layer table in the report's (torchsummary) format")
    s.add_argument("model")
    s.set_defaults(func=cmd_summary)
    sub.add_parser("models", help="list registered model names").set_defaults(func=cmd_list)

    s = sub.add_parser("download", help="download and verify MNIST")
    s.add_argument("--data-dir", default=None, help="default: $KANSERVE_DATA_DIR, then ./data/mnist")
    s.set_defaults(func=cmd_download)

    s = sub.add_parser("train", help="train a registered model on MNIST")
    s.add_argument("--model", required=True)
    s.add_argument("--data-dir", default=None, help="default: $KANSERVE_DATA_DIR, then ./data/mnist")
    s.add_argument("--epochs", type=int, default=3)
    s.add_argument("--out", required=True)
    s.add_argument("--batch-size", type=int, default=128)
    s.add_argument("--lr", type=float, default=2e-3)
    s.add_argument("--seed", type=int, default=0)
    s.add_argument("--device", choices=["auto", "cpu", "cuda"], default="auto")
    s.add_argument("--resume", action="store_true", help="continue from OUT/last.pt exactly")
    s.add_argument("--val-holdout", type=int, default=0, metavar="N",
                   help="hold out the last N training images (never trained on); report val_accuracy each epoch")
    s.add_argument("--train-subset", type=int, default=None, help="use only the first N training images")
    s.add_argument("--max-steps", type=int, default=None, help="cap optimizer steps per epoch")
    s.set_defaults(func=cmd_train)

    s = sub.add_parser("evaluate", help="test accuracy of a checkpoint on the 10,000 MNIST test images")
    s.add_argument("--checkpoint", required=True)
    s.add_argument("--data-dir", default=None)
    s.add_argument("--json", action="store_true")
    s.set_defaults(func=cmd_evaluate)

    from bench.commands import register as register_bench
    from export.commands import register as register_export
    from service.commands import register as register_service

    for register in (register_export, register_service, register_bench):
        register(sub)
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
