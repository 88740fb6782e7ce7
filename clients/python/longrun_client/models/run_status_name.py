from enum import StrEnum

class RunStatusName(StrEnum):
    BUDGET_EXHAUSTED = "budget_exhausted"
    CANCELLED = "cancelled"
    FAILED = "failed"
    PAUSED_QUOTA = "paused_quota"
    QUEUED = "queued"
    REQUIRES_ACTION = "requires_action"
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    TIMED_OUT = "timed_out"
    WAITING_APPROVAL = "waiting_approval"
    WAITING_INPUT = "waiting_input"
    WAITING_PROVIDER = "waiting_provider"

    def __str__(self) -> str:
        return str(self.value)
