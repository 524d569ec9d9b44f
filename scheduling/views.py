"""The scheduling API: thin DRF viewsets over the selectors (reads) and services (writes), and
the scheduler's API: the skill catalogue and the run-now / disable / enable actions on a task."""

from django.utils import timezone
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import generics, permissions, status, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import APIException
from rest_framework.generics import get_object_or_404
from rest_framework.response import Response

from brain.api.lookups import IdLookupMixin
from brain.api.views import ProjectAPIMixin

from . import services
from .agent_types import agent_types
from .filters import (
    AgentFilter,
    ExecutionResultFilter,
    ProjectFilter,
    ScheduledTaskFilter,
)
from .models import ExecutionResult, Project, ScheduledTask
from .selectors import (
    agent_list,
    execution_list,
    execution_stats,
    project_list,
    skill_list,
    task_list,
    task_pending_list,
)
from .serializers import (
    AgentHeartbeatSerializer,
    AgentSerializer,
    AgentTypesSerializer,
    ExecutionCompleteSerializer,
    ExecutionResultSerializer,
    ExecutionStatsQuerySerializer,
    ExecutionStatsSerializer,
    NoBodySerializer,
    ProjectSerializer,
    ScheduledTaskSerializer,
    SkillSerializer,
    TaskStateSerializer,
)


def _schema_generation(view):
    # drf-spectacular builds the schema with a fake view and no real user.
    return getattr(view, "swagger_fake_view", False)


class Conflict(APIException):
    """409: the row's committed state does not allow this action; the detail says why."""

    status_code = status.HTTP_409_CONFLICT
    default_detail = "The current state does not allow this action."
    default_code = "conflict"


class _ModelViewSet(IdLookupMixin, ProjectAPIMixin, viewsets.ModelViewSet):
    """The scheduling API's viewsets: routed by integer id."""


class ProjectViewSet(_ModelViewSet):
    """Projects of the authenticated user (all projects for staff)."""

    serializer_class = ProjectSerializer
    filterset_class = ProjectFilter
    ordering_fields = ["created_at", "updated_at", "name", "tasks_count", "id"]

    def get_queryset(self):
        if _schema_generation(self):
            return Project.objects.none()
        return project_list(user=self.request.user)

    def perform_create(self, serializer):
        serializer.instance = services.project_create(
            user=self.request.user, **serializer.validated_data
        )

    def perform_update(self, serializer):
        serializer.instance = services.project_update(
            project=serializer.instance, data=serializer.validated_data
        )

    @extend_schema(
        responses={
            204: None,
            409: OpenApiResponse(description="The project has tasks: delete or move them first."),
        }
    )
    def destroy(self, request, *args, **kwargs):
        """Deletes a project without tasks; one with tasks is a 409 naming how many."""
        return super().destroy(request, *args, **kwargs)

    def perform_destroy(self, instance):
        try:
            services.project_delete(project=instance)
        except services.ProjectHasTasks as error:
            raise Conflict(str(error)) from error


class ScheduledTaskViewSet(_ModelViewSet):
    """Scheduled tasks of the authenticated user (all tasks for staff)."""

    serializer_class = ScheduledTaskSerializer
    filterset_class = ScheduledTaskFilter
    ordering_fields = ["created_at", "updated_at", "next_run_at", "skill_name", "status", "id"]

    def get_queryset(self):
        if _schema_generation(self):
            return ScheduledTask.objects.none()
        return task_list(user=self.request.user)

    def perform_create(self, serializer):
        serializer.instance = services.task_create(
            user=self.request.user, **serializer.validated_data
        )

    def perform_update(self, serializer):
        serializer.instance = services.task_update(
            task=serializer.instance, data=serializer.validated_data
        )

    def perform_destroy(self, instance):
        services.task_delete(task=instance)

    @extend_schema(
        summary="Due tasks: pending with next_run_at <= now, oldest first",
        responses=ScheduledTaskSerializer(many=True),
    )
    @action(detail=False, methods=["get"])
    def pending(self, request):
        page = self.paginate_queryset(self.filter_queryset(task_pending_list(user=request.user)))
        return self.get_paginated_response(self.get_serializer(page, many=True).data)


class AgentPermission(permissions.BasePermission):
    """Agents have no owner: any authenticated user reads them and sends heartbeats (an agent
    reports with its operator's token); creating, changing and deleting agents needs staff."""

    def has_permission(self, request, view):
        if request.method in permissions.SAFE_METHODS or view.action == "heartbeat":
            return True
        return bool(request.user and request.user.is_staff)


class AgentViewSet(_ModelViewSet):
    """Agents: read and heartbeat for every user, writes for staff."""

    serializer_class = AgentSerializer
    filterset_class = AgentFilter
    permission_classes = [permissions.IsAuthenticated, AgentPermission]
    ordering_fields = ["name", "type", "status", "last_active_at", "id"]

    def get_queryset(self):
        return agent_list()

    def perform_create(self, serializer):
        serializer.instance = services.agent_create(**serializer.validated_data)

    def perform_update(self, serializer):
        serializer.instance = services.agent_update(
            agent=serializer.instance, data=serializer.validated_data
        )

    def perform_destroy(self, instance):
        services.agent_delete(agent=instance)

    @extend_schema(
        summary="Record activity: last_active_at = now, and the status if given",
        request=AgentHeartbeatSerializer,
        responses=AgentSerializer,
    )
    @action(detail=True, methods=["post"])
    def heartbeat(self, request, pk=None):
        agent = self.get_object()
        heartbeat = AgentHeartbeatSerializer(data=request.data)
        heartbeat.is_valid(raise_exception=True)
        agent = services.agent_heartbeat(agent=agent, **heartbeat.validated_data)
        return Response(AgentSerializer(agent).data)

    @extend_schema(summary="The registered agent types", responses=AgentTypesSerializer)
    @action(detail=False, methods=["get"], pagination_class=None, filter_backends=[])
    def types(self, request):
        return Response(AgentTypesSerializer({"types": agent_types()}).data)


