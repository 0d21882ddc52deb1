"""What a deployed stack needs to be run unattended, read from template.yaml: checkov has no unexplained
finding; every dead-letter queue, stream consumer and function has its alarm; everything is encrypted and
backed up; the access log and the dashboard say what docs/operations.md says they do. A queue or function
added without its alarm fails here."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from leadstream_local.template import EMULATED_TYPES, NOT_EMULATED, REPO_ROOT, StackTemplate

CHECKOV = Path(sys.executable).parent / "checkov"
STREAM_EVENT_TYPES = ("DynamoDB", "Kinesis")
OPERATIONS_DOC = REPO_ROOT / "docs" / "operations.md"


@pytest.fixture(scope="module")
def template() -> StackTemplate:
    return StackTemplate.load()


def _logical(value: Any) -> str | None:
    """The resource a Ref or Fn::GetAtt names (either GetAtt form)."""
    if isinstance(value, dict) and len(value) == 1:
        ((name, arg),) = value.items()
        if name == "Ref":
            return str(arg)
        if name == "Fn::GetAtt":
            return str(arg[0] if isinstance(arg, list) else arg.split(".", 1)[0])
    return None


def _dead_letter_queues(template: StackTemplate) -> set[str]:
    """Every queue that something dead-letters into: a redrive policy, an event source's OnFailure, a
    function's DeadLetterQueue."""
    found = set()
    for queue in template.of_type("AWS::SQS::Queue").values():
        redrive = queue.get("Properties", {}).get("RedrivePolicy", {})
        found.add(_logical(redrive.get("deadLetterTargetArn")))
    for function in template.of_type("AWS::Serverless::Function").values():
        props = function.get("Properties", {})
        found.add(_logical(props.get("DeadLetterQueue", {}).get("TargetArn")))
        for event in props.get("Events", {}).values():
            on_failure = event.get("Properties", {}).get("DestinationConfig", {}).get("OnFailure", {})
            found.add(_logical(on_failure.get("Destination")))
    found.discard(None)
    return {name for name in found if name is not None}


def _stream_consumers(template: StackTemplate) -> set[str]:
    return {
        name
        for name, function in template.of_type("AWS::Serverless::Function").items()
        if any(
            event.get("Type") in STREAM_EVENT_TYPES
            for event in function.get("Properties", {}).get("Events", {}).values()
        )
    }


def _watched(template: StackTemplate) -> set[tuple[str, str, str]]:
    """(namespace, metric, resource) for every metric of every alarm that notifies the alarm topic."""
    found = set()
    for name, alarm in template.of_type("AWS::CloudWatch::Alarm").items():
        props = alarm["Properties"]
        assert props.get("AlarmActions") == [{"Ref": "AlarmTopic"}], f"{name} does not notify AlarmTopic"
        assert props.get("OKActions") == [{"Ref": "AlarmTopic"}], f"{name} does not say when it is OK again"
        metrics = [props] + [
            query["MetricStat"]["Metric"] for query in props.get("Metrics", []) if "MetricStat" in query
        ]
        for metric in metrics:
            for dimension in metric.get("Dimensions", [{"Value": None}]):
                found.add(
                    (metric.get("Namespace"), metric.get("MetricName"), _logical(dimension["Value"]) or "")
                )
    return found


def test_every_dead_letter_queue_has_an_alarm_on_any_message(template: StackTemplate) -> None:
    queues = _dead_letter_queues(template)
    assert {"StreamFailureQueue", "EmailSendDeadLetterQueue", "AsyncFailureQueue"} <= queues
    watched = _watched(template)
    missing = {q for q in queues if ("AWS/SQS", "ApproximateNumberOfMessagesVisible", q) not in watched}
    assert not missing, f"dead-letter queues without an alarm: {sorted(missing)}"
    for alarm in template.of_type("AWS::CloudWatch::Alarm").values():
        props = alarm["Properties"]
        if props.get("MetricName") == "ApproximateNumberOfMessagesVisible":
            assert props["Threshold"] == 1
            assert props["ComparisonOperator"] == "GreaterThanOrEqualToThreshold"


