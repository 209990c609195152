"""The prediction API as a FastAPI application: the serving protocols and image uploads.

One model per server, loaded once per worker before the first request. A tensor request of
an image or two is answered on the event loop: one image takes the classifier's LiteRT path
(about a millisecond), as in the app. Bigger bodies and uploads (decoding and the photo path,
tens of milliseconds a photo) go to the thread pool, so one slow request does not hold up
the others. Every refusal is `{"error": ...}` with its status; a traceback never leaves
the server.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any

from fastapi import FastAPI, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import UploadFile
from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from fmnist_core.errors import FmnistError, ImageTooLargeError, UnsupportedImageError
from fmnist_core.image_input import decode_image
from fmnist_core.prediction import predict
from fmnist_core.routing import ImageAnswer, predict_images, prepared_input
from fmnist_core.serving import VERSION, ServedModel, load_served
from fmnist_core.serving.tensors import (
    INPUT,
    MAX_IMAGES,
    OUTPUTS,
    RequestRefused,
    parse_json,
    v1_images,
    v2_images,
    v2_outputs,
    v2_payload,
    v2_requested_outputs,
)

MAX_BODY = 25 * 2**20  # bytes per request: the app's upload limit (.streamlit/config.toml)
MAX_FILES = 64  # images per /predict request: a photo costs about 60 ms of CPU (GrabCut)
FORM_PARTS = 10_000  # Starlette's own part limits, above ours: the body limit bounds them
INLINE_BYTES = 32 * 1024  # a body this small holds an image or two: answered on the event loop
MODEL_ENV = "FMNIST_SERVE_MODEL"  # the model a worker serves (app_from_environment)
SERVER_NAME = "fmnist-studio"

V2_EXAMPLE = {"inputs": [{"name": INPUT, "shape": [1, 784], "datatype": "UINT8", "data": [0] * 784}]}
V1_EXAMPLE = {"instances": [[0] * 784]}


def create_app(served: ServedModel) -> FastAPI:
    """The API around a loaded model."""
    app = FastAPI(
        title="Fashion-MNIST Studio prediction API",
        version=VERSION,
        description=f"Serves the model **{served.name}**. Tensors are images as the dataset "
        "stores them: 28x28 pixels in 0..255, a bright garment on black. "
        "`POST /predict` takes photos and drawings as files.",
    )
    app.add_middleware(BodyLimit, limit=MAX_BODY)
    app.add_exception_handler(FmnistError, _refused)  # RequestRefused and the core's errors
    # Starlette types every handler as taking any Exception, though it calls each with the
    # class it is registered for (Kludex/starlette#2417): these two take their own class.
    app.add_exception_handler(HTTPException, _http_error)  # type: ignore[arg-type]
    app.add_exception_handler(RequestValidationError, _invalid)  # type: ignore[arg-type]
    app.add_exception_handler(Exception, _unexpected)

    def model(name: str) -> ServedModel:
        if name != served.name:
            raise RequestRefused(404, f"no model named {name!r} here: this server serves {served.name!r}")
        return served

    @app.get("/v2/health/live", tags=["v2"])
    async def live() -> dict[str, bool]:
        return {"live": True}

    @app.get("/v2/health/ready", tags=["v2"])
    async def ready() -> dict[str, bool]:
        return {"ready": True}  # the model is loaded before the server takes requests

    @app.get("/v2", tags=["v2"])
    async def server_metadata() -> dict[str, Any]:
        return {"name": SERVER_NAME, "version": VERSION, "extensions": []}

    @app.get("/v2/models/{name}", tags=["v2"])
    async def model_metadata(name: str) -> dict[str, Any]:
        return {
            "name": model(name).name,
            "versions": [VERSION],
            "platform": served.classifier.kind,
            "inputs": [{"name": INPUT, "datatype": "FP32", "shape": [-1, 28, 28]}],
            "outputs": [
                {"name": output, "datatype": datatype, "shape": [-1, 10] if output == "probabilities" else [-1]}
                for output, datatype in OUTPUTS.items()
            ],
        }

    @app.get("/v2/models/{name}/ready", tags=["v2"])
    async def model_ready(name: str) -> dict[str, Any]:
        return {"name": model(name).name, "ready": True}

    @app.post(
        "/v2/models/{name}/infer",
        tags=["v2"],
        openapi_extra=_json_body(
            V2_EXAMPLE, f"one tensor named {INPUT!r}, FP32 or UINT8, [N, 28, 28] or [N, 784], N <= {MAX_IMAGES}"
        ),
    )
    async def infer(name: str, request: Request) -> JSONResponse:
        """Open Inference Protocol v2: probabilities, labels and the `unsure` flag."""
        chosen = model(name)
        body = await request.body()
        return await _compute(
            len(body), _v2_infer, chosen, body, request.headers.get("inference-header-content-length")
        )

    @app.get("/v1/models/{name}", tags=["TensorFlow Serving"])
    async def model_status(name: str) -> dict[str, Any]:
        model(name)
        return {
            "model_version_status": [
                {"version": VERSION, "state": "AVAILABLE", "status": {"error_code": "OK", "error_message": ""}}
            ]
        }

    @app.post(
        "/v1/models/{name}:predict",
        tags=["TensorFlow Serving"],
        openapi_extra=_json_body(V1_EXAMPLE, "instances: images of 28x28 or 784 pixels"),
    )
    async def tf_serving_predict(name: str, request: Request) -> JSONResponse:
        """TensorFlow Serving's REST shape: the probabilities of each instance, as the exported
        SavedModel's one output gives them."""
        chosen = model(name)
        body = await request.body()
        return await _compute(len(body), _v1_predict, chosen, body)

    @app.post("/predict", tags=["images"], openapi_extra=_upload_body())
    async def predict_files(
        request: Request,
        top_k: int = Query(3, ge=1, le=10, description="classes per answer"),
        drawings: bool = Query(
            False, description="the files are drawings (strokes on a plain background), as on the app's canvas"
        ),
    ) -> JSONResponse:
        """Photos, drawings or dataset-like images as files (multipart, field `files`):
        each answer has the label, confidence, `unsure`, the top-k and the 28x28 input the
        model saw (a PNG data URI)."""
        files = await _uploads(request)
        inputs = [
            lambda data=data, name=name: prepared_input(decode_image(data, name), drawings) for name, data in files
        ]
        answers = await run_in_threadpool(predict_images, served.classifier, inputs, served.photo_classifier, top_k)
        return _upload_response(served, [name for name, _ in files], answers)

    return app


