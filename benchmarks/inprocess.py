"""Run inside a LIT function image: the model's in-process costs, without the RIE round trip.

    docker run --rm -v $PWD/benchmarks:/b:ro --entrypoint /opt/lit/bin/python IMAGE /b/inprocess.py EVENT_JSON_FILE N

Prints JSON: p50 (ms) of the bare forward pass on the preprocessed input, and of the whole
in-process handler (parse, decode, preprocess, forward, postprocess, log line).
"""

import io
import json
import statistics
import sys
import time
from contextlib import redirect_stdout

from lit_runtime.app import App

event = json.load(open(sys.argv[1]))
n = int(sys.argv[2])
with redirect_stdout(io.StringIO()):
    app = App.start()
    inputs = __import__("lit_runtime.events", fromlist=["parse"]).parse(event, app.ctx.settings.input_kind).inputs
    batch = app.hooks["preprocess"](inputs, app.ctx)

    def forward():  # the engine's forward pass, every output to numpy (either engine)
        app.hooks["inference"](batch, app.ctx)

    def handle():
        app.handle(event)

    out = {}
    for name, fn in (("forward", forward), ("handler", handle)):
        for _ in range(20):
            fn()
        times = []
        for _ in range(n):
            t = time.perf_counter()
            fn()
            times.append((time.perf_counter() - t) * 1000)
        out[f"{name}_p50_ms"] = round(statistics.median(times), 4)
print(json.dumps(out))
