"""The kale smoothie shop: a multi-service demo with the classic tracing failures.

- `breadcrumbs.demo.shop`: `start_shop()` / `run_shop()`, the supervisor.
- `breadcrumbs.demo.zygote`: forks the services; `breadcrumbs.demo.services`: one module each.
- `breadcrumbs.demo.scenarios`: the fault scenarios; `breadcrumbs.demo.cli`: ``breadcrumbs demo``.
"""
