"""`serve`: the prediction API over HTTP (fmnist_core.serving), on uvicorn.

The model is loaded here first, so a wrong name is one line of error, not a worker's
traceback, and its LiteRT conversion is cached before any worker starts. With one worker
that loaded model is served; with more, each worker loads it once (from the cache).
"""

from __future__ import annotations

import argparse

from fmnist_core.cli import whole_number


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "serve",
        help="serve predictions over HTTP (Open Inference Protocol v2, TF Serving REST)",
        description="Serve one model over HTTP: Open Inference Protocol v2 (/v2/...), "
        "TensorFlow Serving's REST shape (/v1/models/NAME:predict), and image files "
        "(/predict). OpenAPI docs at /docs.",
    )
    parser.add_argument(
        "--model",
        metavar="NAME_OR_PATH",
        help="a saved model's name or folder (default: the bundled model, "
        "served as 'fashion-mnist', with its photo-tuned version for photos)",
    )
    parser.add_argument(
        "--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1: this machine only)"
    )
    parser.add_argument("--port", type=int, default=8000, help="default 8000")
    parser.add_argument(
        "--workers",
        type=whole_number("N", 1, 64),
        default=1,
        metavar="N",
        help="processes, each with its own copy of the model (default 1)",
    )
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    import os

    import uvicorn

    from fmnist_core.serving import load_served
    from fmnist_core.serving.app import MODEL_ENV, create_app

    served = load_served(args.model)
    print(f"serving {served.name!r} on http://{args.host}:{args.port} (docs: /docs; Ctrl+C stops)", flush=True)
    if args.workers == 1:
        uvicorn.run(create_app(served), host=args.host, port=args.port, log_level="warning")
    else:
        os.environ[MODEL_ENV] = args.model or ""
        uvicorn.run(
            "fmnist_core.serving.app:app_from_environment",
            factory=True,
            host=args.host,
            port=args.port,
            workers=args.workers,
            log_level="warning",
        )
    return 0
