from integrations_pipeline.sdk import BaseRunner, register_tasks

from .aws_api import connect


class Runner(BaseRunner):
    name = "aws"  # Must match integrations.json and folder name

    def __init__(self, config):
        config["integration_name"] = self.name
        register_tasks(self.__class__)
        super().__init__(config)

    class StageOne(BaseRunner.StageOne):
        """Builds the boto3 session (assuming ``role_arn`` if set) and checks it with STS."""

        def start(self):
            return self.authenticate()

        def authenticate(self):
            aws = connect(self.config)
            return {
                "aws": aws,  # aws.client(service, region) for the tasks
                "account_id": aws.account_id,
                "caller_arn": aws.caller_arn,
                "partition": aws.partition,
            }

    class StageTwo(BaseRunner.StageTwo):
        """Task execution phase: tasks are registered here by the @task decorator."""

        pass
