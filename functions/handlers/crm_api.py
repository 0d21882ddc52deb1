"""The CRM HTTP API (routes under /crm): one Lambda function, one resolver, one module per resource.

Thin: the role policy of the route is checked first (a 403 never depends on the body), then the resolver
validates the request against the route's models, runs the route and maps domain errors to problem+json.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from aws_lambda_powertools import Logger
from aws_lambda_powertools.logging import correlation_paths

from closedloop.accounts import present_account
from crm import conversion, forecast
from crm.resources import (
    accounts,
    activities,
    attachments,
    contacts,
    contracts,
    deals,
    leads,
    orders,
    pipelines,
    products,
    quotes,
    tickets,
    timeline,
)
from handlers import openapi_document
from leadstream.api import Api
from leadstream.http import cors_config, create_resolver
from leadstream.settings import get_settings

if TYPE_CHECKING:
    from aws_lambda_powertools.utilities.typing import LambdaContext

logger = Logger()
_origins = get_settings().allowed_origins
app = create_resolver(allowed_origins=_origins, enable_validation=True)
api = Api(app, cors_config(_origins))

# Each module registers its routes; add new ones to these lists.
CORE = (contacts, leads, conversion, pipelines, deals, forecast, activities, timeline)
COMMERCE = (products, quotes, orders, contracts, tickets, attachments)
# An account's GET shows its people's engagement and its revenue, which the closed loop keeps.
accounts.register(api, present=present_account)
for module in (*CORE, *COMMERCE):
    module.register(api)
openapi_document.serve(api, "/crm/openapi.json")


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_HTTP)
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return api.denial(event) or app.resolve(event, context)