def app_from_environment() -> FastAPI:
    """The factory each uvicorn worker calls: the model named by $FMNIST_SERVE_MODEL (the
    bundled one when empty), loaded once in this worker."""
    return create_app(load_served(os.environ.get(MODEL_ENV) or None))


async def _compute(size: int, work: Callable[..., JSONResponse], *args: Any) -> JSONResponse:
    """Small bodies (one image or two) on the event loop, the rest in the thread pool."""
    if size <= INLINE_BYTES:
        return work(*args)
    return await run_in_threadpool(work, *args)


def _v2_infer(served: ServedModel, body: bytes, header_length: str | None) -> JSONResponse:
    payload, binary = v2_payload(body, header_length)
    images, outputs = v2_images(payload, binary), v2_requested_outputs(payload)
    answer = {
        "model_name": served.name,
        "model_version": VERSION,
        "outputs": v2_outputs(predict(served.classifier, images), outputs),
    }
    if "id" in payload:
        answer["id"] = payload["id"]
    return JSONResponse(answer)


def _v1_predict(served: ServedModel, body: bytes) -> JSONResponse:
    predictions = predict(served.classifier, v1_images(parse_json(body)))
    return JSONResponse({"predictions": [p.probabilities.tolist() for p in predictions]})


async def _uploads(request: Request) -> list[tuple[str, bytes]]:
    """The files of a multipart request as (name, bytes), within the limits."""
    if not request.headers.get("content-type", "").startswith("multipart/form-data"):
        raise RequestRefused(
            415, 'send the images as multipart/form-data in the field "files" (curl -F files=@photo.jpg)'
        )
    form = await request.form(max_files=FORM_PARTS, max_fields=FORM_PARTS)
    parts = form.getlist("files")
    if not parts:
        raise RequestRefused(422, 'no image: send one or more files in the field "files"')
    if len(parts) > MAX_FILES:
        raise RequestRefused(413, f"more than {MAX_FILES} files in one request: split them")
    uploads = [part for part in parts if isinstance(part, UploadFile)]
    if len(uploads) != len(parts):
        raise RequestRefused(422, 'the field "files" must hold files, not text')
    return [(part.filename or f"file {i + 1}", await part.read()) for i, part in enumerate(uploads)]


