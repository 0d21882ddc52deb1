"""MarketingApiFunction: the marketing API's profiles (marketing.routes) and scoring configuration, rules
and settings (scoring.routes), and webhook subscriptions (integrations.routes), on the one API framework
(leadstream.api); it also serves the OpenAPI document of the whole authenticated API."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from aws_lambda_powertools import Logger
from aws_lambda_powertools.logging import correlation_paths

from closedloop.accounts import person_revenue
from handlers import openapi_document
from integrations import routes as webhook_routes
from leadstream.api import Api
from leadstream.http import cors_config, create_resolver
from leadstream.settings import get_settings
from marketing import routes as profile_routes
from scoring import routes as scoring_routes

if TYPE_CHECKING:
    from aws_lambda_powertools.utilities.typing import LambdaContext

logger = Logger()
_origins = get_settings().allowed_origins
app = create_resolver(allowed_origins=_origins, enable_validation=True)
api = Api(app, cors_config(_origins))
profile_routes.register(api, revenue_of=person_revenue)  # the 360° view shows revenue
scoring_routes.register(api)
webhook_routes.register(api)
openapi_document.serve(api, "/marketing/openapi.json")


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_HTTP)
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return api.denial(event) or app.resolve(event, context)