def test_every_stream_consumer_has_an_iterator_age_alarm(template: StackTemplate) -> None:
    consumers = _stream_consumers(template)
    assert consumers == {"ScoringFunction", "AudienceFunction"} | consumers
    watched = _watched(template)
    missing = {fn for fn in consumers if ("AWS/Lambda", "IteratorAge", fn) not in watched}
    assert not missing, f"stream consumers without an iterator-age alarm: {sorted(missing)}"


def test_every_function_has_errors_and_throttles_alarms(template: StackTemplate) -> None:
    functions = set(template.of_type("AWS::Serverless::Function"))
    watched = _watched(template)
    for metric in ("Errors", "Throttles"):
        missing = {fn for fn in functions if ("AWS/Lambda", metric, fn) not in watched}
        assert not missing, f"functions without a {metric} alarm: {sorted(missing)}"


def test_the_api_and_ses_reputation_have_alarms(template: StackTemplate) -> None:
    watched = _watched(template)
    assert {("AWS/ApiGateway", "5xx", "HttpApi"), ("AWS/ApiGateway", "Count", "HttpApi")} <= watched
    assert {("AWS/SES", "Reputation.BounceRate", ""), ("AWS/SES", "Reputation.ComplaintRate", "")} <= watched
    # Below the rates at which SES reviews an account (5% bounces, 0.1% complaints).
    parameters = template.body["Parameters"]
    assert float(parameters["SesBounceRateAlarmThreshold"]["Default"]) < 0.05
    assert float(parameters["SesComplaintRateAlarmThreshold"]["Default"]) < 0.001


def test_alarm_thresholds_are_parameters_and_the_email_is_optional(template: StackTemplate) -> None:
    parameters = template.body["Parameters"]
    for alarm in template.of_type("AWS::CloudWatch::Alarm").values():
        threshold = alarm["Properties"]["Threshold"]
        assert threshold == 1 or _logical(threshold) in parameters, threshold
    assert parameters["AlarmEmail"]["Default"] == ""
    [subscription] = template.of_type("AWS::SNS::Subscription").values()
    assert subscription["Condition"] == "HasAlarmEmail"
    assert subscription["Properties"]["Endpoint"] == {"Ref": "AlarmEmail"}


def test_every_alarm_points_to_a_runbook_section_that_exists(template: StackTemplate) -> None:
    headings = set(re.findall(r"^### (.+)$", OPERATIONS_DOC.read_text(), flags=re.MULTILINE))
    for name, alarm in template.of_type("AWS::CloudWatch::Alarm").items():
        description = alarm["Properties"]["AlarmDescription"]
        match = re.search(r'docs/operations\.md, "([^"]+)"', description)
        assert match, f"{name} names no runbook section"
        assert match.group(1) in headings, f"{name}: docs/operations.md has no section {match.group(1)!r}"


def test_what_monitoring_costs_counts_every_alarm(template: StackTemplate) -> None:
    """The monthly cost in README.md and docs/operations.md is priced per alarm metric ($0.10 each)."""
    alarms = template.of_type("AWS::CloudWatch::Alarm").values()
    metrics = sum(
        sum(1 for query in alarm["Properties"].get("Metrics", []) if "MetricStat" in query) or 1
        for alarm in alarms
    )
    operations = OPERATIONS_DOC.read_text()
    assert f"{len(alarms)} alarms of {metrics} metrics, ${metrics / 10:.2f};" in operations
    readme = (REPO_ROOT / "README.md").read_text()
    assert f"({len(alarms)} alarms, ${metrics / 10:.2f};" in readme


def test_queues_and_topics_are_encrypted_at_rest(template: StackTemplate) -> None:
    for name, queue in template.of_type("AWS::SQS::Queue").items():
        assert queue["Properties"].get("SqsManagedSseEnabled") is True, name
    for name, topic in template.of_type("AWS::SNS::Topic").items():
        # A key SES and CloudWatch may use: they cannot publish to a topic under alias/aws/sns.
        assert topic["Properties"].get("KmsMasterKeyId") == {"Ref": "TopicKey"}, name
    key = template.resources["TopicKey"]["Properties"]
    assert key["EnableKeyRotation"] is True
    publishers = [s for s in key["KeyPolicy"]["Statement"] if "Service" in s["Principal"]]
    assert {"ses.amazonaws.com", "cloudwatch.amazonaws.com"} <= {
        service for statement in publishers for service in statement["Principal"]["Service"]
    }