def _upload_response(served: ServedModel, names: list[str], answers: list[ImageAnswer]) -> JSONResponse:
    """Every file's answer or error, in order; the status of the first failure, if any."""
    from fmnist_core.report import png_data_uri

    rows: list[dict[str, Any]] = []
    for name, answer in zip(names, answers):
        if answer.prediction is None or answer.result is None:
            rows.append({"file": name, "error": str(answer.error)})
            continue
        rows.append(
            {
                "file": name,
                **answer.prediction.as_dict(),
                "input": answer.result.kind,
                "image28": png_data_uri(answer.result.image28),
            }
        )
    failed = [(name, answer.error) for name, answer in zip(names, answers) if answer.error]
    body: dict[str, Any] = {"model": served.name, "predictions": rows}
    if not failed:
        return JSONResponse(body)
    name, error = failed[0]
    summary = (
        f"{name}: {error}"
        if len(names) == 1
        else f"{len(failed)} of {len(names)} files could not be classified ({name}: {error})"
    )
    return JSONResponse({"error": summary, **body}, status_code=status_of(error))


def status_of(error: BaseException) -> int:
    """The HTTP status that says why a request or an image was refused."""
    if isinstance(error, RequestRefused):
        return error.status
    if isinstance(error, ImageTooLargeError):
        return 413
    if isinstance(error, UnsupportedImageError):
        return 415
    return 422


def _error(status: int, message: str) -> JSONResponse:
    return JSONResponse({"error": message}, status_code=status)


async def _refused(request: Request, exc: Exception) -> JSONResponse:
    return _error(status_of(exc), str(exc))


async def _http_error(request: Request, exc: HTTPException) -> JSONResponse:
    detail = exc.detail if exc.status_code != 404 else f"no route {request.url.path} (see /docs)"
    return _error(exc.status_code, str(detail))


async def _invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
    problems = "; ".join(
        f"{' '.join(str(part) for part in problem['loc'])}: {problem['msg']}" for problem in exc.errors()
    )
    return _error(422, problems)


async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
    return _error(500, f"unexpected error ({type(exc).__name__}); the server is still running")


class BodyLimit:
    """Refuse a body over `limit` bytes: at once when Content-Length says so, else as soon as
    the bytes streamed in pass it (a chunked upload cannot get around the limit)."""

    def __init__(self, app: ASGIApp, limit: int) -> None:
        self.app, self.limit = app, limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        length = dict(scope["headers"]).get(b"content-length", b"0")
        if not length.isdigit() or int(length) > self.limit:
            await _error(413, self._message())(scope, receive, send)
            return
        seen = 0

        async def limited() -> Message:
            nonlocal seen
            message = await receive()
            seen += len(message.get("body", b""))
            if seen > self.limit:
                raise RequestRefused(413, self._message())
            return message

        await self.app(scope, limited, send)

    def _message(self) -> str:
        return f"the request is larger than the limit of {self.limit // 2**20} MB"


def _json_body(example: dict[str, Any], description: str) -> dict[str, Any]:
    """The JSON body a route reads itself, for the OpenAPI docs."""
    return {
        "requestBody": {
            "required": True,
            "description": description,
            "content": {"application/json": {"schema": {"type": "object"}, "example": example}},
        }
    }


def _upload_body() -> dict[str, Any]:
    return {
        "requestBody": {
            "required": True,
            "content": {
                "multipart/form-data": {
                    "schema": {
                        "type": "object",
                        "required": ["files"],
                        "properties": {
                            "files": {
                                "type": "array",
                                "maxItems": MAX_FILES,
                                "items": {"type": "string", "format": "binary"},
                            }
                        },
                    }
                }
            },
        }
    }
