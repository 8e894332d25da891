"""The HTTP toolkit for collectors: authentication, retries, rate and concurrency limits,
pagination, a response cache, size caps and redaction; and the webhook poster."""