def test_tables_and_files_can_be_restored(template: StackTemplate) -> None:
    for name in ("MainTable", "EventsTable"):
        recovery = template.resources[name]["Properties"]["PointInTimeRecoverySpecification"]
        assert recovery == {"PointInTimeRecoveryEnabled": True}, name
    for name, bucket in template.of_type("AWS::S3::Bucket").items():
        assert bucket["Properties"]["VersioningConfiguration"] == {"Status": "Enabled"}, name


def test_the_access_log_is_json_keyed_by_the_request_id(template: StackTemplate) -> None:
    settings = template.resources["HttpApi"]["Properties"]["AccessLogSettings"]
    assert _logical(settings["DestinationArn"]) == "HttpApiAccessLogs"
    # API Gateway fills in the variables; what they leave must be one JSON object per line.
    line = re.sub(r"\$context\.[A-Za-z.]+", "0", settings["Format"])
    entry = json.loads(line)
    assert entry["requestId"] == "0"
    # The request id is what Powertools logs as correlation_id (correlation_paths.API_GATEWAY_HTTP).
    assert "$context.requestId" in settings["Format"]
    assert "$context.path" not in settings["Format"], "paths carry email addresses and link tokens"


def test_the_dashboard_shows_every_dead_letter_queue_and_function(template: StackTemplate) -> None:
    body = template.resources["Dashboard"]["Properties"]["DashboardBody"]["Fn::Sub"]
    names = set(re.findall(r"\$\{([^}]+)\}", body))
    parameters = template.body["Parameters"]
    unknown = {n for n in names if n.split(".")[0] not in template.resources and n not in parameters}
    assert unknown <= {"AWS::Region", "AWS::StackName"}, unknown
    dashboard = json.loads(re.sub(r"\$\{([^}]+)\}", lambda m: "1" if m.group(1) in parameters else "x", body))
    titles = {widget["properties"].get("title") for widget in dashboard["widgets"]}
    assert {
        "Ingest: events per minute",
        "Scoring lag: stream iterator age (s)",
        "Handoffs to sales",
        "Emails sent",
        "Bounces and complaints",
        "API latency (ms)",
        "API requests and errors",
        "Dead-letter queue depths",
    } <= titles
    for queue in _dead_letter_queues(template):
        assert f"${{{queue}.QueueName}}" in body, f"{queue} is not on the dashboard"
    for function in template.of_type("AWS::Serverless::Function"):
        assert body.count(f'"${{{function}}}"') >= 2, f"{function}'s errors and throttles are not on it"


def test_the_local_stack_knows_what_to_do_with_every_resource_type(template: StackTemplate) -> None:
    types = {resource["Type"] for resource in template.resources.values()}
    undecided = types - EMULATED_TYPES - NOT_EMULATED.keys()
    assert not undecided, f"create or leave out (leadstream_local.template.NOT_EMULATED): {sorted(undecided)}"


@pytest.mark.slow
def test_checkov_finds_nothing_unexplained() -> None:
    result = subprocess.run(
        [str(CHECKOV), "--file", "template.yaml", "--skip-download", "--output", "json", "--compact"],
        cwd=REPO_ROOT,
        env={**os.environ, "LOG_LEVEL": "WARNING"},
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    reports = json.loads(result.stdout)
    reports = reports if isinstance(reports, list) else [reports]
    by_type = {report["check_type"]: report for report in reports}
    cloudformation = by_type["cloudformation"]
    assert cloudformation["summary"]["parsing_errors"] == 0
    assert cloudformation["summary"]["resource_count"] > 50
    failed = [
        f"{check['check_id']} {check['resource']}: {check['check_name']}"
        for report in reports
        for check in report["results"]["failed_checks"]
    ]
    assert not failed, "fix these or skip them in template.yaml with a reason:\n" + "\n".join(failed)
    assert result.returncode == 0, result.stderr
    for check in cloudformation["results"]["skipped_checks"]:
        comment = check.get("check_result", {}).get("suppress_comment", "")
        assert comment not in ("", "No comment provided"), f"{check['check_id']} {check['resource']}"
