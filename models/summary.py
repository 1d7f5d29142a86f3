"""Layer tables in torchsummary's format, so `kanserve summary` can be checked row for row against the report."""
import torch
from torch import nn


def _counted_params(module: nn.Module) -> int:
    """torchsummary counts only a module's own `.weight` and `.bias` (so SelfAttention.gamma is left out)."""
    return sum(t.numel() for t in (getattr(module, "weight", None), getattr(module, "bias", None))
               if isinstance(t, torch.Tensor))


def layer_table(model: nn.Module) -> list[tuple[str, list[int], int]]:
    """Rows (`Type-index`, output shape with -1 batch, params) in forward-hook order, as torchsummary lists them.

    Like torchsummary, Sequential/ModuleList containers and the model itself get no row, and a module
    called twice gets two rows.
    """
    rows, hooks = [], []

    def hook(module, _inputs, output):
        name = f"{type(module).__name__}-{len(rows) + 1}"
        rows.append((name, [-1, *output.shape[1:]], _counted_params(module)))

    for m in model.modules():
        if m is not model and not isinstance(m, (nn.Sequential, nn.ModuleList)):
            hooks.append(m.register_forward_hook(hook))
    try:
        was_training = model.training
        model.eval()
        with torch.no_grad():
            model(torch.zeros(2, 1, 28, 28))
        model.train(was_training)
    finally:
        for h in hooks:
            h.remove()
    return rows


def format_table(model: nn.Module) -> str:
    rows = layer_table(model)
    lines = [f"{'Layer (type)':>30}  {'Output Shape':>25}  {'Param #':>12}", "=" * 71]
    lines += [f"{name:>30}  {shape!s:>25}  {params:>12,}" for name, shape, params in rows]
    total = sum(p for _, _, p in rows)
    every = sum(p.numel() for p in model.parameters())
    trainable = sum(p.numel() for p in model.parameters() if p.requires_grad)
    lines += ["=" * 71, f"Total params: {total:,}",
              f"parameters(): {every:,} ({trainable:,} trainable; torchsummary counts only .weight/.bias)"]
    return "\n".join(lines)


def model_list() -> str:
    """Every registered model: name, parameters(), and the first line of its builder's docstring."""
    from models.registry import create_model, describe_model, list_models

    lines = [f"{'model':<16}{'parameters':>12}  description", "-" * 71]
    for name in list_models():
        params = sum(p.numel() for p in create_model(name).parameters())
        lines.append(f"{name:<16}{params:>12,}  {describe_model(name)}")
    lines.append("`kanserve summary NAME` prints a model's layer table.")
    return "\n".join(lines)
