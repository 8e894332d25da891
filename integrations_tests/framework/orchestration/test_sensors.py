"""The scheduler sensor, support tickets and default schedules, against a real instance."""

from datetime import timedelta

import dagster as dg
import pytest

from integrations_pipeline.catalog.discovery import load_catalog
from integrations_pipeline.db.engine import utcnow
from integrations_pipeline.operations.delivery import stop_deliverers
from integrations_pipeline.operations.deployments import Deployment, DeploymentStore
from integrations_pipeline.operations.records import init_integrations, list_integration_records
from integrations_pipeline.operations.tickets import list_tickets
from integrations_pipeline.orchestration.build import build_definitions
from integrations_pipeline.orchestration.sensors import SCHEDULER_SENSOR, TICKETS_SENSOR, evaluate_scheduler
from integrations_pipeline.testing import run_integration
from integrations_tests.conftest import case
from integrations_tests.framework.operations.receivers import wait_delivered

GUIDE = case("guide")
SCHEMAS = {"guide_demo": load_catalog(GUIDE).integrations["guide_demo"].schema}
CONFIG = {"api_key": {"env": "GUIDE_DEMO_KEY"}}
COLLECTOR = (
    "from integrations_pipeline.sdk import task\n\n\n"
    "@task(name='c')\ndef c(self, ctx):\n    return {'data': []}\n"
)


@pytest.fixture
def deployments(database_url):
    store = DeploymentStore(database_url)
    catalog = load_catalog(GUIDE)
    store.add(Deployment("acme", "guide_demo", CONFIG, schedule="* * * * *"), catalog)
    store.add(Deployment("globex", "guide_demo", CONFIG, schedule="0 0 1 1 *"), catalog)
    store.add(Deployment("initech", "guide_demo", CONFIG, schedule="* * * * *", paused=True), catalog)
    return store


def test_a_tick_adds_partitions_and_launches_each_due_slot_once(deployments):
    with dg.instance_for_test() as instance:
        now = utcnow()
        first = evaluate_scheduler(instance, SCHEMAS, [], None, now=now, store=deployments)
        [partitions] = first.dynamic_partitions_requests
        assert partitions.partitions_def_name == "guide_demo_deployments"
        assert sorted(partitions.partition_keys) == ["acme", "adhoc", "globex", "initech"]
        [request] = first.run_requests  # globex's slot is not due, initech is paused
        slot = now.replace(second=0, microsecond=0)
        assert request.run_key == f"acme:{slot.isoformat()}"
        assert request.partition_key == "acme" and request.job_name == "guide_demo"
        assert request.tags["deployment"] == "acme" and request.tags["integration"] == "guide_demo"
        assert request.run_config == {"resources": {"guide_demo": {"config": CONFIG}}}
        again = evaluate_scheduler(instance, SCHEMAS, [], first.cursor, now=now, store=deployments)
        assert again.run_requests == []
        # The daemon was down for an hour: the latest slot runs, once.
        later = now + timedelta(hours=1)
        caught_up = evaluate_scheduler(instance, SCHEMAS, [], first.cursor, now=later, store=deployments)
        assert [r.run_key for r in caught_up.run_requests] == [
            f"acme:{later.replace(second=0, microsecond=0).isoformat()}"
        ]
        deployments.remove("acme")
        assert evaluate_scheduler(instance, SCHEMAS, [], caught_up.cursor, now=later + timedelta(minutes=5),
                                  store=deployments).run_requests == []  # fmt: skip


def test_a_deployment_whose_config_no_longer_fits_gets_a_ticket_not_a_run(deployments, database_url):
    from sqlalchemy import update

    from integrations_pipeline.operations.deployments import DeploymentRow

    with deployments.engine.begin() as connection:  # as if integrations.json changed since
        connection.execute(
            update(DeploymentRow).where(DeploymentRow.name == "acme").values(config={"api_key": 42})
        )
    with dg.instance_for_test() as instance:
        result = evaluate_scheduler(instance, SCHEMAS, [], None, store=deployments)
        assert result.run_requests == []
        again = evaluate_scheduler(instance, SCHEMAS, [], result.cursor, store=deployments)
        assert again.run_requests == []
    [ticket] = list_tickets()
    assert (
        ticket["deployment"] == "acme" and "was not run: its config does not fit" in ticket["error_summary"]
    )
    assert "api_key" in ticket["error_summary"]


