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
    """Lease every task in progress that has a holder and no lease to that holder; the IDs."""
    with orch.store.transaction() as tx:
        snap = tx.snapshot()
        leased = {x.task_id for x in coord(tx).leases()}
    orphans = [
        t
        for t in snap.tasks
        if t.status is Status.IN_PROGRESS
        and t.agent
        and not is_person(t.agent)
        and t.id not in leased
    ]
    adopted: list[str] = []
    for task in orphans:
        now = orch.now()
        expires = orch.later(orch.config.agent_timeout)
        try:
            with orch.store.transaction() as tx:
                c = coord(tx)
                current = tx.get(task.id).task
                if current.status is not Status.IN_PROGRESS or current.agent != task.agent:
                    continue  # it moved since the look: not an orphan any more
                if c.lease(task.id) is not None:
                    continue
                c.grant(task.id, task.agent, expires, now)
        except AlreadyClaimed:
            continue  # another replica adopted it first
        orch.note_due(expires)
        adopted.append(task.id)
    return adopted
