"""ts.utils.util: the helpers handlers import, as TorchServe defines them."""

from __future__ import annotations

import inspect
import itertools
import json
import logging
import os
from typing import Any

from lit_runtime.adapters._server import PredictionException

__all__ = ["PredictionException", "list_classes_from_module", "load_label_mapping", "map_class_to_label"]
logger = logging.getLogger(__name__)


def list_classes_from_module(module: Any, parent_class: type | None = None) -> list[type]:
    classes = [c for _, c in inspect.getmembers(module, inspect.isclass) if c.__module__ == module.__name__]
    return classes if parent_class is None else [c for c in classes if issubclass(c, parent_class)]


def load_label_mapping(mapping_file_path: str) -> dict[str, str] | None:
    """index_to_name.json as {"0": "name", ...} (older {"object_type_names": [...]} and
    {"0": ["id", "name"]} forms too); None when the file is missing."""
    if not os.path.isfile(mapping_file_path):
        logger.warning("%r is missing. Inference output will not include class name.", mapping_file_path)
        return None
    with open(mapping_file_path) as f:
        mapping = json.load(f)
    if not isinstance(mapping, dict):
        raise Exception('index->name JSON mapping should be in "class": "label" format.')
    if "object_type_names" in mapping and isinstance(mapping["object_type_names"], list):
        return {str(k): v for k, v in enumerate(mapping["object_type_names"])}
    for key, value in mapping.items():
        new_value = value[-1] if isinstance(value, list) else value
        if not isinstance(new_value, str):
            raise Exception("labels in index->name mapping must be either str or List[str]")
        mapping[key] = new_value
    return mapping


def map_class_to_label(probs: Any, mapping: Any = None, lbl_classes: Any = None) -> list[dict[str, Any]]:
    """[{label: probability}] per row, as TorchServe's image classifier answers."""
    if not isinstance(probs, list):
        raise Exception("Convert classes to list before doing mapping")
    if mapping is not None and not isinstance(mapping, dict):
        raise Exception("Mapping must be a dict")
    if lbl_classes is None:
        lbl_classes = itertools.repeat(range(len(probs[0])), len(probs))
    return [
        {(mapping[str(c)] if mapping is not None else str(c)): p for c, p in zip(*row)}
        for row in zip(lbl_classes, probs)
    ]
