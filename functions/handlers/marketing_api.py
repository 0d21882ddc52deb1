"""MarketingApiFunction: the marketing API: profiles (marketing.routes) and scoring configuration, rules and
settings (scoring.routes)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from aws_lambda_powertools import Logger
from aws_lambda_powertools.logging import correlation_paths

from leadstream.http import create_resolver
from leadstream.settings import get_settings
from marketing import routes as profile_routes
from scoring import routes as scoring_routes

if TYPE_CHECKING:
    from aws_lambda_powertools.utilities.typing import LambdaContext

logger = Logger()
app = create_resolver(allowed_origins=get_settings().allowed_origins)
app.include_router(profile_routes.router)
app.include_router(scoring_routes.router)


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_HTTP)
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return app.resolve(event, context)
