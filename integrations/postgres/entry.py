from integrations_pipeline.sdk import BaseRunner, register_tasks

from .server import Server


class Runner(BaseRunner):
    name = "postgres"  # Must match integrations.json and folder name

    def __init__(self, config):
        config["integration_name"] = self.name
        register_tasks(self.__class__)
        super().__init__(config)

    class StageOne(BaseRunner.StageOne):
        """Connects once to check the address and the credentials; tasks connect on their own."""

        def start(self):
            return self.authenticate()

        def authenticate(self):
            server = Server(self.config)
            with server.connect() as conn, conn.cursor() as cur:
                cur.execute("SELECT current_user AS user, current_setting('server_version') AS version")
                row = cur.fetchone()
            return {
                "server": server,
                "user": row["user"],
                "server_version": row["version"],
            }

    class StageTwo(BaseRunner.StageTwo):
        pass
