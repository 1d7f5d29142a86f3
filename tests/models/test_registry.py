"""Every registered model honours the contract: [N, 1, 28, 28] in [0, 1] -> logits [N, 10]."""
import pytest
import torch

from models.registry import create_model, list_models


@pytest.mark.parametrize("name", list_models())
def test_forward_shape_and_finite(name):
    torch.manual_seed(0)
    model = create_model(name).eval()
    with torch.no_grad():
        logits = model(torch.rand(3, 1, 28, 28))
    assert logits.shape == (3, 10)
    assert torch.isfinite(logits).all()


def test_unknown_name_lists_valid_models():
    with pytest.raises(ValueError, match=r"unknown model 'resnet'.*fasterkan.*mlp"):
        create_model("resnet")


def test_registry_holds_report_models_and_benchmark_variants():
    assert {"mlp", "fasterkan", "cnn_fastkan", "cnn_bsplinekan", "flat_bsplinekan", "flat_fastkan",
            "flat_fasterkan", "flat_mlp"} <= set(list_models())


def test_flat_mlp_is_parameter_matched_to_flat_fasterkan():
    def count(name):
        return sum(p.numel() for p in create_model(name).parameters())

    assert abs(count("flat_mlp") - count("flat_fasterkan")) / count("flat_fasterkan") < 0.01