def test_run_now_is_requested_until_its_run_exists(deployments):
    token = deployments.request_run("globex")
    key = f"globex:manual:{token}"

    def manual(result):
        return [r.run_key for r in result.run_requests if r.tags["integrations/trigger"] == "manual"]

    with dg.instance_for_test() as instance:
        first = evaluate_scheduler(instance, SCHEMAS, [], None, store=deployments)
        assert manual(first) == [key]
        # The tick failed before the daemon created the run: the request is not lost.
        assert manual(evaluate_scheduler(instance, SCHEMAS, [], first.cursor, store=deployments)) == [key]
        assert deployments.get("globex").run_requested == token

        @dg.op
        def noop() -> None:
            pass

        @dg.job
        def created_by_the_daemon() -> None:
            noop()

        created_by_the_daemon.execute_in_process(instance=instance, tags={"dagster/run_key": key})
        assert manual(evaluate_scheduler(instance, SCHEMAS, [], first.cursor, store=deployments)) == []
        assert deployments.get("globex").run_requested is None


def test_a_broken_integration_or_a_failing_deployment_never_stops_the_others(deployments, monkeypatch):
    from integrations_pipeline.orchestration import sensors

    original = sensors._config_problem

    def exploding(deployment, schema):
        if deployment.name == "acme":
            raise RuntimeError("database hiccup")
        return original(deployment, schema)

    deployments.update("initech", load_catalog(GUIDE), paused=False)
    monkeypatch.setattr(sensors, "_config_problem", exploding)
    with dg.instance_for_test() as instance:
        result = evaluate_scheduler(instance, SCHEMAS, [], None, store=deployments)
        assert [r.tags["deployment"] for r in result.run_requests] == ["initech"]
        # A deployment of an integration that failed to load runs its failing job, unpartitioned.
        broken = evaluate_scheduler(instance, {}, ["guide_demo"], None, store=deployments)
        assert {r.tags["deployment"] for r in broken.run_requests} == {"acme", "initech"}
        assert all(r.partition_key is None and r.run_config == {} for r in broken.run_requests)


def test_slots_compare_as_moments_across_a_time_zone_change(deployments):
    import json

    deployments.update("globex", load_catalog(GUIDE), schedule="0 * * * *", timezone="America/Los_Angeles")
    now = (utcnow() + timedelta(days=1)).replace(hour=11, minute=5, second=0, microsecond=0)
    # Launched 10:00 UTC; the 11:00 UTC slot is 03:00-08:00 in Los Angeles, whose text sorts
    # before "10:00:00+00:00": compared as text it would be skipped.
    cursor = json.dumps({"globex": now.replace(hour=10, minute=0).isoformat()})
    with dg.instance_for_test() as instance:
        result = evaluate_scheduler(instance, SCHEMAS, [], cursor, now=now, store=deployments)
    keys = [r.run_key for r in result.run_requests if r.tags["deployment"] == "globex"]
    assert keys == [f"globex:{now.replace(minute=0).isoformat()}"]


def test_the_scheduler_sensor_is_wired_to_the_jobs(deployments):
    defs = build_definitions(load_catalog(GUIDE))
    sensor = defs.resolve_sensor_def(SCHEDULER_SENSOR)
    assert sensor.default_status == dg.DefaultSensorStatus.RUNNING
    with dg.instance_for_test() as instance:
        result = sensor(dg.build_sensor_context(instance=instance, definitions=defs))
        assert [r.job_name for r in result.run_requests] == ["guide_demo"]
        assert defs.resolve_job_def("guide_demo").partitions_def.name == "guide_demo_deployments"


def test_a_failed_run_opens_one_ticket_and_posts_it(database_url, webhook, monkeypatch):
    monkeypatch.setenv("GUIDE_DEMO_KEY", "ticket-secret-key-1")
    defs = build_definitions(load_catalog(GUIDE))
    sensor = defs.resolve_sensor_def(TICKETS_SENSOR)
    with dg.instance_for_test() as instance:
        result = run_integration(
            "guide_demo", {**CONFIG, "fail_groups": True}, project=GUIDE, instance=instance, deployment="acme"
        )
        assert not result.success
        monkeypatch.setenv("INTEGRATIONS_WEBHOOK_URL", webhook.url)  # tickets only, no run alerts
        run = instance.get_run_by_id(result.run_id)
        failure = next(iter(instance.all_logs(run.run_id, of_type=dg.DagsterEventType.RUN_FAILURE)))
        for _ in range(2):  # a second evaluation of the same failure opens nothing new
            context = dg.build_run_status_sensor_context(
                sensor_name=TICKETS_SENSOR, dagster_instance=instance, dagster_run=run,
                dagster_event=failure.dagster_event,
            )  # fmt: skip
            sensor(context.for_run_failure())
    [ticket] = list_tickets()
    assert (ticket["run_id"], ticket["integration"], ticket["deployment"]) == (
        run.run_id,
        "guide_demo",
        "acme",
    )
    assert ticket["failed_tasks"] == ["list_groups"] and ticket["status"] == "open"
    assert "ConnectionError: groups API refused key ***" in ticket["error_summary"]
    # The sensor only recorded it; the background deliverer posts it (a 503 first, then again).
    wait_delivered()
    stop_deliverers()
    [ticket] = list_tickets()
    assert ticket["webhook"] == "delivered (HTTP 200)"
    [posted] = [p for p in webhook.received if p["type"] == "integration_run_failed"]
    assert posted["ticket"]["id"] == ticket["id"] and "ticket-secret-key-1" not in repr(webhook.received)
    # The run also opened a new critical finding (check_admins): one alert, sent once.
    [alert] = [p for p in webhook.received if p["type"] == "new_findings"]
    assert alert["run_id"] == run.run_id and [f["task"] for f in alert["findings"]] == ["check_admins"]


