"""The specs a stack is built from (by default the ones in `samtykke.resources`), checked before any CDK runs.

A stack takes a `ResourceSpecs`, so tests can build one from synthetic queues and topics while the real
lists are still empty.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from samtykke import resources
from samtykke.api.sharding import split_functions, split_routes
from samtykke.resources import (
    BucketNotificationSpec,
    EventBusSpec,
    FunctionSpec,
    Grant,
    QueueSpec,
    RouteSpec,
    ScheduleSpec,
    StreamSpec,
    TableSpec,
    TopicSpec,
)

# The function that authorizes admin routes, and the route prefix that exists only in the local stack.
AUTHORIZER_FUNCTION = "authorizer"
LOCAL_ONLY_PATH_PREFIX = "/_local/"

# SQS standard queues accept at most 10 messages per Lambda batch without a batching window.
_MAX_SQS_BATCH = 10
S3_NOTIFICATION_EVENTS = frozenset({"s3:ObjectCreated:*", "s3:ObjectRemoved:*"})
_MAX_RECEIVE_COUNT = 1000
_MAX_CONCURRENCY = 1000  # an SQS event source's maximum concurrency


class SpecError(ValueError):
    """The specs in `samtykke.resources` contradict each other or what AWS accepts."""


@dataclass(frozen=True)
class ResourceSpecs:
    table: TableSpec = resources.TABLE
    queues: tuple[QueueSpec, ...] = resources.QUEUES
    topics: tuple[TopicSpec, ...] = resources.TOPICS
    functions: tuple[FunctionSpec, ...] = resources.FUNCTIONS
    routes: tuple[RouteSpec, ...] = resources.ROUTES
    bucket_notifications: tuple[BucketNotificationSpec, ...] = resources.BUCKET_NOTIFICATIONS
    schedules: tuple[ScheduleSpec, ...] = resources.SCHEDULES
    # Change events: the bus (with its archive and webhook rule) and the table stream's consumer.
    event_bus: EventBusSpec | None = resources.EVENT_BUS
    table_stream: StreamSpec | None = resources.TABLE_STREAM
    _functions_by_name: dict[str, FunctionSpec] = field(init=False, repr=False, compare=False)
    # What is deployed: every function and route above, plus the functions split off by `FunctionSpec.routers`
    # and their routes (samtykke.api.sharding).
    deployed_functions: tuple[FunctionSpec, ...] = field(init=False, repr=False, compare=False)
    deployed_routes: tuple[RouteSpec, ...] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_functions_by_name", {spec.name: spec for spec in self.functions})
        self._validate()
        deployed = tuple(split for spec in self.functions for split in split_functions(spec))
        routes = (*self.routes, *(route for spec in self.functions for route in split_routes(spec, self.routes)))
        object.__setattr__(self, "deployed_functions", deployed)
        object.__setattr__(self, "deployed_routes", routes)
        self._validate_deployed()

    def function(self, name: str) -> FunctionSpec:
        return self._functions_by_name[name]

    def queue_for(self, grant: Grant) -> QueueSpec:
        """The one queue a queue grant (e.g. CAMPAIGN_QUEUE_SEND) lets a function send to."""
        matches = [queue for queue in self.queues if queue.send_grant is grant]
        if len(matches) != 1:
            raise SpecError(
                f"grant {grant.value!r} needs exactly one QueueSpec with send_grant={grant.name}; "
                f"found {[queue.logical_id for queue in matches]}"
            )
        return matches[0]

    def _validate(self) -> None:
        if len(self._functions_by_name) != len(self.functions):
            raise SpecError("function names must be unique")
        for route in self.routes:
            self._require_function(route.function, f"route {route.method} {route.path}")
            if route.path.startswith(LOCAL_ONLY_PATH_PREFIX):
                raise SpecError(f"{route.path} belongs to the local stack and must never be routed in AWS")
        if any(route.auth == "admin" for route in self.routes):
            self._require_function(AUTHORIZER_FUNCTION, "admin routes")
        for queue in self.queues:
            self._validate_queue(queue)
        for schedule in self.schedules:
            self._require_function(schedule.function, f"schedule {schedule.logical_id}")
        queue_ids = {queue.logical_id for queue in self.queues}
        for notification in self.bucket_notifications:
            if notification.queue not in queue_ids:
                raise SpecError(f"bucket notification {notification.logical_id} names no declared queue")
            if not set(notification.events) <= S3_NOTIFICATION_EVENTS:
                raise SpecError(
                    f"bucket notification {notification.logical_id}: events must be in {S3_NOTIFICATION_EVENTS}"
                )
        if self.table_stream is not None:
            self._require_function(self.table_stream.consumer, f"stream {self.table_stream.logical_id}")
            if self.table.stream_view_type is None:
                raise SpecError("the table stream's consumer needs a table with stream_view_type")
        if self.event_bus is not None and self.event_bus.webhook_queue not in queue_ids:
            raise SpecError(f"event bus {self.event_bus.logical_id}: its webhook queue is no declared queue")
        for topic in self.topics:
            if topic.consumer is not None:
                self._require_function(topic.consumer, f"topic {topic.logical_id}")
        logical_ids = [queue.logical_id for queue in self.queues] + [topic.logical_id for topic in self.topics]
        if len(set(logical_ids)) != len(logical_ids):
            raise SpecError(f"queue and topic logical ids must be unique: {logical_ids}")

    def _validate_deployed(self) -> None:
        names = [spec.name for spec in self.deployed_functions]
        if len(set(names)) != len(names):
            raise SpecError(f"a function split off by its routers takes a declared function's name: {sorted(names)}")
        keys = [(route.method, route.path) for route in self.deployed_routes]
        twice = sorted({key for key in keys if keys.count(key) > 1})
        if twice:
            raise SpecError(f"routes declared twice (ROUTES or a router of a split function): {twice}")

    def _validate_queue(self, queue: QueueSpec) -> None:
        consumer = self._require_function(queue.consumer, f"queue {queue.logical_id}")
        if not 1 <= queue.batch_size <= _MAX_SQS_BATCH:
            raise SpecError(f"queue {queue.logical_id}: batch_size must be 1..{_MAX_SQS_BATCH}")
        if queue.max_concurrency is not None and not 2 <= queue.max_concurrency <= _MAX_CONCURRENCY:
            raise SpecError(f"queue {queue.logical_id}: max_concurrency must be 2..{_MAX_CONCURRENCY}")
        if not 1 <= queue.max_receive_count <= _MAX_RECEIVE_COUNT:
            raise SpecError(f"queue {queue.logical_id}: max_receive_count must be 1..{_MAX_RECEIVE_COUNT}")
        # Lambda refuses an SQS event source whose visibility timeout is shorter than the function's timeout.
        if queue.visibility_timeout_seconds < consumer.timeout_seconds:
            raise SpecError(
                f"queue {queue.logical_id}: visibility_timeout_seconds ({queue.visibility_timeout_seconds}) "
                f"must be at least its consumer's timeout ({consumer.timeout_seconds} s)"
            )

    def _require_function(self, name: str, used_by: str) -> FunctionSpec:
        try:
            return self._functions_by_name[name]
        except KeyError:
            raise SpecError(f"{used_by} refers to function {name!r}, which FUNCTIONS does not declare") from None
