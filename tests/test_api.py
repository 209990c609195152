"""The prediction API: every route, every refusal (status and a JSON error), the hostile
corpus through /predict, and a v2 round trip with a real client against a real server."""

from __future__ import annotations

import base64
import io
import json
import socket
import threading
import time

import numpy as np
import pytest
from PIL import Image

from fmnist_core.cli import main

from hostile import encode, garment, make_hostile_corpus

MB = 2**20
COUNT = 12


@pytest.fixture(scope="module")
def served(tiny_model):
    from fmnist_core.serving import load_served

    return load_served(tiny_model, single_images=False)


@pytest.fixture(scope="module")
def client(served):
    from fastapi.testclient import TestClient

    from fmnist_core.serving.app import create_app

    with TestClient(create_app(served), raise_server_exceptions=False) as test_client:
        yield test_client


@pytest.fixture(scope="module")
def images() -> np.ndarray:
    """Enough images for a body over the API's inline size (the thread pool answers it)."""
    rng = np.random.default_rng(0)
    return rng.integers(0, 256, (COUNT, 28, 28)).astype(np.float32)


def _v2(images: np.ndarray, datatype: str = "FP32", **extra) -> dict:
    data = images.astype(np.uint8 if datatype == "UINT8" else np.float32)
    return {
        "inputs": [
            {"name": "images", "shape": list(images.shape), "datatype": datatype, "data": data.ravel().tolist()}
        ],
        **extra,
    }


def _refused(response, status: int, *words: str) -> None:
    assert response.status_code == status, response.text
    body = response.json()
    assert set(body) >= {"error"} and isinstance(body["error"], str)
    assert "Traceback" not in response.text and "\n" not in body["error"]
    for word in words:
        assert word in body["error"], body["error"]


# ------------------------------------------------------------------ the protocols


def test_health_and_metadata(client):
    assert client.get("/v2/health/live").json() == {"live": True}
    assert client.get("/v2/health/ready").json() == {"ready": True}
    assert client.get("/v2").json()["name"] == "fmnist-studio"
    meta = client.get("/v2/models/tiny").json()
    assert meta["inputs"] == [{"name": "images", "datatype": "FP32", "shape": [-1, 28, 28]}]
    assert [o["name"] for o in meta["outputs"]] == ["probabilities", "label", "unsure"]
    assert client.get("/v2/models/tiny/ready").json() == {"name": "tiny", "ready": True}
    assert client.get("/v1/models/tiny").json()["model_version_status"][0]["state"] == "AVAILABLE"
    assert "/v2/models/{name}/infer" in client.get("/openapi.json").json()["paths"]
    assert client.get("/docs").status_code == 200


@pytest.mark.parametrize(
    "method, path",
    [
        ("get", "/v2/models/other"),
        ("get", "/v2/models/other/ready"),
        ("get", "/v1/models/other"),
        ("post", "/v2/models/other/infer"),
        ("post", "/v1/models/other:predict"),
    ],
)
def test_unknown_model_is_404(client, method, path):
    _refused(client.request(method, path, json=_v2(np.zeros((1, 28, 28)))), 404, "'other'", "'tiny'")


def test_v2_infer_gives_the_app_probabilities(client, served, images):
    expected = served.classifier.predict_proba(images)
    body = client.post("/v2/models/tiny/infer", json=_v2(images, id="42")).json()
    assert body["id"] == "42" and body["model_name"] == "tiny"
    outputs = {o["name"]: o for o in body["outputs"]}
    assert outputs["probabilities"]["shape"] == [COUNT, 10]
    np.testing.assert_allclose(np.reshape(outputs["probabilities"]["data"], (COUNT, 10)), expected, atol=1e-6)
    assert outputs["label"]["data"] == expected.argmax(axis=1).tolist()
    assert outputs["unsure"]["data"] == (expected.max(axis=1) < 0.5).tolist()


def test_v2_uint8_flat_nested_and_chosen_outputs(client, served, images):
    expected = served.classifier.predict_proba(images[:1])
    flat = _v2(images[:1].reshape(1, 784), "UINT8", outputs=[{"name": "label"}])
    body = client.post("/v2/models/tiny/infer", json=flat).json()
    assert [o["name"] for o in body["outputs"]] == ["label"]
    assert body["outputs"][0]["data"] == [int(expected.argmax())]
    nested = _v2(images[:1])
    nested["inputs"][0]["data"] = images[:1].tolist()
    body = client.post("/v2/models/tiny/infer", json=nested).json()
    np.testing.assert_allclose(body["outputs"][0]["data"], expected[0], atol=1e-6)


