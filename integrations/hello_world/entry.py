from integrations_pipeline.sdk import BaseRunner, register_tasks


class Runner(BaseRunner):
    name = "hello_world"  # Must match integrations.json and folder name

    def __init__(self, config):
        config["integration_name"] = self.name
        register_tasks(self.__class__)
        super().__init__(config)

    class StageOne(BaseRunner.StageOne):
        """
        Authentication / setup phase.
        Return a dict of values that will be available to all tasks via ctx.base().
        """

        def start(self):
            return self.authenticate()

        def authenticate(self):
            return {
                "api_key": self.config.get("api_key"),
            }

    class StageTwo(BaseRunner.StageTwo):
        """
        Task execution phase.
        Tasks are dynamically registered here via the @task decorator.
        Do not add task methods manually.
        """

        pass
