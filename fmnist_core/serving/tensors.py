"""Protocol payloads to the dataset's images and back: Open Inference Protocol v2 (KServe,
Triton, MLServer) and TensorFlow Serving's REST shape.

Pure NumPy and plain JSON, so every refusal is testable without a server. Statuses: 400 for a
body that is not a protocol request at all (not JSON, missing fields, unknown tensor names),
422 for a well-formed request whose values the model cannot take (datatype, shape, count,
NaN, pixels outside 0..255), 413 for too many images.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

import numpy as np

from fmnist_core.classifier import BATCH
from fmnist_core.errors import FmnistError
from fmnist_core.prediction import Prediction

INPUT = "images"  # the one input tensor: (N, 28, 28) or (N, 784), pixels 0..255
DATATYPES = ("FP32", "UINT8")
OUTPUTS = {"probabilities": "FP32", "label": "INT64", "unsure": "BOOL"}  # name -> datatype
MAX_IMAGES = BATCH  # per request: one call of the classifier
PIXELS = 28 * 28
SHAPES = ("[N, 28, 28]", "[N, 784]")


class RequestRefused(FmnistError):
    """A request the API refuses, with the HTTP status that says why."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


def parse_json(body: bytes) -> dict[str, Any]:
    """The body as a JSON object, or 400."""
    try:
        payload = json.loads(body)
    except (ValueError, UnicodeDecodeError) as exc:
        raise RequestRefused(400, f"the body is not valid JSON ({str(exc)[:80]})") from None
    if not isinstance(payload, dict):
        raise RequestRefused(400, "the body must be a JSON object")
    return payload


def v2_payload(body: bytes, header_length: str | None) -> tuple[dict[str, Any], bytes]:
    """A v2 request as (its JSON, the binary tensor data after it): the binary data
    extension, tritonclient's default, sends the JSON's length in Inference-Header-Content-Length."""
    if header_length is None:
        return parse_json(body), b""
    if not header_length.isdigit() or int(header_length) > len(body):
        raise RequestRefused(
            400, f"Inference-Header-Content-Length {header_length!r} does not fit a body of {len(body)} bytes"
        )
    return parse_json(body[: int(header_length)]), body[int(header_length) :]


def v2_images(payload: dict[str, Any], binary: bytes = b"") -> np.ndarray:
    """The `images` tensor of a v2 inference request as float32 (N, 28, 28): JSON numbers in
    `data` (flat or nested), or little-endian binary data after the JSON."""
    inputs = payload.get("inputs")
    if not isinstance(inputs, list) or len(inputs) != 1 or not isinstance(inputs[0], dict):
        raise RequestRefused(400, f'expected "inputs": a list of one tensor named "{INPUT}"')
    tensor = inputs[0]
    if tensor.get("name") != INPUT:
        raise RequestRefused(400, f"unknown input {tensor.get('name')!r}: this model's one input is named {INPUT!r}")
    datatype = tensor.get("datatype")
    if datatype not in DATATYPES:
        raise RequestRefused(422, f"datatype {datatype!r} is not supported: send FP32 or UINT8")
    shape = tensor.get("shape")
    if not isinstance(shape, list) or not all(type(d) is int for d in shape):
        raise RequestRefused(400, '"shape" must be a list of whole numbers, e.g. [1, 28, 28]')
    if len(shape) not in (2, 3) or shape[1:] not in ([28, 28], [PIXELS]):
        raise RequestRefused(422, f"shape {shape} is not one this model takes: {' or '.join(SHAPES)}")
    _check_count(shape[0])
    parameters = tensor.get("parameters")
    if isinstance(parameters, dict) and "binary_data_size" in parameters:
        values = _binary(binary, parameters["binary_data_size"], datatype)
    else:
        values = _numbers(tensor.get("data"))
    if values.shape not in (tuple(shape), (shape[0] * PIXELS,)):
        raise RequestRefused(
            422,
            f"data holds {values.size} numbers laid out as "
            f"{list(values.shape)}; shape {shape} needs {shape[0] * PIXELS}, "
            "flat or nested as the shape says",
        )
    return _pixels(values.reshape(-1, 28, 28), datatype)


