"""Per-model training recipes: what `kanserve train` uses when --epochs/--lr are not given (torch-free, so the
command's help can show them). mlp and fasterkan are the recipes of the shipped checkpoints (checkpoints/*.pt)."""

RECIPES: dict[str, dict] = {
    "mlp": {"epochs": 4, "lr": 2e-3},
    "fasterkan": {"epochs": 15, "lr": 2e-3},
}
FALLBACK = {"epochs": 3, "lr": 2e-3}  # every other registered model


def recipe(model: str) -> dict:
    """The recipe for `model`: its own row of RECIPES, else FALLBACK."""
    return {**FALLBACK, **RECIPES.get(model, {})}


def describe() -> str:
    """One line for --help: each recipe, then the fallback."""
    rows = [f"{name} {r['epochs']} epochs, lr {r['lr']:g}" for name, r in RECIPES.items()]
    return "; ".join([*rows, f"other models {FALLBACK['epochs']} epochs, lr {FALLBACK['lr']:g}"])
