"""The coordinator's decision on a release candidate, in the Airflow UI: the standard provider's
human-in-the-loop operator, with the approvers read when the task runs (not when the DAG is parsed).

Only the users named in the Airflow Variable `thb_release_approvers` (comma-separated Airflow user ids;
default `coordinator`) may answer: Airflow's API checks each answer against the task's assigned users
through the auth manager in force (SimpleAuthManager: the user name; FAB or Keycloak: their user id), and
refuses anybody else with 403. Nothing is ever approved by default: the options have no default, so a
candidate nobody answers before RESPONSE_TIMEOUT fails the task, and the candidate lapses."""
from __future__ import annotations

import datetime as dt

from airflow.providers.standard.operators.hitl import HITLOperator
from airflow.sdk import Param

APPROVE, REJECT = "Approve / Odobri", "Reject / Odbij"
RESPONSE_TIMEOUT = dt.timedelta(days=7)
DEFAULT_APPROVERS = "coordinator"
NOTE = "note"


def approvers(value: str | None = None) -> list[dict[str, str]]:
    """The users allowed to decide, from the Variable thb_release_approvers (or the value given)."""
    if value is None:
        from airflow.sdk import Variable

        value = Variable.get("thb_release_approvers", default=DEFAULT_APPROVERS)
    return [{"id": name.strip(), "name": name.strip()} for name in value.split(",") if name.strip()]


class ReleaseApproval(HITLOperator):
    """Approve or reject a release candidate; the note is required (for a rejection, the reason)."""

    def __init__(self, **kwargs):
        kwargs.pop("params", None)  # the DAG's own Params (period, status) are not the form's
        super().__init__(
            options=[APPROVE, REJECT],
            defaults=None,  # never decided by the clock
            multiple=False,
            # Airflow validates every param of a task when the task starts, before anybody has answered: the
            # note's empty start value (None) must pass, so the schema allows null; a note given has 3 characters
            # at least, and a rejection without a reason is refused by releases.decide.
            params={NOTE: Param(None, type=["null", "string"], minLength=3, maxLength=2000, title="Note / Napomena",
                                description="Approving: what this release is (it is kept with it). Rejecting: why.")},
            response_timeout=RESPONSE_TIMEOUT,
            **kwargs,
        )

    def execute(self, context):
        self.assigned_users = approvers()
        return super().execute(context)


def decision_of(response: dict | None) -> tuple[bool, str, str] | None:
    """(approved, by whom, note) from the operator's result; None when nobody answered in time."""
    if not response or not response.get("chosen_options"):
        return None
    user = response.get("responded_by_user") or {}
    by = user.get("name") or user.get("id") or "unknown"
    return response["chosen_options"] == [APPROVE], by, (response.get("params_input") or {}).get(NOTE, "")
