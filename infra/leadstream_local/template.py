"""Reads template.yaml: the one list of routes, tables, triggers and environment the local stack uses."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from leadstream_local.firehose import DeliveryStreamSpec, partition_fields
from leadstream_local.regions import DEFAULT_REGION

REPO_ROOT = Path(__file__).resolve().parents[2]
TEMPLATE_PATH = REPO_ROOT / "template.yaml"


ACCOUNT_ID = "123456789012"
REGION = DEFAULT_REGION  # the local stack's region unless it is started in another one
STACK_NAME = "leadstream-local"
# The catch-all route key of an HTTP API (an HttpApi event without Path and Method).
DEFAULT_ROUTE = "$default"
# What a generated secret holds locally (not a secret: the local stack is for development).
LOCAL_SECRET_VALUE = "leadstream-local-development-key-not-secret"
PLACEHOLDER_API_URL = "http://127.0.0.1:8787"

# What the local stack does with each resource type of template.yaml: created in moto, or made to resolve
# (Ref, Fn::GetAtt), or played by the stack itself. A test fails for a type in neither this nor
# NOT_EMULATED, so a new type gets a decision.
EMULATED_TYPES = frozenset({
    "AWS::DynamoDB::Table", "AWS::SQS::Queue", "AWS::SNS::Topic", "AWS::S3::Bucket", "AWS::KMS::Key",
    "AWS::Cognito::UserPool", "AWS::Cognito::UserPoolClient", "AWS::Cognito::UserPoolGroup",
    "AWS::Events::EventBus", "AWS::Events::Archive", "AWS::Events::Rule", "AWS::SES::ConfigurationSet",
    "AWS::SES::EmailIdentity",
    "AWS::SES::ConfigurationSetEventDestination", "AWS::SecretsManager::Secret",
    "AWS::Scheduler::ScheduleGroup", "AWS::IAM::Role",
    "AWS::Serverless::Function", "AWS::Serverless::HttpApi",
    # The lake: Firehose delivery streams are created in moto and finished by leadstream_local.firehose;
    # the Glue catalog and the Athena workgroup are created in moto (reports run on DuckDB locally).
    "AWS::KinesisFirehose::DeliveryStream", "AWS::Glue::Database", "AWS::Glue::Table",
    "AWS::Athena::WorkGroup",
})  # fmt: skip
# Types the local stack leaves out, and why. Nothing a function reads may refer to one of them.
NOT_EMULATED = {
    "AWS::S3::BucketPolicy": "policies are not checked locally (docs/local-stack.md, IAM)",
    "AWS::SNS::TopicPolicy": "policies are not checked locally (docs/local-stack.md, IAM)",
    "AWS::SQS::QueuePolicy": "policies are not checked locally (docs/local-stack.md, IAM)",
    "AWS::SNS::Subscription": "the alarm e-mail; functions' SNS subscriptions come from their SNS events",
    "AWS::CloudWatch::Alarm": "there are no CloudWatch metrics locally",
    "AWS::CloudWatch::Dashboard": "there are no CloudWatch metrics locally",
    "AWS::Logs::LogGroup": "the HTTP API's access log; locally everything logs to the terminal",
}


@dataclass(frozen=True)
class HttpRoute:
    method: str  # GET, POST ... or ANY
    path: str  # API Gateway form: /v1/{type}, /files/{proxy+}, or $default
    function: str  # logical id
    authorizer: str | None = None  # name of the JWT authorizer guarding the route; None: open

    @property
    def route_key(self) -> str:
        return DEFAULT_ROUTE if self.path == DEFAULT_ROUTE else f"{self.method} {self.path}"


@dataclass(frozen=True)
class SesEventDestination:
    """Where an SES configuration set publishes its events (SNS), and which ones."""

    configuration_set: str
    topic_arn: str
    event_types: frozenset[str]  # CloudFormation names: send, delivery, bounce, complaint, ...


@dataclass(frozen=True)
class JwtAuthorizerSpec:
    """An HTTP API JWT authorizer: the token's issuer and one of the audiences must match."""

    name: str
    issuer: str
    audience: tuple[str, ...]
    header: str = "authorization"


