"""Operate deployments: deployments and their schedules, support tickets, and the
integration records mirrored from integrations.json."""
