"""Reads template.yaml: the one list of routes, tables, triggers and environment the local stack uses."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parents[2]
TEMPLATE_PATH = REPO_ROOT / "template.yaml"


@dataclass(frozen=True)
class HttpRoute:
    method: str
    path: str  # API Gateway form: /v1/{type}, /files/{proxy+}
    function: str  # logical id


@dataclass(frozen=True)
class FunctionSpec:
    logical_id: str
    handler: str  # module.path.attribute
    environment: dict[str, Any]
    events: dict[str, dict[str, Any]]
    timeout: int = 3


@dataclass
class StackTemplate:
    """The parsed template plus the physical names of what the local stack created for it."""

    body: dict[str, Any]
    parameters: dict[str, str] = field(default_factory=dict)
    # logical id -> {"Ref": ..., "Arn": ..., "StreamArn": ...} once the resource exists.
    physical: dict[str, dict[str, str]] = field(default_factory=dict)

    @classmethod
    def load(cls, path: Path = TEMPLATE_PATH, **parameter_overrides: str) -> StackTemplate:
        from cfnlint.decode import decode_str

        body, problems = decode_str(path.read_text())
        if problems or body is None:
            raise ValueError(f"cannot read {path}: {problems}")
        params = {name: str(spec.get("Default", "")) for name, spec in body.get("Parameters", {}).items()}
        params.update(parameter_overrides)
        return cls(body=dict(body), parameters=params)

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
            "AWS::Region": "us-east-1",
            "AWS::AccountId": "123456789012",
            "AWS::URLSuffix": "amazonaws.com",
            "AWS::StackName": "leadstream-local",
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
            specs.append(
                FunctionSpec(
                    logical_id=logical,
                    handler=props["Handler"],
                    environment={key: self.resolve(value) for key, value in env.items()},
                    events=dict(props.get("Events", {})),
                    timeout=int(props.get("Timeout", defaults.get("Timeout", 3))),
                )
            )
        return specs

    def http_routes(self) -> list[HttpRoute]:
        routes = []
        for logical, res in self.of_type("AWS::Serverless::Function").items():
            for event in res.get("Properties", {}).get("Events", {}).values():
                if event.get("Type") == "HttpApi":
                    props = event.get("Properties", {})
                    routes.append(HttpRoute(props["Method"].upper(), props["Path"], logical))
        return routes

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
