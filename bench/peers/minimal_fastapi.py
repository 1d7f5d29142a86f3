"""The peer kanserve must beat: the ~20-line FastAPI endpoint a user would write instead of a model server.

One onnxruntime session, `await request.json()`, `session.run` inline on the event loop, a dict back.
Run: PEER_MODEL=model_repository/fasterkan/1/model.onnx uvicorn bench.peers.minimal_fastapi:app
"""
import os

import numpy as np
import onnxruntime as ort
from fastapi import FastAPI, Request

options = ort.SessionOptions()
options.intra_op_num_threads = int(os.environ.get("PEER_THREADS", "1"))
session = ort.InferenceSession(os.environ["PEER_MODEL"], options, providers=["CPUExecutionProvider"])
app = FastAPI()


@app.post("/v2/models/{name}/infer")
async def infer(name: str, request: Request) -> dict:
    body = await request.json()
    tensor = body["inputs"][0]
    x = np.asarray(tensor["data"], dtype=np.float32).reshape(tensor["shape"])
    logits = session.run(None, {"images": x})[0]
    return {"model_name": name, "outputs": [{"name": "logits", "datatype": "FP32", "shape": list(logits.shape),
                                             "data": logits.ravel().tolist()}]}
