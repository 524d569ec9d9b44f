"""The scheduler's API: the skill catalogue and the run-now / disable / enable actions on a task.

Kept apart from the tasks CRUD viewset; these views only call the scheduler's services."""

from django.utils import timezone
from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import generics, serializers, status
from rest_framework.exceptions import APIException
from rest_framework.response import Response

from .models import ScheduledTask
from .services_scheduler import TaskStateError, task_disable, task_enable, task_run_now
from .skills import all_skills


class SkillParameterSerializer(serializers.Serializer):
    name = serializers.CharField()
    type = serializers.CharField()
    required = serializers.BooleanField()
    default = serializers.JSONField(allow_null=True)
    description = serializers.CharField()


class SkillSerializer(serializers.Serializer):
    name = serializers.CharField()
    description = serializers.CharField()
    parameters = SkillParameterSerializer(many=True, source="parameter_list")


class SkillListView(generics.ListAPIView):
    """`GET /api/skills`: every registered skill with its parameters, by name."""

    serializer_class = SkillSerializer
    filter_backends = []

    def get_queryset(self):
        return all_skills()


class TaskStateSerializer(serializers.ModelSerializer):
    class Meta:
        model = ScheduledTask
        fields = ["id", "skill_name", "status", "next_run_at", "timezone", "claimed_by"]
        read_only_fields = fields


class TaskConflict(APIException):
    status_code = status.HTTP_409_CONFLICT
    default_detail = "The task's state does not allow this action."
    default_code = "conflict"


_conflict = inline_serializer("TaskConflict", fields={"detail": serializers.CharField()})


class _TaskActionView(generics.GenericAPIView):
    """A POST action on one task: its owner or staff; another user's task is a 404."""

    serializer_class = TaskStateSerializer
    filter_backends = []

    def get_queryset(self):
        tasks = ScheduledTask.objects.all()
        return tasks if self.request.user.is_staff else tasks.filter(user=self.request.user)

    def _respond(self, task, status_code=status.HTTP_200_OK):
        return Response(self.get_serializer(task).data, status=status_code)


class TaskRunView(_TaskActionView):
    @extend_schema(request=None, responses={202: TaskStateSerializer, 409: _conflict})
    def post(self, request, pk):
        """`POST /api/tasks/{id}/run`: queue an immediate run (409 while it runs or is
        disabled)."""
        try:
            task = task_run_now(task=self.get_object(), now=timezone.now())
        except TaskStateError as error:
            raise TaskConflict(str(error)) from error
        return self._respond(task, status.HTTP_202_ACCEPTED)


class TaskDisableView(_TaskActionView):
    @extend_schema(request=None, responses={200: TaskStateSerializer})
    def post(self, request, pk):
        """`POST /api/tasks/{id}/disable`: the scheduler stops running the task."""
        return self._respond(task_disable(task=self.get_object()))


class TaskEnableView(_TaskActionView):
    @extend_schema(request=None, responses={200: TaskStateSerializer, 409: _conflict})
    def post(self, request, pk):
        """`POST /api/tasks/{id}/enable`: runs again from the cron's next slot after now."""
        try:
            task = task_enable(task=self.get_object(), now=timezone.now())
        except TaskStateError as error:
            raise TaskConflict(str(error)) from error
        return self._respond(task)
