"""ts.torch_handler.base_handler.BaseHandler for images without PyTorch: what TorchServe's does for
a model whose serialized file is a .onnx (an onnxruntime.InferenceSession on the CPU), with the same
attributes, initialize, preprocess -> inference -> postprocess and handle. TorchScript and eager
PyTorch models cannot load here; initialize says so and what to do."""

from __future__ import annotations

import abc
import logging
import os
import time
from typing import Any

from ..utils.util import load_label_mapping

logger = logging.getLogger(__name__)


def setup_ort_session(model_path: str, map_location: Any = None) -> Any:
    import onnxruntime as ort
    from lit_runtime import threads

    options = ort.SessionOptions()
    # the function's CPU share, where TorchServe takes every host core (psutil.cpu_count)
    options.intra_op_num_threads = threads.available_cpus()
    return ort.InferenceSession(model_path, providers=["CPUExecutionProvider"], sess_options=options)


class BaseHandler(abc.ABC):  # noqa: B024 - abstract in TorchServe too, with no abstract method
    def __init__(self) -> None:
        self.model: Any = None
        self.mapping: dict[str, str] | None = None
        self.device: Any = None
        self.initialized = False
        self.context: Any = None
        self.model_pt_path: str | None = None
        self.manifest: Any = None
        self.map_location: str | None = None
        self.explain = False
        self.target = 0
        self.profiler_args: dict[str, Any] = {}
        self.model_yaml_config: dict[str, Any] = {}

    def initialize(self, context: Any) -> None:
        self.model_yaml_config = getattr(context, "model_yaml_config", None) or {}
        properties = context.system_properties
        self.map_location = "cpu"  # Lambda has no GPU
        self.device = "cpu"
        self.manifest = context.manifest
        model_dir = properties.get("model_dir")
        model = (self.manifest or {}).get("model", {})
        if "serializedFile" in model:
            self.model_pt_path = os.path.join(model_dir, model["serializedFile"])
        if model.get("modelFile"):
            raise RuntimeError(
                f"the archive's model is eager PyTorch ({model['modelFile']} + {model.get('serializedFile')}), "
                "which needs PyTorch; LIT serves ONNX: export it with torch.onnx.export and archive the .onnx"
            )
        if self.model_pt_path is None:
            raise RuntimeError("No model weights could be loaded: the manifest names no serializedFile")
        if self.model_pt_path.endswith(".onnx"):
            self.model = setup_ort_session(self.model_pt_path, self.map_location)
            logger.info("Succesfully setup ort session")
        else:
            raise RuntimeError(
                f"{os.path.basename(self.model_pt_path)} needs PyTorch to load; LIT serves ONNX: export the "
                "model with torch.onnx.export and make the .onnx the archive's serialized file"
            )
        self.mapping = load_label_mapping(os.path.join(model_dir, "index_to_name.json"))
        self.initialized = True

    def preprocess(self, data: Any) -> Any:
        import numpy as np

        return np.asarray(data, dtype=np.float32)

    def inference(self, data: Any, *args: Any, **kwargs: Any) -> Any:
        """The session run on the graph's first input; its first output (all of them when several)."""
        import numpy as np

        inputs = self.model.get_inputs()
        feed = data if isinstance(data, dict) else {inputs[0].name: np.asarray(data)}
        outputs = self.model.run(None, feed)
        return outputs[0] if len(outputs) == 1 else outputs

    def postprocess(self, data: Any) -> Any:
        return data.tolist() if hasattr(data, "tolist") else list(data)

    def handle(self, data: Any, context: Any) -> Any:
        start_time = time.time()
        self.context = context
        metrics = self.context.metrics
        if self._is_describe():
            output = [self.describe_handle()]
        else:
            data_preprocess = self.preprocess(data)
            if not self._is_explain():
                output = self.inference(data_preprocess)
                output = self.postprocess(output)
            else:
                output = self.explain_handle(data_preprocess, data)
        metrics.add_time("HandlerTime", round((time.time() - start_time) * 1000, 2), None, "ms")
        return output

    def explain_handle(self, data_preprocess: Any, raw_data: Any) -> Any:
        raise RuntimeError("explanations (Captum) need PyTorch; LIT's TorchServe adapter does not run them")

    def _is_explain(self) -> bool:
        if self.context and self.context.get_request_header(0, "explain") == "True":
            self.explain = True
            return True
        return False

    def _is_describe(self) -> bool:
        return bool(self.context and self.context.get_request_header(0, "describe") == "True")

    def describe_handle(self) -> Any:
        return None

    def get_device(self) -> Any:
        return self.device
