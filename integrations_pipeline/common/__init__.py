"""Shared by every stage: errors that name the integration and task, redaction of secrets,
the project's folder and the tags runs carry. Imports nothing else of the package."""
