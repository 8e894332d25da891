from integrations_pipeline.sdk import BaseRunner, register_tasks


class Runner(BaseRunner):
    name = "guide_demo"

    def __init__(self, config):
        config["integration_name"] = self.name
        register_tasks(self.__class__)
        super().__init__(config)

    class StageOne(BaseRunner.StageOne):
        def start(self):
            return self.authenticate()

        def authenticate(self):
            if self.config.get("fail_stage_one"):
                raise PermissionError(f"login refused for key {self.config['api_key']}")
            return {"token": "session-token", "region": self.config.get("region")}

    class StageTwo(BaseRunner.StageTwo):
        pass