def v2_requested_outputs(payload: dict[str, Any]) -> list[str]:
    """The outputs a v2 request asks for, in order; all of them when it names none."""
    requested = payload.get("outputs")
    if requested is None:
        return list(OUTPUTS)
    names = (
        [item.get("name") if isinstance(item, dict) else item for item in requested]
        if isinstance(requested, list)
        else [requested]
    )
    unknown = [name for name in names if name not in OUTPUTS]
    if unknown:
        raise RequestRefused(400, f"unknown output {unknown[0]!r}: this model's outputs are {', '.join(OUTPUTS)}")
    return [str(name) for name in names]


def v2_outputs(predictions: Sequence[Prediction], names: Sequence[str]) -> list[dict[str, Any]]:
    """The v2 output tensors (data flattened row-major, as the protocol has it)."""
    count = len(predictions)
    columns = {
        "probabilities": ([count, 10], np.stack([p.probabilities for p in predictions]).ravel().tolist()),
        "label": ([count], [p.label for p in predictions]),
        "unsure": ([count], [p.unsure for p in predictions]),
    }
    return [
        {"name": name, "datatype": OUTPUTS[name], "shape": columns[name][0], "data": columns[name][1]} for name in names
    ]


def v1_images(payload: dict[str, Any]) -> np.ndarray:
    """TensorFlow Serving's `instances` (row format; each an image, or an object with an
    `images` key) or `inputs` (columnar) as float32 (N, 28, 28)."""
    if "instances" in payload:
        rows = payload["instances"]
        if isinstance(rows, list) and rows and all(isinstance(row, dict) for row in rows):
            rows = [row.get(INPUT) for row in rows]
    elif "inputs" in payload:
        rows = payload["inputs"]
        if isinstance(rows, dict):
            rows = rows.get(INPUT)
    else:
        raise RequestRefused(400, 'expected {"instances": [image, ...]}, each image 28x28 or 784 pixels in 0..255')
    if not isinstance(rows, list) or not rows:
        raise RequestRefused(422, '"instances" must be a non-empty list of images')
    _check_count(len(rows))
    values = _numbers(rows)
    if values.shape[1:] not in ((28, 28), (PIXELS,)):
        raise RequestRefused(
            422, f"the instances are laid out as {list(values.shape)}: each must be 28x28 or 784 pixels"
        )
    return _pixels(values.reshape(-1, 28, 28), "FP32")


def _check_count(count: int) -> None:
    if count < 1:
        raise RequestRefused(422, f"a batch of {count} images: send at least one")
    if count > MAX_IMAGES:
        raise RequestRefused(413, f"a batch of {count} images is over the limit of {MAX_IMAGES} per request: split it")


def _numbers(data: Any) -> np.ndarray:
    """JSON numbers (flat or nested lists) as a float64 array, or 422."""
    if not isinstance(data, list):
        raise RequestRefused(422, '"data" must be a list of numbers (the pixels)')
    try:
        return np.asarray(data, dtype=np.float64)
    except (TypeError, ValueError):
        raise RequestRefused(422, "the pixels must be numbers, in lists of equal length") from None


def _binary(binary: bytes, size: Any, datatype: str) -> np.ndarray:
    """Binary tensor data: FP32 as little-endian 4-byte floats, UINT8 as bytes."""
    if type(size) is not int or size != len(binary):
        raise RequestRefused(400, f"binary_data_size {size!r} does not match the {len(binary)} bytes after the JSON")
    dtype = np.dtype("<f4") if datatype == "FP32" else np.dtype(np.uint8)
    if size % dtype.itemsize:
        raise RequestRefused(422, f"{size} bytes are not a whole number of {datatype} values")
    return np.frombuffer(binary, dtype).astype(np.float64)


def _pixels(values: np.ndarray, datatype: str) -> np.ndarray:
    """Refuse what no image holds; float32 as the models take it."""
    if not np.isfinite(values).all():
        raise RequestRefused(422, "the pixels hold NaN or infinite values")
    if values.min() < 0 or values.max() > 255:
        raise RequestRefused(
            422,
            f"pixels must be in 0..255 (bright garment on black, as the "
            f"dataset stores them); got {values.min():g} to {values.max():g}",
        )
    if datatype == "UINT8" and (values != np.round(values)).any():
        raise RequestRefused(422, "UINT8 pixels must be whole numbers")
    return values.astype(np.float32)
