"""SageMaker inference handler for the digits CNN (8x8 grey handwritten digits), on ONNX Runtime.

Written for SageMaker's framework containers (sagemaker-inference): model_fn loads the model from
the artifact's directory; input_fn reads JSON ({"instances": [8x8 pixel rows, ...]}, pixels 0..255)
or an image (PNG/JPEG bytes); predict_fn runs the network; output_fn answers JSON (the digit and its
probabilities) or, for other accept types, the probabilities through the toolkit's encoder.
"""

import io
import json
import os

import numpy as np
import onnxruntime as ort
from sagemaker_inference import content_types, encoder, errors

IMAGE_TYPES = ("application/x-image", "image/png", "image/jpeg")


def model_fn(model_dir):
    options = ort.SessionOptions()
    options.intra_op_num_threads = 1
    session = ort.InferenceSession(os.path.join(model_dir, "digits.onnx"), options, providers=["CPUExecutionProvider"])
    with open(os.path.join(model_dir, "labels.txt")) as f:
        labels = [line.strip() for line in f if line.strip()]
    return {"session": session, "labels": labels}


def input_fn(request_body, request_content_type):
    if request_content_type == content_types.JSON:
        doc = json.loads(request_body)
        pixels = np.asarray(doc["instances"] if isinstance(doc, dict) else doc, dtype=np.float32)
        return pixels.reshape(-1, 1, 8, 8) / 255.0
    if request_content_type in IMAGE_TYPES:
        from PIL import Image

        image = Image.open(io.BytesIO(request_body)).convert("L").resize((8, 8))
        return (np.asarray(image, dtype=np.float32) / 255.0)[None, None, :, :]
    raise errors.UnsupportedFormatError(request_content_type)


def predict_fn(input_data, model):
    session = model["session"]
    logits = session.run(None, {session.get_inputs()[0].name: input_data.astype(np.float32)})[0]
    e = np.exp(logits - logits.max(axis=1, keepdims=True))
    return {"probabilities": e / e.sum(axis=1, keepdims=True), "labels": model["labels"]}


def output_fn(prediction, accept):
    probabilities = prediction["probabilities"]
    if accept == content_types.JSON:
        labels = prediction["labels"]
        answers = [
            {"label": labels[int(p.argmax())], "probability": float(p.max()), "probabilities": p.round(6).tolist()}
            for p in probabilities
        ]
        return json.dumps({"predictions": answers}), accept
    return encoder.encode(probabilities, accept), accept
