from integrations_pipeline.sdk import BaseRunner, register_tasks


class Runner(BaseRunner):
    name = "good_one"

    def __init__(self, config):
        register_tasks(self.__class__)
        super().__init__(config)

    class StageOne(BaseRunner.StageOne):
        pass

    class StageTwo(BaseRunner.StageTwo):
        pass
