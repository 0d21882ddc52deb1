"""The base of every pydantic model in Leadstream.

`defer_build` leaves building a model's validator to its first use: a Lambda function imports the
models of every route and record it might need, and most invocations touch a few of them. Building all
of them at import was most of a cold start (docs/benchmarks.md); deferred, each is built once, when a
request first needs it.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict


class Model(BaseModel):
    model_config = ConfigDict(defer_build=True)