def test_init_integrations_is_idempotent(database_url, make_project):
    files = {"collectors/c.py": COLLECTOR}
    project = make_project({"one": {"files": files}, "two": {"files": files}})
    assert init_integrations(load_catalog(project, include_disabled=True)) == ["create one", "create two"]
    assert init_integrations(load_catalog(project, include_disabled=True)) == []
    records = {r["name"]: r for r in list_integration_records()}
    assert records["one"]["tasks"][0]["name"] == "c" and records["one"]["enabled"]
    (project / "integrations.json").write_text('[{"name": "one", "title": "One!"}]')
    assert init_integrations(load_catalog(project, include_disabled=True)) == [
        "update one: title", "disable two (no longer in integrations.json)",
    ]  # fmt: skip


def test_an_entry_with_a_default_schedule_gets_a_running_schedule(make_project):
    files = {"collectors/c.py": COLLECTOR}
    entry = {"schedule": {"cron": "0 6 * * *", "timezone": "Europe/Paris", "config": {"task_timeout": 60}}}
    project = make_project({"single": {"files": files, "entry": entry}})
    defs = build_definitions(load_catalog(project))
    schedule = defs.resolve_schedule_def("single_schedule")
    assert (schedule.cron_schedule, schedule.execution_timezone) == ("0 6 * * *", "Europe/Paris")
    assert schedule.default_status == dg.DefaultScheduleStatus.RUNNING
    with dg.instance_for_test() as instance:
        [request] = schedule.evaluate_tick(dg.build_schedule_context(instance=instance)).run_requests
        assert request.run_config == {"resources": {"single": {"config": {"task_timeout": 60}}}}


@pytest.mark.parametrize(
    ("schedule", "message"),
    [
        ({"cron": "not a cron"}, "is not a valid cron expression"),
        ({"cron": "0 6 * * *", "timezone": "Mars/Olympus"}, "unknown time zone"),
        ({"cron": "0 6 * * *", "config": {"api_key": "literal"}}, "config field 'api_key' is secret"),
    ],
)
def test_a_bad_default_schedule_is_that_integrations_load_problem(make_project, schedule, message):
    schema = {"type": "object", "properties": {"api_key": {"type": "string", "writeOnly": True}}}
    project = make_project(
        {
            "bad": {
                "files": {"collectors/c.py": COLLECTOR},
                "entry": {"schedule": schedule},
                "schema": schema,
            },
            "good": {"files": {"collectors/c.py": COLLECTOR}},
        }
    )
    catalog = load_catalog(project)
    assert any(message in p.message for p in catalog.problems_of("bad")), catalog.problems
    defs = build_definitions(catalog)
    assert defs.resolve_job_def("good").execute_in_process(raise_on_error=False).success


def test_a_long_deployment_name_gets_its_config_ticket(deployments):
    from sqlalchemy import update

    from integrations_pipeline.operations.deployments import DeploymentRow

    name = "acme-production-hello-world-eu-west-1-" + "x" * 80
    deployments.add(Deployment(name, "guide_demo", CONFIG, schedule="* * * * *"), load_catalog(GUIDE))
    with deployments.engine.begin() as connection:
        connection.execute(
            update(DeploymentRow).where(DeploymentRow.name == name).values(config={"api_key": 1})
        )
    with dg.instance_for_test() as instance:
        result = evaluate_scheduler(instance, SCHEMAS, [], None, store=deployments)
    assert "acme" in {r.tags["deployment"] for r in result.run_requests}
    assert [t["deployment"] for t in list_tickets()] == [name]


def test_a_config_ticket_names_an_enum_fields_allowed_values(deployments):
    from sqlalchemy import update

    from integrations_pipeline.operations.deployments import DeploymentRow

    schema = {
        "type": "object",
        "properties": {
            "api_key": {"type": "string"},
            "units": {"type": "string", "enum": ["metric", "imperial"]},
        },
    }
    with deployments.engine.begin() as connection:
        connection.execute(
            update(DeploymentRow)
            .where(DeploymentRow.name == "acme")
            .values(config={**CONFIG, "units": "kelvin"})
        )
    with dg.instance_for_test() as instance:
        result = evaluate_scheduler(instance, {"guide_demo": schema}, [], None, store=deployments)
        assert result.run_requests == []
    [ticket] = list_tickets()
    assert "config field 'units': 'kelvin' is not one of 'metric', 'imperial'" in ticket["error_summary"]
