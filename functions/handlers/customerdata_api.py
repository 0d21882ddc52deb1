"""CustomerDataApiFunction: imports under /marketing/imports and the access export (customerdata.routes),
exports under /marketing/exports and /crm/exports (customerdata.export_routes), a person's consents
(customerdata.consents), erasures under /marketing/privacy/erasures (customerdata.erasure_routes), on the
one API framework (leadstream.api)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from aws_lambda_powertools import Logger
from aws_lambda_powertools.logging import correlation_paths

from customerdata import consents as consent_routes
from customerdata import erasure_routes, export_routes
from customerdata import routes as customerdata_routes
from leadstream.api import Api
from leadstream.http import cors_config, create_resolver
from leadstream.settings import get_settings

if TYPE_CHECKING:
    from aws_lambda_powertools.utilities.typing import LambdaContext

logger = Logger()
_origins = get_settings().allowed_origins
app = create_resolver(allowed_origins=_origins, enable_validation=True)
api = Api(app, cors_config(_origins))
customerdata_routes.register(api)
consent_routes.register(api)
erasure_routes.register(api)
export_routes.register(api)


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_HTTP)
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return api.denial(event) or app.resolve(event, context)
