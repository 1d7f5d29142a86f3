"""A client written the way Triton's own examples (simple_http_infer_client.py, simple_http_model_control.py) are,
using only tritonclient.http: everything in it is what a Triton user's script does; only the model name and the
tensor shapes are kanserve's. Exits 1 with "FAILED: ..." on the first thing that does not behave like Triton.

python tests/service/triton_style_client.py -u 127.0.0.1:8000 [--request-compression-algorithm gzip]
"""
import argparse
import sys

import numpy as np
import tritonclient.http as httpclient
from tritonclient.utils import InferenceServerException

MODEL = "fasterkan"


def fail(what: str) -> None:
    print(f"FAILED: {what}")
    sys.exit(1)


def infer(client, images, request_compression=None, response_compression=None, class_count=0):
    inputs = [httpclient.InferInput("images", list(images.shape), "FP32")]
    inputs[0].set_data_from_numpy(images, binary_data=True)
    outputs = [httpclient.InferRequestedOutput("logits", binary_data=False, class_count=class_count)]
    return client.infer(MODEL, inputs, outputs=outputs, query_params={"test_1": 1, "test_2": 2},
                        request_compression_algorithm=request_compression,
                        response_compression_algorithm=response_compression)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("-u", "--url", default="localhost:8000")
    parser.add_argument("--request-compression-algorithm", default=None)
    parser.add_argument("--response-compression-algorithm", default=None)
    flags = parser.parse_args()
    client = httpclient.InferenceServerClient(url=flags.url)

    if not (client.is_server_live() and client.is_server_ready() and client.is_model_ready(MODEL)):
        fail("health")
    metadata, config = client.get_model_metadata(MODEL), client.get_model_config(MODEL)
    if metadata["inputs"][0]["name"] != "images" or config["input"][0]["format"] != "FORMAT_NCHW":
        fail("metadata/config")

    images = np.random.default_rng(0).random((4, 1, 28, 28), dtype=np.float32)
    before = client.get_inference_statistics(model_name=MODEL)["model_stats"]
    result = infer(client, images, flags.request_compression_algorithm, flags.response_compression_algorithm)
    logits = result.as_numpy("logits")
    print(result.get_response())
    if logits.shape != (4, 10):
        fail("output shape")
    after = client.get_inference_statistics(model_name=MODEL)["model_stats"]
    if sum(s["inference_count"] for s in after) - sum(s["inference_count"] for s in before) != 4:
        fail("Inference Statistics")

    top3 = infer(client, images, class_count=3).as_numpy("logits")
    for row, classes in zip(logits, top3, strict=True):
        value, index, _label = str(classes[0]).split(":")  # JSON BYTES come back as str
        if int(index) != int(np.argmax(row)) or abs(float(value) - row.max()) > 1e-4:
            fail("classification")

    index = client.get_model_repository_index()
    if not any(m["name"] == MODEL and m["state"] == "READY" for m in index):
        fail("repository index")

    try:
        infer_wrong = httpclient.InferInput("images", [1, 1, 28, 28], "FP32")
        infer_wrong.set_data_from_numpy(images[:1])
        client.infer("wrong_model_name", [infer_wrong])
        fail("expected error message for wrong model name")
    except InferenceServerException as ex:
        print(ex)
        if not ex.message().startswith("Request for unknown model"):
            fail("improper error message for wrong model name")
    print("PASS")


if __name__ == "__main__":
    main()
