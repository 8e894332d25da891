"""Which config a run may use: a run in a deployment's partition uses that deployment's.

Findings are kept per deployment, and a run belongs to the deployment its ``deployment`` tag
or its partition names (:func:`~integrations_pipeline.common.runs.deployment_of`). Anyone who
can launch a run (the launchpad, the GraphQL API, ``dagster job execute --tags``) can pick a
deployment's partition; with another customer's config, that run would write another
customer's findings under this deployment. So, before any task runs:

- a run launched by the platform for a deployment (the scheduler, ``run-now``) uses the
  deployment's stored config as it is now;
- any other run in a deployment's partition must carry exactly that config, or is refused;
- a run naming a deployment of another integration, or two different deployments (tag and
  partition), is refused; so is one launched through the code location (the UI, the GraphQL
  API) that names no stored deployment (removed, or made up);
- ad-hoc runs (partition ``adhoc``, no deployment tag) use the config they were given.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import dagster as dg

from integrations_pipeline.common.errors import IntegrationConfigError
from integrations_pipeline.common.runs import (
    ADHOC_PARTITION,
    DEPLOYMENT_TAG,
    PARTITION_TAG,
    TRIGGER_TAG,
)


def config_for_run(
    run: dg.DagsterRun | None, integration: str, given: Mapping[str, Any] | None
) -> Mapping[str, Any] | None:
    """The unresolved config ``run`` runs with: ``given``, or its deployment's stored one.

    Raises IntegrationConfigError (naming the deployment) when the run may not run.
    """
    if run is None:
        return given
    tagged = run.tags.get(DEPLOYMENT_TAG)
    partition = run.tags.get(PARTITION_TAG)
    if partition == ADHOC_PARTITION:
        partition = None
    if tagged and partition and tagged != partition:
        raise IntegrationConfigError(
            f"the run is tagged deployment '{tagged}' but is in partition '{partition}': "
            "a run belongs to one deployment",
            integration=integration,
        )
    name = tagged or partition
    if not name:
        return given
    from integrations_pipeline.operations.deployments import DeploymentStore  # SQLAlchemy: only here

    deployment = DeploymentStore().find(name)
    if deployment is None:
        if run.remote_job_origin is not None:
            # Launched through a code location (the UI, the GraphQL API, a sensor): a name that
            # is no stored deployment (removed, or made up) must not get findings written under it.
            raise IntegrationConfigError(
                f"the run is for deployment '{name}', which does not exist: add it with "
                f"`integrations deployments add {name}`, or launch an ad-hoc run "
                f"(partition '{ADHOC_PARTITION}', no deployment tag)",
                integration=integration,
            )
        # In-process (run_integration, `dagster job execute`): whoever runs it has the code and
        # the database already; tests run as deployments they never stored.
        return given
    if deployment.integration != integration:
        raise IntegrationConfigError(
            f"deployment '{name}' belongs to integration '{deployment.integration}'",
            integration=integration,
        )
    if run.tags.get(TRIGGER_TAG):
        return deployment.config  # launched by the platform: the deployment's config as it is now
    if dict(given or {}) != deployment.config:
        raise IntegrationConfigError(
            f"the run is for deployment '{name}' but does not carry its stored config: run the "
            f"deployment with `integrations deployments run-now {name}`, or launch an ad-hoc run "
            f"(partition '{ADHOC_PARTITION}', no deployment tag)",
            integration=integration,
        )
    return given
