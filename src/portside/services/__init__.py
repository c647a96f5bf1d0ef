"""One package per AWS service. Each exposes a `Service` subclass whose methods are named after
the AWS operations they serve (`get_caller_identity`, `run_task`, …)."""
