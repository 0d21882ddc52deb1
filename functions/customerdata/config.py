"""Customer data configuration, parsed once from the environment that template.yaml sets."""

from __future__ import annotations

from pydantic import Field

from leadstream.models import Model
from leadstream.settings import ConfigurationError, load

# Rows per chunk: one chunk is one queue message and one worker invocation. 500 rows resolve in about
# ten BatchGetItem calls and at most 500 profile transactions, well inside the worker's timeout.
DEFAULT_CHUNK_ROWS = 500
# The largest file an import takes (S3 holds it; the split reads it as a stream).
DEFAULT_MAX_UPLOAD_BYTES = 512 * 1024 * 1024
# Exports: members or records read per page, and the size a part of the file reaches before it is uploaded
# (S3 takes parts of at least 5 MiB but the last). A step hands over to the next message after this long.
DEFAULT_EXPORT_PAGE_ROWS = 500
DEFAULT_EXPORT_PART_BYTES = 8 * 1024 * 1024
DEFAULT_EXPORT_STEP_SECONDS = 240


class CustomerDataSettings(Model, frozen=True):
    bucket: str | None = Field(alias="CUSTOMER_DATA_BUCKET", default=None, min_length=1)
    import_queue_url: str | None = Field(alias="IMPORT_QUEUE_URL", default=None, min_length=1)
    chunk_rows: int = Field(alias="IMPORT_CHUNK_ROWS", default=DEFAULT_CHUNK_ROWS, ge=1, le=10_000)
    max_upload_bytes: int = Field(alias="IMPORT_MAX_BYTES", default=DEFAULT_MAX_UPLOAD_BYTES, ge=1)
    export_page_rows: int = Field(alias="EXPORT_PAGE_ROWS", default=DEFAULT_EXPORT_PAGE_ROWS, ge=1, le=1000)
    export_part_bytes: int = Field(alias="EXPORT_PART_BYTES", default=DEFAULT_EXPORT_PART_BYTES, ge=1)
    export_step_seconds: float = Field(
        alias="EXPORT_STEP_SECONDS", default=DEFAULT_EXPORT_STEP_SECONDS, gt=0, le=840
    )

    def require_bucket(self) -> str:
        if not self.bucket:
            raise ConfigurationError("invalid Leadstream configuration: CUSTOMER_DATA_BUCKET is not set")
        return self.bucket

    def require_queue(self) -> str:
        if not self.import_queue_url:
            raise ConfigurationError("invalid Leadstream configuration: IMPORT_QUEUE_URL is not set")
        return self.import_queue_url


def customerdata_settings() -> CustomerDataSettings:
    return load(CustomerDataSettings)
