from integrations_pipeline.sdk import BaseRunner, HttpError, register_tasks

from .github_api import GitHubError, client


class Runner(BaseRunner):
    name = "github"  # Must match integrations.json and folder name

    def __init__(self, config):
        config["integration_name"] = self.name
        register_tasks(self.__class__)
        super().__init__(config)

    class StageOne(BaseRunner.StageOne):
        """Checks the token and the organization once per run; tasks read the result with ctx.base()."""

        def start(self):
            return self.authenticate()

        def authenticate(self):
            token = self.config["token"]
            organization = self.config["organization"]
            api_url = self.config.get("api_url", "https://api.github.com")
            try:
                with client(api_url, token) as api:
                    org = api.get(f"/orgs/{organization}").json()
            except HttpError as error:
                if error.status_code == 401:
                    raise GitHubError("GitHub rejected the token (401 Bad credentials)") from error
                if error.status_code == 404:
                    raise GitHubError(
                        f"organization '{organization}' was not found at {api_url}, "
                        "or the token cannot see it (404)"
                    ) from error
                if error.status_code == 403:
                    raise GitHubError(
                        f"the token may not read organization '{organization}' (403); if the "
                        "organization uses SAML single sign-on, authorize the token for it"
                    ) from error
                raise
            return {
                "token": token,
                "api_url": api_url,
                "organization": org["login"],
                "organization_url": org.get("html_url"),
                # Only shown to owners: None when the token cannot see it.
                "two_factor_requirement_enabled": org.get("two_factor_requirement_enabled"),
            }

    class StageTwo(BaseRunner.StageTwo):
        """Task execution phase: tasks are registered here by the @task decorator."""

        pass
