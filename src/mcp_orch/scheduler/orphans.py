"""Work in progress the orchestrator did not hand out: a board imported with tasks in
progress (``orch claim`` on the files, before the service ran), or a database whose leases
were lost. Such a task has a holder and no lease, so nothing would ever take it back from an
agent that never calls in again.

``adopt_orphans`` gives each one a lease for its holder, as if the holder had just called: it
lasts ``agent_timeout`` (a call promises nothing sooner, see ``base``), the holder's next
heartbeat or call renews it like any other, and if the holder stays silent the sweeper puts
the task back in the queue and says why. The serve process runs it once the board is
imported; running it again adopts only what is still an orphan (two replicas may: the
database refuses a second lease).
"""

from __future__ import annotations

from ..domain.errors import AlreadyClaimed
from ..domain.model import Status
from ..domain.roles import is_person
from .base import OrchestratorBase, coord


def adopt_orphans(orch: OrchestratorBase) -> list[str]:
    """Lease every task in progress that has a holder and no lease to that holder; the IDs.
    One transaction: the look and the grants (a board may hold thousands: one commit)."""
    adopted: list[str] = []
    now = orch.now()
    expires = orch.later(orch.config.agent_timeout)
    with orch.store.transaction() as tx:
        c = coord(tx)
        leased = {x.task_id for x in c.leases()}
        for task in tx.snapshot().tasks:
            if task.status is not Status.IN_PROGRESS or not task.agent or task.id in leased:
                continue
            if is_person(task.agent):
                continue  # a person is not fenced: nothing to take back
            try:
                with orch.store.transaction():  # a savepoint: a lost race undoes this one
                    c.grant(task.id, task.agent, expires, now)
            except AlreadyClaimed:
                continue  # another replica adopted it first
            adopted.append(task.id)
    if adopted:
        orch.note_due(expires)
    return adopted
