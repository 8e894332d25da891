"""The authoring API: what integrations import (see the README's authoring guide)."""

from integrations_pipeline.runner import BaseRunner, TaskContext, register_tasks
from integrations_pipeline.tasks import task

__all__ = ["BaseRunner", "TaskContext", "register_tasks", "task"]
