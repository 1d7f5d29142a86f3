"""The `kanserve` command explains itself: a version, help and a shown default for every option, recipe defaults
for `train`, and `summary` without a model lists them all."""
import argparse

import pytest

from kanserve.cli import HelpFormatter, build_parser, main
from models.recipes import RECIPES, recipe


def subcommands() -> dict[str, argparse.ArgumentParser]:
    (sub,) = [a for a in build_parser()._actions if isinstance(a, argparse._SubParsersAction)]
    return dict(sub.choices)


def options(parser: argparse.ArgumentParser) -> list[argparse.Action]:
    return [a for a in parser._actions if not isinstance(a, argparse._HelpAction)]


def test_version(capsys):
    with pytest.raises(SystemExit) as done:
        main(["--version"])
    assert done.value.code == 0 and capsys.readouterr().out.startswith("kanserve 0.")


@pytest.mark.parametrize("command", sorted(subcommands()))
def test_every_option_has_help_and_shows_its_default(command):
    parser = subcommands()[command]
    assert parser.formatter_class is HelpFormatter
    text = parser.format_help()
    for action in options(parser):
        assert action.help, f"kanserve {command} {action.option_strings or action.dest}: no help"
        shown = action.default not in (None, False, "", []) and not action.required
        if shown:
            assert f"(default: {action.default})" in " ".join(text.split()), (command, action.dest)


def test_top_level_help_is_for_users():
    text = build_parser().format_help()
    assert "Heavy imports" not in text and "--help is instant" not in text  # the module docstring is for developers
    assert "--version" in text and "COMMAND --help" in text


@pytest.mark.parametrize("model", [*RECIPES, "flat_mlp"])
def test_train_takes_the_models_recipe_unless_told(model, monkeypatch):
    import models.train

    seen = []
    monkeypatch.setattr(models.train, "train", lambda cfg, resume: seen.append(cfg))
    main(["train", "--model", model])
    main(["train", "--model", model, "--epochs", "2", "--lr", "0.01", "--out", "elsewhere"])
    assert (seen[0].epochs, seen[0].lr, seen[0].out) == (recipe(model)["epochs"], recipe(model)["lr"], f"runs/{model}")
    assert (seen[1].epochs, seen[1].lr, seen[1].out) == (2, 0.01, "elsewhere")


def test_readme_recipes_are_the_shipped_checkpoints():
    import torch

    from tests.conftest import REPO_ROOT

    for name, row in RECIPES.items():
        ckpt = torch.load(REPO_ROOT / "checkpoints" / f"{name}.pt", map_location="cpu", weights_only=False)
        assert (ckpt["train_config"]["epochs"], ckpt["train_config"]["lr"]) == (row["epochs"], row["lr"]), name


def test_summary_without_a_model_lists_every_model(capsys):
    from models.registry import list_models

    main(["summary"])
    out = capsys.readouterr().out
    assert all(f"\n{name} " in out for name in list_models()) and "3,272,843" in out and "1,427,489" in out
