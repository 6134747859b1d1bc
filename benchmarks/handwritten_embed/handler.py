# The hand-written baseline for the embedding example: what a user writes without LIT, run in the
# LIT function image (same Python, ONNX Runtime, tokenizer and model file) with its CMD replaced.
import glob

import numpy as np
import onnxruntime as ort
from tokenizers import Tokenizer

options = ort.SessionOptions()
options.intra_op_num_threads = options.inter_op_num_threads = 1
session = ort.InferenceSession(glob.glob("/var/task/model/*.onnx")[0], options, providers=["CPUExecutionProvider"])
names = [i.name for i in session.get_inputs()]
tokenizer = Tokenizer.from_file("/var/task/model/tokenizer.json")
tokenizer.enable_truncation(64)
tokenizer.enable_padding()


def handler(event, context):
    encodings = tokenizer.encode_batch(event["texts"])
    ids = np.array([e.ids for e in encodings], np.int64)
    mask = np.array([e.attention_mask for e in encodings], np.int64)
    hidden = session.run(None, dict(zip(names, (ids, mask))))[0]
    weights = mask[:, :, None].astype(np.float32)
    vectors = (hidden * weights).sum(1) / weights.sum(1)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    return {"predictions": vectors.tolist()}