def test_v2_binary_tensor_data(client, served, images):
    header = json.dumps(
        {
            "inputs": [
                {
                    "name": "images",
                    "shape": [COUNT, 28, 28],
                    "datatype": "FP32",
                    "parameters": {"binary_data_size": images.nbytes},
                }
            ]
        }
    ).encode()
    response = client.post(
        "/v2/models/tiny/infer",
        content=header + images.astype("<f4").tobytes(),
        headers={"Inference-Header-Content-Length": str(len(header))},
    )
    labels = {o["name"]: o for o in response.json()["outputs"]}["label"]["data"]
    assert labels == served.classifier.predict_proba(images).argmax(axis=1).tolist()


def test_tf_serving_predict(client, served, images):
    expected = served.classifier.predict_proba(images)
    for payload in (
        {"instances": images.tolist()},
        {"instances": images.reshape(COUNT, 784).tolist()},
        {"instances": [{"images": image.tolist()} for image in images]},
        {"inputs": {"images": images.tolist()}},
    ):
        body = client.post("/v1/models/tiny:predict", json=payload).json()
        np.testing.assert_allclose(body["predictions"], expected, atol=1e-6)


def _with(tensor_changes: dict) -> dict:
    payload = _v2(np.zeros((1, 28, 28)))
    payload["inputs"][0].update(tensor_changes)
    return payload


V2_REFUSALS = [
    ("not JSON", b"{bad", 400, "not valid JSON"),
    ("a list", b"[1, 2]", 400, "JSON object"),
    ("no inputs", {"outputs": []}, 400, '"inputs"'),
    ("two inputs", {"inputs": [{}, {}]}, 400, '"inputs"'),
    ("input name", _with({"name": "x"}), 400, "'images'"),
    ("shape not numbers", _with({"shape": ["1", 28, 28]}), 400, "shape"),
    ("datatype", _with({"datatype": "INT32"}), 422, "FP32 or UINT8"),
    ("fp64", _with({"datatype": "FP64"}), 422, "FP32 or UINT8"),
    ("wrong shape", _with({"shape": [1, 32, 32]}), 422, "[N, 28, 28]"),
    ("rank 1", _with({"shape": [784]}), 422, "[N, 784]"),
    ("too few numbers", _with({"data": [0] * 783}), 422, "783 numbers"),
    ("ragged", _with({"data": [[0] * 28] * 27 + [[0] * 27]}), 422, "equal length"),
    ("strings", _with({"data": ["a"] * 784}), 422, "numbers"),
    ("data not a list", _with({"data": 7}), 422, "list of numbers"),
    (
        "NaN",
        b'{"inputs": [{"name": "images", "shape": [1, 784], "datatype": "FP32", "data": [' + b"NaN, " * 783 + b"0]}]}",
        422,
        "NaN",
    ),
    ("over 255", _with({"data": [300] * 784}), 422, "0..255"),
    ("negative", _with({"data": [-1] * 784}), 422, "0..255"),
    ("uint8 fraction", _with({"datatype": "UINT8", "data": [0.5] * 784}), 422, "whole numbers"),
    ("huge N", _with({"shape": [10**9, 784]}), 413, "1024"),
    ("N zero", _with({"shape": [0, 784], "data": []}), 422, "at least one"),
    ("unknown output", {**_v2(np.zeros((1, 28, 28))), "outputs": [{"name": "logits"}]}, 400, "'logits'"),
    ("binary size", _with({"parameters": {"binary_data_size": 10}}), 400, "binary_data_size"),
]


@pytest.mark.parametrize(
    "payload, status, words", [case[1:3] + (case[3:],) for case in V2_REFUSALS], ids=[case[0] for case in V2_REFUSALS]
)
def test_v2_refusals(client, payload, status, words):
    body = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
    _refused(client.post("/v2/models/tiny/infer", content=body), status, *words)


V1_REFUSALS = [
    ({"rows": []}, 400, "instances"),
    ({"instances": []}, 422, "non-empty"),
    ({"instances": [[0] * 100]}, 422, "784"),
    ({"instances": [[float("inf")] * 784]}, 422, "infinite"),
    ({"instances": [[0] * 784] * 1025}, 413, "1024"),
]


