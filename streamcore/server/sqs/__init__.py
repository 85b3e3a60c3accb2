"""The SQS face of ``streamcore serve``: an HTTP listener speaking the AWS
JSON 1.0 and Query protocols of Amazon SQS over ``streamcore.queue``."""
