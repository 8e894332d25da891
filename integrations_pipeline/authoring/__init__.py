"""What integration authors write against: the ``@task`` decorator and its registry,
``BaseRunner`` and ``TaskContext``, and the return formats of collectors and insights."""