@pytest.mark.parametrize("payload, status, words", V1_REFUSALS)
def test_tf_serving_refusals(client, payload, status, words):
    _refused(client.post("/v1/models/tiny:predict", content=json.dumps(payload)), status, words)


def test_body_limits(client):
    _refused(client.post("/v2/models/tiny/infer", content=b" " * (25 * MB + 1)), 413, "25 MB")

    def chunks():  # no Content-Length: the limit still holds as the bytes arrive
        for _ in range(26):
            yield b" " * MB

    _refused(client.post("/v2/models/tiny/infer", content=chunks()), 413, "25 MB")
    _refused(client.get("/nowhere"), 404, "/nowhere")
    _refused(client.get("/v2/models/tiny/infer"), 405)
    assert client.get("/v2/health/live").status_code == 200


def test_a_bug_is_a_500_with_a_message_not_a_traceback(client, served, monkeypatch):
    def broken(images):
        raise RuntimeError("secret internals")

    monkeypatch.setattr(served.classifier, "predict_proba", broken)
    response = client.post("/v2/models/tiny/infer", json=_v2(np.zeros((1, 28, 28))))
    _refused(response, 500, "RuntimeError")
    assert "secret" not in response.text


# ------------------------------------------------------------------ images as people have them


def _png(array: np.ndarray) -> bytes:
    return encode(Image.fromarray(array), "PNG")


def test_predict_photo_and_sample(client):
    files = [
        ("files", ("shirt.jpg", encode(Image.fromarray(garment()), "JPEG"), "image/jpeg")),
        ("files", ("sample.png", _png(np.eye(28, dtype=np.uint8) * 200), "image/png")),
    ]
    response = client.post("/predict", files=files, params={"top_k": 2})
    assert response.status_code == 200, response.text
    rows = response.json()["predictions"]
    assert [row["file"] for row in rows] == ["shirt.jpg", "sample.png"]
    assert [row["input"] for row in rows] == ["photo", "fmnist"]
    for row in rows:
        assert len(row["top_k"]) == 2 and row["top_k"][0]["label"] == row["label"]
        assert isinstance(row["unsure"], bool) and 0 <= row["confidence"] <= 1
        png = base64.b64decode(row["image28"].removeprefix("data:image/png;base64,"))
        assert Image.open(io.BytesIO(png)).size == (28, 28)
    sample = np.asarray(
        Image.open(io.BytesIO(base64.b64decode(rows[1]["image28"].removeprefix("data:image/png;base64,"))))
    )
    np.testing.assert_array_equal(sample, np.eye(28, dtype=np.uint8) * 200)


def test_predict_drawing_takes_the_sketch_path(client):
    canvas = np.full((280, 280, 3), 255, np.uint8)
    canvas[40:240, 100:104] = canvas[40:240, 176:180] = canvas[40:44, 100:180] = 0  # trousers-ish
    response = client.post(
        "/predict", params={"drawings": "true"}, files={"files": ("drawing.png", _png(canvas), "image/png")}
    )
    assert response.status_code == 200, response.text
    assert response.json()["predictions"][0]["input"] == "sketch"


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    return make_hostile_corpus(tmp_path_factory.mktemp("hostile"))


@pytest.mark.filterwarnings("ignore::PIL.Image.DecompressionBombWarning")
def test_hostile_corpus_one_by_one(client, corpus):
    statuses = {}
    for case in corpus:
        response = client.post("/predict", files={"files": (case.path.name, case.path.read_bytes())})
        if case.valid:
            assert response.status_code == 200, (case.name, response.text)
            assert response.json()["predictions"][0]["file"] == case.path.name
        else:
            _refused(response, response.status_code)
            assert 400 <= response.status_code < 500, case.name
            statuses[case.name] = response.status_code
    assert statuses["zlib_bomb"] == statuses["huge_header"] == 413
    assert statuses["svg"] == statuses["pdf"] == statuses["html_as_png"] == 415
    assert statuses["truncated_jpeg"] == statuses["one_pixel"] == 422
    assert client.get("/v2/health/ready").status_code == 200


