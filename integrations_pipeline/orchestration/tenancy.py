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
  partition), is refused;
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
        return given  # no stored deployment (yet): no other customer's findings to protect
    if deployment.integration != integration:
        raise IntegrationConfigError(
            f"deployment '{name}' belongs to integration '{deployment.integration}'",
            integration=integration,
        )
    if run.tags.get(TRIGGER_TAG):
        return deployment.config  # launched by the platform: the deployment's config as it is now
    if dict(given or {}) != deployment.config:
        raise IntegrationConfigError(
            f"the run is in deployment '{name}''s partition but does not carry that deployment's "
            f"config: run the deployment with `integrations deployments run-now {name}`, or "
            f"launch an ad-hoc run (partition '{ADHOC_PARTITION}', no deployment tag)",
            integration=integration,
        )
    return given