class ExecutionResultViewSet(_ModelViewSet):
    """Executions of the authenticated user's tasks (all executions for staff)."""

    serializer_class = ExecutionResultSerializer
    filterset_class = ExecutionResultFilter
    ordering_fields = ["started_at", "ended_at", "duration_ms", "status", "id"]

    def get_queryset(self):
        if _schema_generation(self):
            return ExecutionResult.objects.none()
        return execution_list(user=self.request.user)

    def perform_create(self, serializer):
        serializer.instance = services.execution_create(**serializer.validated_data)

    def perform_update(self, serializer):
        serializer.instance = services.execution_update(
            execution=serializer.instance, data=serializer.validated_data
        )

    def perform_destroy(self, instance):
        services.execution_delete(execution=instance)

    @extend_schema(
        summary="Complete an execution: final status, ended_at, duration_ms, output and error",
        request=ExecutionCompleteSerializer,
        responses={
            200: ExecutionResultSerializer,
            409: OpenApiResponse(description="The execution already has a final status."),
        },
    )
    @action(detail=True, methods=["post"])
    def complete(self, request, pk=None):
        """Completes a running execution; one already complete (by a concurrent completion too)
        is a 409 naming its status."""
        execution = self.get_object()
        completion = ExecutionCompleteSerializer(data=request.data)
        completion.is_valid(raise_exception=True)
        try:
            execution = services.execution_complete(
                execution=execution, **completion.validated_data
            )
        except services.ExecutionStateError as error:
            raise Conflict(str(error)) from error
        return Response(self.get_serializer(execution).data)

    @extend_schema(
        summary="Execution statistics, optionally of one task and a time range",
        responses={
            200: ExecutionStatsSerializer,
            404: OpenApiResponse(description="`task_id` names no task the user may see."),
        },
    )
    @action(
        detail=False,
        methods=["get"],
        pagination_class=None,
        filter_backends=[],
        query_serializer_class=ExecutionStatsQuerySerializer,
    )
    def stats(self, request):
        query = self.query_serializer_class(data=request.query_params)
        query.is_valid(raise_exception=True)
        if "task_id" in query.validated_data:
            # Another user's task is answered as one that does not exist.
            get_object_or_404(task_list(user=request.user), pk=query.validated_data["task_id"])
        stats = execution_stats(user=request.user, **query.validated_data)
        return Response(ExecutionStatsSerializer(stats).data)


class SkillListView(ProjectAPIMixin, generics.ListAPIView):
    """`GET /api/skills`: the registered skills the user may schedule and run, with their
    parameters, by name."""

    serializer_class = SkillSerializer
    filter_backends = []

    def get_queryset(self):
        return skill_list(user=self.request.user)


class _TaskActionView(ProjectAPIMixin, generics.GenericAPIView):
    """A POST action on one task: its owner or staff; another user's task is a 404. It takes no
    body: a field sent is refused as unknown, not ignored."""

    serializer_class = TaskStateSerializer
    filter_backends = []

    def get_queryset(self):
        return task_list(user=self.request.user)

    def initial(self, request, *args, **kwargs):
        super().initial(request, *args, **kwargs)
        NoBodySerializer(data=request.data).is_valid(raise_exception=True)

    def _respond(self, task, status_code=status.HTTP_200_OK):
        return Response(self.get_serializer(task).data, status=status_code)


class TaskRunView(_TaskActionView):
    @extend_schema(
        request=None,
        responses={
            202: TaskStateSerializer,
            409: OpenApiResponse(description="The task is running or disabled."),
        },
    )
    def post(self, request, pk):
        """`POST /api/tasks/{id}/run`: queue an immediate run (409 while it runs or is
        disabled; 403 when the task's owner may not use its skill)."""
        try:
            task = services.task_run_now(task=self.get_object(), now=timezone.now())
        except services.TaskStateError as error:
            raise Conflict(str(error)) from error
        return self._respond(task, status.HTTP_202_ACCEPTED)


class TaskDisableView(_TaskActionView):
    @extend_schema(request=None, responses={200: TaskStateSerializer})
    def post(self, request, pk):
        """`POST /api/tasks/{id}/disable`: the scheduler stops running the task."""
        return self._respond(services.task_disable(task=self.get_object()))


class TaskEnableView(_TaskActionView):
    @extend_schema(
        request=None,
        responses={
            200: TaskStateSerializer,
            409: OpenApiResponse(description="The task's cron or time zone no longer parses."),
        },
    )
    def post(self, request, pk):
        """`POST /api/tasks/{id}/enable`: runs again from the cron's next slot after now (403
        when the task's owner may not use its skill)."""
        try:
            task = services.task_enable(task=self.get_object(), now=timezone.now())
        except services.TaskStateError as error:
            raise Conflict(str(error)) from error
        return self._respond(task)