@dataclass(frozen=True)
class FunctionSpec:
    logical_id: str
    handler: str  # module.path.attribute
    environment: dict[str, Any]
    events: dict[str, dict[str, Any]]
    timeout: int = 3
    memory_size: int = 128
    code_dir: Path = REPO_ROOT  # CodeUri, resolved: the directory Lambda puts on sys.path
    name: str = ""  # physical FunctionName
    region: str = REGION

    @property
    def arn(self) -> str:
        return f"arn:aws:lambda:{self.region}:{ACCOUNT_ID}:function:{self.name}"

    def events_of_type(self, *types: str) -> dict[str, dict[str, Any]]:
        """This function's event sources of the given types: name -> Properties (unresolved)."""
        return {
            name: dict(event.get("Properties", {}))
            for name, event in self.events.items()
            if event.get("Type") in types
        }


@dataclass
class StackTemplate:
    """The parsed template plus the physical names of what the local stack created for it."""

    body: dict[str, Any]
    parameters: dict[str, str] = field(default_factory=dict)
    path: Path = TEMPLATE_PATH
    # logical id -> {"Ref": ..., "Arn": ..., "StreamArn": ...} once the resource exists.
    physical: dict[str, dict[str, str]] = field(default_factory=dict)
    region: str = REGION  # where its resources are created, and what AWS::Region resolves to

    @classmethod
    def load(
        cls, path: Path = TEMPLATE_PATH, *, region: str = REGION, **parameter_overrides: str
    ) -> StackTemplate:
        from cfnlint.decode import decode_str

        body, problems = decode_str(path.read_text())
        if problems or body is None:
            raise ValueError(f"cannot read {path}: {problems}")
        params = {name: str(spec.get("Default", "")) for name, spec in body.get("Parameters", {}).items()}
        params.update(parameter_overrides)
        return cls(body=dict(body), parameters=params, path=path, region=region)

    @property
    def resources(self) -> dict[str, dict[str, Any]]:
        return dict(self.body.get("Resources", {}))

    def of_type(self, resource_type: str) -> dict[str, dict[str, Any]]:
        return {name: res for name, res in self.resources.items() if res.get("Type") == resource_type}

    # --- intrinsic functions -------------------------------------------------------------------
    def resolve(self, value: Any) -> Any:
        """Resolve Ref, Fn::GetAtt, Fn::Join and Fn::Sub against parameters and created resources."""
        if isinstance(value, list):
            return [self.resolve(inner) for inner in value]
        if not isinstance(value, dict):
            return value
        if len(value) == 1:
            ((name, arg),) = value.items()
            intrinsics: dict[str, Callable[[Any], Any]] = {
                "Ref": self._ref,
                "Fn::GetAtt": self._get_att,
                "Fn::Join": self._join,
                "Fn::Sub": self._sub,
            }
            intrinsic = intrinsics.get(name)
            if intrinsic is not None:
                return intrinsic(arg)
        return {key: self.resolve(inner) for key, inner in value.items()}

    def _ref(self, name: str) -> Any:
        if name in self.parameters:
            spec = self.body.get("Parameters", {}).get(name, {})
            if spec.get("Type") == "CommaDelimitedList":
                return [part.strip() for part in self.parameters[name].split(",")]
            return self.parameters[name]
        pseudo = {
            "AWS::Region": self.region,
            "AWS::AccountId": ACCOUNT_ID,
            "AWS::URLSuffix": "amazonaws.com",
            "AWS::StackName": STACK_NAME,
            "AWS::Partition": "aws",
        }
        if name in pseudo:
            return pseudo[name]
        return self._attribute(name, "Ref")

    def _get_att(self, arg: str | list[str]) -> str:
        logical, attribute = arg.split(".", 1) if isinstance(arg, str) else arg
        return self._attribute(logical, attribute)

    def _join(self, arg: list[Any]) -> str:
        separator, parts = arg
        return str(separator).join(str(part) for part in self.resolve(parts))

    def _attribute(self, logical: str, attribute: str) -> str:
        try:
            return self.physical[logical][attribute]
        except KeyError:
            raise KeyError(f"{logical}.{attribute} is not available on the local stack") from None

    def _sub(self, arg: Any) -> str:
        text, variables = (arg, {}) if isinstance(arg, str) else (arg[0], self.resolve(arg[1]))

        def replace(match: re.Match[str]) -> str:
            name = match.group(1)
            if name in variables:
                return str(variables[name])
            if "." in name:
                logical, attribute = name.split(".", 1)
                return str(self._attribute(logical, attribute))
            return str(self._ref(name))

        return re.sub(r"\$\{([^}!]+)\}", replace, text)

    # --- what the local stack runs -------------------------------------------------------------
    def functions(self) -> list[FunctionSpec]:
        defaults = self.body.get("Globals", {}).get("Function", {})
        specs = []
        for logical, res in self.of_type("AWS::Serverless::Function").items():
            props = res.get("Properties", {})
            env = {
                **defaults.get("Environment", {}).get("Variables", {}),
                **props.get("Environment", {}).get("Variables", {}),
            }
            code_uri = props.get("CodeUri", defaults.get("CodeUri", "."))
            specs.append(
                FunctionSpec(
                    logical_id=logical,
                    handler=props["Handler"],
                    environment={key: self.resolve(value) for key, value in env.items()},
                    events=dict(props.get("Events", {})),
                    timeout=int(props.get("Timeout", defaults.get("Timeout", 3))),
                    memory_size=int(props.get("MemorySize", defaults.get("MemorySize", 128))),
                    code_dir=(self.path.parent / str(code_uri)).resolve(),
                    name=self.function_name(logical),
                    region=self.region,
                )
            )
        return specs

    def function_name(self, logical: str) -> str:
        """The FunctionName property, or a CloudFormation-like generated name."""
        props = self.resources[logical].get("Properties", {})
        if "FunctionName" in props:
            return str(self.resolve(props["FunctionName"]))
        return f"{STACK_NAME}-{logical}"

    def http_routes(self) -> list[HttpRoute]:
        routes = []
        for logical, res in self.of_type("AWS::Serverless::Function").items():
            for event in res.get("Properties", {}).get("Events", {}).values():
                if event.get("Type") == "HttpApi":
                    props = event.get("Properties", {})
                    method = str(props.get("Method", "ANY")).upper()
                    path = str(props.get("Path", DEFAULT_ROUTE))
                    authorizer = self._route_authorizer(props)
                    routes.append(HttpRoute("ANY" if method == "*" else method, path, logical, authorizer))
        return routes

    def _route_authorizer(self, props: dict[str, Any]) -> str | None:
        """The route's own Auth.Authorizer, else its API's DefaultAuthorizer; NONE opens the route."""
        api_ref = props.get("ApiId", {})
        api = api_ref.get("Ref") if isinstance(api_ref, dict) else None
        api_auth = self.resources.get(api or "", {}).get("Properties", {}).get("Auth", {})
        chosen = props.get("Auth", {}).get("Authorizer", api_auth.get("DefaultAuthorizer"))
        return None if chosen in (None, "NONE") else str(chosen)

    def jwt_authorizers(self) -> dict[str, JwtAuthorizerSpec]:
        """Every JWT authorizer of every HttpApi, resolved (the user pools must exist)."""
        found = {}
        for res in self.of_type("AWS::Serverless::HttpApi").values():
            authorizers = res.get("Properties", {}).get("Auth", {}).get("Authorizers", {})
            for name, spec in authorizers.items():
                config = self.resolve(spec.get("JwtConfiguration", {}))
                source = str(spec.get("IdentitySource", "$request.header.Authorization"))
                found[name] = JwtAuthorizerSpec(
                    name=name,
                    issuer=str(config["issuer"]),
                    audience=tuple(str(aud) for aud in config.get("audience", [])),
                    header=source.removeprefix("$request.header.").lower(),
                )
        return found

    # --- resources -----------------------------------------------------------------------------
    def create_tables(self, client: Any) -> None:
        """Create every AWS::DynamoDB::Table in `client` (moto) from the template's own definition."""
        wanted = {
            "AttributeDefinitions",
            "KeySchema",
            "GlobalSecondaryIndexes",
            "LocalSecondaryIndexes",
            "BillingMode",
            "StreamSpecification",
        }
        for logical, res in self.of_type("AWS::DynamoDB::Table").items():
            props = {key: value for key, value in res.get("Properties", {}).items() if key in wanted}
            name = res.get("Properties", {}).get("TableName", logical)
            if "StreamSpecification" in props:
                props["StreamSpecification"] = {"StreamEnabled": True, **props["StreamSpecification"]}
            table = client.create_table(TableName=name, **self.resolve(props))["TableDescription"]
            ttl = res.get("Properties", {}).get("TimeToLiveSpecification")
            if ttl:
                client.update_time_to_live(TableName=name, TimeToLiveSpecification=ttl)
            self.physical[logical] = {
                "Ref": name,
                "Arn": table["TableArn"],
                **({"StreamArn": table["LatestStreamArn"]} if "LatestStreamArn" in table else {}),
            }

    def create_queues(self, client: Any) -> None:
        """Create every AWS::SQS::Queue in `client` (moto); Ref is the queue URL, GetAtt Arn its ARN."""
        simple = {
            "ContentBasedDeduplication",
            "DelaySeconds",
            "FifoQueue",
            "MaximumMessageSize",
            "MessageRetentionPeriod",
            "ReceiveMessageWaitTimeSeconds",
            "VisibilityTimeout",
        }
        queues = self.of_type("AWS::SQS::Queue")
        for logical, res in queues.items():
            props = res.get("Properties", {})
            attributes = {key: _attribute_text(self.resolve(props[key])) for key in simple if key in props}
            name = str(self.resolve(props.get("QueueName", logical)))
            if props.get("FifoQueue") and not name.endswith(".fifo"):
                name += ".fifo"
            url = client.create_queue(QueueName=name, Attributes=attributes)["QueueUrl"]
            self.physical[logical] = {
                "Ref": url,
                "Arn": f"arn:aws:sqs:{self.region}:{ACCOUNT_ID}:{name}",
                "QueueName": name,
                "QueueUrl": url,
            }
        # A redrive policy names another queue, so it is set once every queue exists.
        for logical, res in queues.items():
            redrive = res.get("Properties", {}).get("RedrivePolicy")
            if redrive:
                client.set_queue_attributes(
                    QueueUrl=self.physical[logical]["Ref"],
                    Attributes={"RedrivePolicy": json.dumps(self.resolve(redrive))},
                )

    def create_user_pools(self, client: Any) -> None:
        """Create every Cognito user pool, app client and group in `client` (moto)."""
        for logical, res in self.of_type("AWS::Cognito::UserPool").items():
            props = self.resolve(res.get("Properties", {}))
            pool = client.create_user_pool(
                PoolName=props.get("UserPoolName", logical),
                **{
                    key: props[key]
                    for key in ("UsernameAttributes", "AutoVerifiedAttributes")
                    if key in props
                },
            )["UserPool"]
            self.physical[logical] = {
                "Ref": pool["Id"],
                "Arn": pool["Arn"],
                "ProviderName": f"cognito-idp.{self.region}.amazonaws.com/{pool['Id']}",
                "ProviderURL": f"https://cognito-idp.{self.region}.amazonaws.com/{pool['Id']}",
            }
        for logical, res in self.of_type("AWS::Cognito::UserPoolClient").items():
            props = self.resolve(res.get("Properties", {}))
            created = client.create_user_pool_client(
                UserPoolId=props["UserPoolId"],
                ClientName=props.get("ClientName", logical),
                ExplicitAuthFlows=props.get("ExplicitAuthFlows", []),
            )["UserPoolClient"]
            self.physical[logical] = {"Ref": created["ClientId"]}
        for logical, res in self.of_type("AWS::Cognito::UserPoolGroup").items():
            props = self.resolve(res.get("Properties", {}))
            client.create_group(
                GroupName=props["GroupName"],
                UserPoolId=props["UserPoolId"],
                Description=props.get("Description", ""),
            )
            self.physical[logical] = {"Ref": props["GroupName"]}

    def create_buckets(self, client: Any) -> None:
        """Create every AWS::S3::Bucket in `client` (moto), named as CloudFormation would if unnamed."""
        for logical, res in self.of_type("AWS::S3::Bucket").items():
            props = res.get("Properties", {})
            name = str(self.resolve(props.get("BucketName", f"{STACK_NAME}-{logical}".lower())))
            client.create_bucket(Bucket=name)
            self.physical[logical] = {
                "Ref": name,
                "Arn": f"arn:aws:s3:::{name}",
                "DomainName": f"{name}.s3.amazonaws.com",
                "RegionalDomainName": f"{name}.s3.{self.region}.amazonaws.com",
            }

    def create_event_buses(self, client: Any) -> None:
        """Create every EventBridge bus and archive in `client` (moto); an archive keeps what its bus gets."""
        for logical, res in self.of_type("AWS::Events::EventBus").items():
            name = str(self.resolve(res.get("Properties", {}).get("Name", logical)))
            arn = client.create_event_bus(Name=name)["EventBusArn"]
            self.physical[logical] = {"Ref": name, "Arn": arn, "Name": name}
        for logical, res in self.of_type("AWS::Events::Archive").items():
            props = self.resolve(res.get("Properties", {}))
            name = str(props.get("ArchiveName", logical))
            optional = {key: props[key] for key in ("RetentionDays",) if key in props}
            if "EventPattern" in props:
                optional["EventPattern"] = json.dumps(props["EventPattern"])
            arn = client.create_archive(ArchiveName=name, EventSourceArn=props["SourceArn"], **optional)
            self.physical[logical] = {"Ref": name, "Arn": arn["ArchiveArn"]}
        self.create_event_rules(client)

    def create_event_rules(self, client: Any) -> None:
        """Create every EventBridge rule with an event pattern and its targets (queues: moto delivers the
        bus's matching events to them); Ref is the rule's name, GetAtt Arn its ARN."""
        for logical, res in self.of_type("AWS::Events::Rule").items():
            raw = res.get("Properties", {})
            props = self.resolve({key: value for key, value in raw.items() if key != "Targets"})
            name = str(props.get("Name", f"{STACK_NAME}-{logical}"))
            bus = str(props.get("EventBusName", "default"))
            arn = client.put_rule(
                Name=name,
                EventBusName=bus,
                EventPattern=json.dumps(props["EventPattern"]),
                State=str(props.get("State", "ENABLED")),
            )["RuleArn"]
            self.physical[logical] = {"Ref": name, "Arn": arn}
        # Targets name queues and functions, which exist by now except functions (not created locally).
        for logical, res in self.of_type("AWS::Events::Rule").items():
            targets = [
                {"Id": str(target["Id"]), "Arn": str(self.resolve(target["Arn"]))}
                for target in res.get("Properties", {}).get("Targets", [])
            ]
            if targets:
                bus = str(self.resolve(res.get("Properties", {}).get("EventBusName", "default")))
                client.put_targets(Rule=self.physical[logical]["Ref"], EventBusName=bus, Targets=targets)

    def create_email_identities(self, client: Any) -> None:
        """Create every SES (v2) configuration set and email identity in `client` (moto)."""
        for logical, res in self.of_type("AWS::SES::ConfigurationSet").items():
            name = str(self.resolve(res.get("Properties", {}).get("Name", logical)))
            client.create_configuration_set(ConfigurationSetName=name)
            self.physical[logical] = {"Ref": name}
        for logical, res in self.of_type("AWS::SES::EmailIdentity").items():
            props = self.resolve(res.get("Properties", {}))
            identity = str(props["EmailIdentity"])
            client.create_email_identity(EmailIdentity=identity)
            self.physical[logical] = {"Ref": identity}

    def create_topics(self, client: Any) -> None:
        """Create every AWS::SNS::Topic in `client` (moto); Ref is the topic ARN, as in CloudFormation."""
        for logical, res in self.of_type("AWS::SNS::Topic").items():
            props = self.resolve(res.get("Properties", {}))
            name = str(props.get("TopicName", f"{STACK_NAME}-{logical}"))
            if props.get("FifoTopic") and not name.endswith(".fifo"):
                name += ".fifo"
            attributes = {key: str(props[key]) for key in ("DisplayName", "KmsMasterKeyId") if key in props}
            arn = client.create_topic(Name=name, Attributes=attributes)["TopicArn"]
            self.physical[logical] = {"Ref": arn, "TopicArn": arn, "TopicName": name}

    def create_secrets(self, client: Any) -> None:
        """Create every Secrets Manager secret in `client` (moto). A generated secret gets a fixed local
        value instead (LOCAL_SECRET_VALUE), so what it signs stays valid from one start to the next."""
        for logical, res in self.of_type("AWS::SecretsManager::Secret").items():
            props = self.resolve(res.get("Properties", {}))
            name = str(props.get("Name", f"{STACK_NAME}-{logical}"))
            value = props.get("SecretString")
            if value is None:
                generate = props.get("GenerateSecretString", {})
                value = f"{LOCAL_SECRET_VALUE}-{logical}"
                if "GenerateStringKey" in generate:
                    base = json.loads(generate.get("SecretStringTemplate", "{}"))
                    value = json.dumps({**base, generate["GenerateStringKey"]: value})
            arn = client.create_secret(Name=name, SecretString=str(value))["ARN"]
            self.physical[logical] = {"Ref": arn, "Id": arn}

    def ses_event_destinations(self) -> list[SesEventDestination]:
        """The SNS event destinations of the template's SES configuration sets (resolved)."""
        found = []
        for res in self.of_type("AWS::SES::ConfigurationSetEventDestination").values():
            props = self.resolve(res.get("Properties", {}))
            destination = props.get("EventDestination", {})
            topic = destination.get("SnsDestination", {}).get("TopicARN")
            if topic and destination.get("Enabled", True):
                found.append(
                    SesEventDestination(
                        configuration_set=str(props["ConfigurationSetName"]),
                        topic_arn=str(topic),
                        event_types=frozenset(map(str, destination.get("MatchingEventTypes", []))),
                    )
                )
        return found

    def create_resources(self, client: Callable[[str], Any]) -> None:
        """Everything the local stack keeps in moto: tables, queues, user pools, buckets, event buses,
        email identities, keys, topics, secrets and schedule groups (`client(service)`); EMULATED_TYPES
        and NOT_EMULATED say what happens to each type."""
        self.create_tables(client("dynamodb"))
        self.create_queues(client("sqs"))
        self.create_user_pools(client("cognito-idp"))
        self.create_buckets(client("s3"))
        self.create_event_buses(client("events"))
        self.create_email_identities(client("sesv2"))
        self.create_keys(client("kms"))
        self.create_topics(client("sns"))
        self.create_secrets(client("secretsmanager"))
        self.create_schedule_groups(client("scheduler"))
        self.register_roles()
        self.create_lake_catalog(client("glue"), client("athena"))
        self.create_delivery_streams(client("firehose"))
        # Until the local stack binds its API and registers the real URL, the API has a placeholder one, so
        # that a function whose environment names it (GetAtt HttpApi.ApiEndpoint) can be configured.
        if not any(logical in self.physical for logical in self.of_type("AWS::Serverless::HttpApi")):
            self.register_http_apis(PLACEHOLDER_API_URL)

    def create_keys(self, client: Any) -> None:
        """Create every AWS::KMS::Key in `client` (moto); Ref is its key id, as in CloudFormation."""
        for logical, res in self.of_type("AWS::KMS::Key").items():
            props = res.get("Properties", {})
            description = str(self.resolve(props.get("Description", logical)))
            key = client.create_key(Description=description)["KeyMetadata"]
            self.physical[logical] = {"Ref": key["KeyId"], "Arn": key["Arn"], "KeyId": key["KeyId"]}

    def create_schedule_groups(self, client: Any) -> None:
        """Create every AWS::Scheduler::ScheduleGroup in `client` (moto); Ref is its name."""
        for logical, res in self.of_type("AWS::Scheduler::ScheduleGroup").items():
            name = str(self.resolve(res.get("Properties", {}).get("Name", logical)))
            arn = client.create_schedule_group(Name=name)["ScheduleGroupArn"]
            self.physical[logical] = {"Ref": name, "Arn": arn}

    def register_roles(self) -> None:
        """Let Ref and GetAtt Arn of every IAM role resolve (nothing checks permissions locally)."""
        for logical in self.of_type("AWS::IAM::Role"):
            name = f"{STACK_NAME}-{logical}"
            self.physical[logical] = {"Ref": name, "Arn": f"arn:aws:iam::{ACCOUNT_ID}:role/{name}"}

    def create_lake_catalog(self, glue: Any, athena: Any) -> None:
        """Create the Glue databases and tables and the Athena workgroups in moto (the local reports run on
        DuckDB, but the names resolve and code that asks Athena finds its workgroup)."""
        for logical, res in self.of_type("AWS::Glue::Database").items():
            database = self.resolve(res["Properties"]["DatabaseInput"])
            glue.create_database(DatabaseInput=database)
            self.physical[logical] = {"Ref": str(database["Name"])}
        for logical, res in self.of_type("AWS::Glue::Table").items():
            props = self.resolve(res["Properties"])
            glue.create_table(DatabaseName=props["DatabaseName"], TableInput=props["TableInput"])
            self.physical[logical] = {"Ref": str(props["TableInput"]["Name"])}
        for logical, res in self.of_type("AWS::Athena::WorkGroup").items():
            props = self.resolve(res["Properties"])
            config = props.get("WorkGroupConfiguration", {})
            athena.create_work_group(
                Name=props["Name"],
                Configuration={"ResultConfiguration": config.get("ResultConfiguration", {})},
                Description=str(props.get("Description", "")),
            )
            self.physical[logical] = {"Ref": str(props["Name"])}

    def delivery_streams(self) -> list[DeliveryStreamSpec]:
        """Every Firehose delivery stream to S3, with its partitioning and its Glue table's columns."""
        specs = []
        for logical, res in self.of_type("AWS::KinesisFirehose::DeliveryStream").items():
            props = res.get("Properties", {})
            dest = props["ExtendedS3DestinationConfiguration"]
            schema = dest["DataFormatConversionConfiguration"]["SchemaConfiguration"]
            table_logical = schema["TableName"]["Ref"]
            table = self.resources[table_logical]["Properties"]["TableInput"]
            columns = tuple((str(c["Name"]), str(c["Type"])) for c in table["StorageDescriptor"]["Columns"])
            query = "{}"
            for processor in dest.get("ProcessingConfiguration", {}).get("Processors", []):
                for parameter in processor.get("Parameters", []):
                    if parameter["ParameterName"] == "MetadataExtractionQuery":
                        query = str(parameter["ParameterValue"])
            bucket = str(self.resolve(dest["BucketARN"])).rsplit(":", 1)[-1]
            specs.append(
                DeliveryStreamSpec(
                    logical_id=logical,
                    name=str(props.get("DeliveryStreamName", f"{STACK_NAME}-{logical}")),
                    bucket=bucket,
                    prefix=str(dest.get("Prefix", "")),
                    error_prefix=str(dest.get("ErrorOutputPrefix", "errors/")),
                    partition_keys=partition_fields(query),
                    columns=columns,
                )
            )
        return specs

    def create_delivery_streams(self, client: Any) -> None:
        """Create every delivery stream in moto, delivering to its bucket's staging prefix (moto writes
        what it gets there as is; leadstream_local.firehose converts it to the real destination)."""
        for spec in self.delivery_streams():
            arn = client.create_delivery_stream(
                DeliveryStreamName=spec.name,
                DeliveryStreamType="DirectPut",
                ExtendedS3DestinationConfiguration={
                    "BucketARN": f"arn:aws:s3:::{spec.bucket}",
                    "RoleARN": f"arn:aws:iam::{ACCOUNT_ID}:role/{STACK_NAME}-firehose",
                    "Prefix": spec.staging_prefix,
                },
            )["DeliveryStreamARN"]
            self.physical[spec.logical_id] = {"Ref": spec.name, "Arn": arn}

    def register_functions(self) -> None:
        """Let Ref and GetAtt Arn of every function resolve (functions run in-process, nothing is created)."""
        for logical in self.of_type("AWS::Serverless::Function"):
            name = self.function_name(logical)
            self.physical[logical] = {
                "Ref": name,
                "Arn": f"arn:aws:lambda:{self.region}:{ACCOUNT_ID}:function:{name}",
            }

    def register_http_apis(self, url: str) -> None:
        """Every HTTP API is served at `url`; Ref gives a fixed local API id."""
        # SAM names the API it creates for HttpApi events without ApiId "ServerlessHttpApi".
        for logical in [*self.of_type("AWS::Serverless::HttpApi"), "ServerlessHttpApi"]:
            self.physical[logical] = {"Ref": "local", "ApiEndpoint": url}


def _attribute_text(value: Any) -> str:
    """SQS attributes are strings; CloudFormation booleans become "true"/"false"."""
    return str(value).lower() if isinstance(value, bool) else str(value)
