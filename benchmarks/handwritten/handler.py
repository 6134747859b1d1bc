# The hand-written baseline: what a user writes without LIT.
import base64

import cv2
import mxnet as mx
import numpy as np

net = mx.gluon.nn.SymbolBlock.imports(
    "/var/task/model/digits-symbol.json", ["data"], "/var/task/model/digits-0000.params"
)


def handler(event, context):
    img = cv2.imdecode(np.frombuffer(base64.b64decode(event["image"]), np.uint8), cv2.IMREAD_GRAYSCALE)
    x = cv2.resize(img, (8, 8), interpolation=cv2.INTER_AREA).astype(np.float32)[None, None] / 255.0
    p = mx.nd.softmax(net(mx.nd.array(x))).asnumpy()[0]
    top = np.argsort(-p)[:3]
    return {"predictions": [[{"label": str(i), "index": int(i), "probability": float(p[i])} for i in top]]}
