"""WebsiteFunction: the public website routes (website.routes_public): landing pages and their forms,
asset downloads, the snippet, dynamic slots, pop-ups. No auth. CORS lets the snippet call the /w/ routes
from the stack's allowed origins."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from aws_lambda_powertools import Logger
from aws_lambda_powertools.logging import correlation_paths

from leadstream.http import create_resolver
from leadstream.settings import get_settings
from website import routes_public

if TYPE_CHECKING:
    from aws_lambda_powertools.utilities.typing import LambdaContext

logger = Logger()
app = create_resolver(allowed_origins=get_settings().allowed_origins)
app.include_router(routes_public.router)


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_HTTP)
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return app.resolve(event, context)