@pytest.mark.filterwarnings("ignore::PIL.Image.DecompressionBombWarning")
def test_hostile_corpus_in_one_request_keeps_order(client, corpus):
    files = [("files", (case.path.name, case.path.read_bytes())) for case in corpus]
    response = client.post("/predict", files=files)
    body = response.json()
    bad = [case for case in corpus if not case.valid]
    assert response.status_code == 422  # the first bad file is empty: a damaged image
    assert body["error"].startswith(f"{len(bad)} of {len(corpus)} files could not be classified")
    for case, row in zip(corpus, body["predictions"], strict=True):
        assert ("label" in row) == case.valid and ("error" in row) == (not case.valid), case.name


def test_predict_refusals(client):
    one = ("files", ("a.png", _png(np.eye(28, dtype=np.uint8) * 200)))
    _refused(client.post("/predict", json={"files": []}), 415, "multipart")
    _refused(client.post("/predict", data={"other": "x"}, files=[("junk", ("x", b"x"))]), 422, "files")
    _refused(client.post("/predict", data={"files": "text"}), 415)
    _refused(client.post("/predict", files=[one] * 65), 413, "64")
    _refused(client.post("/predict", files=[one], params={"top_k": 0}), 422, "top_k")
    garbage = client.post(
        "/predict", content=b"\x00garbage--", headers={"Content-Type": "multipart/form-data; boundary=x"}
    )
    _refused(garbage, garbage.status_code)
    assert 400 <= garbage.status_code < 500
    assert client.post("/predict", files=[one] * 64).status_code == 200


# ------------------------------------------------------------------ a real server, a real client


@pytest.fixture(scope="module")
def server(served):
    import uvicorn

    from fmnist_core.serving.app import create_app

    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    uvicorn_server = uvicorn.Server(uvicorn.Config(create_app(served), log_level="warning"))
    thread = threading.Thread(target=uvicorn_server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not uvicorn_server.started and time.monotonic() < deadline:
        time.sleep(0.05)
    assert uvicorn_server.started
    yield f"127.0.0.1:{sock.getsockname()[1]}"
    uvicorn_server.should_exit = True
    thread.join(10)
    sock.close()


def test_tritonclient_round_trip(server, served, images):
    import tritonclient.http as triton
    from tritonclient.utils import InferenceServerException

    client = triton.InferenceServerClient(server)
    try:
        assert client.is_server_live() and client.is_server_ready() and client.is_model_ready("tiny")
        assert client.get_model_metadata("tiny")["inputs"][0]["name"] == "images"
        expected = served.classifier.predict_proba(images)
        for datatype, array in (("FP32", images), ("UINT8", images.reshape(COUNT, 784).astype(np.uint8))):
            for binary in (True, False):  # the binary data extension, and plain JSON
                tensor = triton.InferInput("images", list(array.shape), datatype)
                tensor.set_data_from_numpy(array, binary_data=binary)
                result = client.infer("tiny", [tensor])
                np.testing.assert_allclose(result.as_numpy("probabilities"), expected, atol=1e-6)
                assert result.as_numpy("label").tolist() == expected.argmax(axis=1).tolist()
        with pytest.raises(InferenceServerException, match="no model named"):
            client.infer("nope", [tensor])
    finally:
        client.close()


@pytest.mark.slow
def test_single_images_take_the_litert_path(tiny_model, images):
    """As in the app: one image through LiteRT (converted in a child process), same answers."""
    from fmnist_core.prediction import predict, predict_engine
    from fmnist_core.serving import load_served

    served = load_served(tiny_model)
    assert predict_engine(served.classifier) == "LiteRT"
    expected = served.classifier.predict_proba(images)  # three images: TensorFlow
    np.testing.assert_allclose(predict(served.classifier, images[:1])[0].probabilities, expected[0], atol=1e-5)


def test_served_names():
    from fmnist_core.serving import BUNDLED_NAME, served_name

    assert served_name(None) == BUNDLED_NAME
    assert served_name("shirts") == served_name("/models/shirts/") == "shirts"
    assert served_name("/models/shirts/model.keras") == "shirts"


def test_serve_with_a_missing_model_is_one_line(tmp_path, capsys):
    assert main(["serve", "--model", str(tmp_path / "nowhere"), "--port", "1"]) == 1
    err = capsys.readouterr().err
    assert err.startswith("error:") and "Traceback" not in err
