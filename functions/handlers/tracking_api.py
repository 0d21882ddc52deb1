"""TrackingFunction: the public HTTP routes, tracking's (Segment/RudderStack API, pixel, forms) and
email's (open, click, unsubscribe). No auth: write keys, form ids and signed tokens say whose a request is.

Routes are declared in template.yaml; errors become problem+json in leadstream.http; preflights are
answered by the resolver's CORS config (a preflight carries no write key, so it cannot be per source),
which also allows the headers browser SDKs send (tracking.routes.BROWSER_SDK_HEADERS), and only here.
"""

from __future__ import annotations

import warnings
from typing import TYPE_CHECKING, Any

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.metrics import MetricUnit

from leadstream.http import create_resolver
from leadstream.settings import get_settings
from mail import link_routes
from tracking import routes

if TYPE_CHECKING:
    from aws_lambda_powertools.utilities.typing import LambdaContext

logger = Logger()
metrics = Metrics()
# A CORS preflight stores nothing and so records no metric; that is expected, not worth a warning each time.
warnings.filterwarnings("ignore", message="No application metrics to publish", category=UserWarning)
app = create_resolver(allowed_origins=get_settings().allowed_origins, cors_headers=routes.BROWSER_SDK_HEADERS)
app.include_router(routes.router)
app.include_router(link_routes.router)


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_HTTP)
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    response = app.resolve(event, context)
    if 400 <= response["statusCode"] < 500:
        # Whole requests refused (auth, size, shape): events we never saw, so counted apart.
        metrics.add_metric(name="RequestsRejected", unit=MetricUnit.Count, value=1)
    return response
