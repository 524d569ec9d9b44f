"""What the live stream (`/ws/events`, events.stream) carries of scheduling: every committed
change of an execution and of a scheduled task (the triggers of migration scheduling 0008), each
as the API's detail GET renders it, to the users the API shows it to."""

from events.stream import kinds

from .models import ExecutionResult, ScheduledTask
from .selectors import task_owner_visible
from .serializers import ExecutionResultSerializer, ScheduledTaskSerializer


def register():
    """Registers executions and tasks as kinds of the stream (once, from AppConfig.ready())."""
    kinds.register(
        kinds.Kind(
            name="execution",
            stream="executions",
            model=ExecutionResult,
            serializer=ExecutionResultSerializer,
            visible=task_owner_visible,
        )
    )
    kinds.register(
        kinds.Kind(
            name="task",
            stream="tasks",
            model=ScheduledTask,
            serializer=ScheduledTaskSerializer,
            visible=task_owner_visible,
        )
    )
