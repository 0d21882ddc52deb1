"""CampaignApiFunction: the marketing email API, the routers of four domains in one function: templates
and suppressions (mail.routes), segments (audience.routes), campaigns (campaigns.routes) and journeys
(journeys.routes), on the one API framework (leadstream.api). Every route needs the marketing policy."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from aws_lambda_powertools import Logger
from aws_lambda_powertools.logging import correlation_paths

from audience import routes as audience_routes
from campaigns import routes as campaign_routes
from journeys import routes as journey_routes
from leadstream.api import Api
from leadstream.http import cors_config, create_resolver
from leadstream.settings import get_settings
from mail import routes as mail_routes

if TYPE_CHECKING:
    from aws_lambda_powertools.utilities.typing import LambdaContext

logger = Logger()
_origins = get_settings().allowed_origins
app = create_resolver(allowed_origins=_origins, enable_validation=True)
api = Api(app, cors_config(_origins))
for domain in (mail_routes, audience_routes, campaign_routes, journey_routes):
    domain.register(api)


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_HTTP)
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return api.denial(event) or app.resolve(event, context)
