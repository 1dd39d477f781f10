"""An ``AwsBaseHook`` for a service whose waiters botocore does not ship (MediaConvert, CodeBuild).

The waiter is a botocore waiter model (the JSON format the Amazon provider keeps in its ``waiters/``
folder, here as data in the service's trigger module) built by the provider's own
``BaseBotoWaiter``, so the provider's ``AwsBaseWaiterTrigger`` drives it in the triggerer exactly
as it drives the provider's waiters, and the local engine runs the same waiter in the worker.
Private (the integrations table skips ``_`` modules): it subclasses the provider's hook at import.
"""

from __future__ import annotations

import copy
from typing import Any, ClassVar

from airflow.providers.amazon.aws.hooks.base_aws import AwsBaseHook


class ModelWaiterHook(AwsBaseHook):
    """A subclass names its ``client_type`` and its ``waiter_model``; other waiters are botocore's."""

    client_type_name: ClassVar[str]
    waiter_model: ClassVar[dict[str, Any]]

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs["client_type"] = self.client_type_name
        super().__init__(*args, **kwargs)

    def get_waiter(self, waiter_name: str, parameters: dict[str, str] | None = None,
                   config_overrides: dict[str, Any] | None = None, deferrable: bool = False,
                   client: Any = None) -> Any:
        if waiter_name not in self.waiter_model["waiters"]:
            return super().get_waiter(waiter_name, parameters, config_overrides, deferrable, client)
        from airflow.providers.amazon.aws.waiters.base_waiter import BaseBotoWaiter

        if deferrable and not client:
            raise ValueError("client must be provided for a deferrable waiter.")
        model = copy.deepcopy(self.waiter_model)
        if config_overrides:
            model["waiters"][waiter_name].update(config_overrides)
        return BaseBotoWaiter(client=client or self.conn, model_config=model, deferrable=deferrable).waiter(waiter_name)

    def wait_in_worker(self, **arguments: Any) -> None:
        """The local engine's ``.sync`` wait: the model's (one) waiter, which the trigger drives in
        the triggerer, run here. A terminal failure returns like a success: the caller reads the job
        again, and its state says how it ended (and is the Cause), as after the trigger."""
        from botocore.exceptions import WaiterError

        from asl_airflow.integrations._optimized import MAX_POLLS, POLL_SECONDS

        (waiter_name,) = self.waiter_model["waiters"]
        try:
            self.get_waiter(waiter_name).wait(**arguments,
                                              WaiterConfig={"Delay": POLL_SECONDS, "MaxAttempts": MAX_POLLS})
        except WaiterError as exc:
            if "terminal failure" not in str(exc):
                raise
