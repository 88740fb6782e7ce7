from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar, BinaryIO, TextIO, TYPE_CHECKING, Generator

from attrs import define as _attrs_define
from attrs import field as _attrs_field

from ..types import UNSET, Unset

from ..models.run_status_name import RunStatusName
from ..types import UNSET, Unset
from typing import cast

if TYPE_CHECKING:
  from ..models.pending_call_view import PendingCallView
  from ..models.run_error import RunError
  from ..models.run_usage_view import RunUsageView
  from ..models.run_view_metadata_type_0 import RunViewMetadataType0
  from ..models.run_view_result_json_type_0 import RunViewResultJsonType0





T = TypeVar("T", bound="RunView")



@_attrs_define
class RunView:
    """ A run as clients see it.

        Attributes:
            agent (str): The agent's name.
            awaiting_input (bool): Whether the run waits for human input (`POST /v1/runs/{id}/messages`).
            created_at (str):
            error (None | RunError):
            finished_at (None | str):
            id (str):
            metadata (None | RunViewMetadataType0): As submitted, or `null`.
            pending_approvals (list[PendingCallView]): Gated tool calls waiting for a decision (`POST
                /v1/runs/{id}/approvals`).
            pending_tool_calls (list[PendingCallView]): Client-executed tool calls waiting for their result (`POST
                /v1/runs/{id}/tool-results`), while the run `requires_action`.
            previous_run_id (None | str): The finished run whose conversation this one continues.
            rerun_of (None | str): The run this one reran.
            result (None | str): The final answer, once there is one.
            result_json (None | RunViewResultJsonType0): Structured output: the answer as JSON, valid for the run's
                `output_schema` (`result`
                holds the same as text); `null` otherwise.
            started_at (None | str):
            status (RunStatusName):
            status_reason (None | str): Why the run is in its status, where the status alone does not say: a `queued` run
                whose workflow Temporal could not start yet (`scheduler_unavailable`: it starts when
                Temporal answers), a run waiting out a provider outage. `null` otherwise.
            step (int): Model calls made so far.
            temporal_ui_url (str): The workflow in the Temporal UI.
            usage (RunUsageView): What a run used so far.
            webhook_events (list[str] | None): The events POSTed to `webhook_url`, as submitted (`null`: the workspace's
                choice, or
                `run.completed` alone).
            webhook_url (None | str):
            workflow_id (str): The Temporal workflow: `run-<workspace>-<run id>`.
            input_ (str | Unset): The input; lists and cancellations leave it out.
     """

    agent: str
    awaiting_input: bool
    created_at: str
    error: None | RunError
    finished_at: None | str
    id: str
    metadata: None | RunViewMetadataType0
    pending_approvals: list[PendingCallView]
    pending_tool_calls: list[PendingCallView]
    previous_run_id: None | str
    rerun_of: None | str
    result: None | str
    result_json: None | RunViewResultJsonType0
    started_at: None | str
    status: RunStatusName
    status_reason: None | str
    step: int
    temporal_ui_url: str
    usage: RunUsageView
    webhook_events: list[str] | None
    webhook_url: None | str
    workflow_id: str
    input_: str | Unset = UNSET
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)





    def to_dict(self) -> dict[str, Any]:
        from ..models.pending_call_view import PendingCallView # noqa: PLC0415
        from ..models.run_error import RunError # noqa: PLC0415
        from ..models.run_usage_view import RunUsageView # noqa: PLC0415
        from ..models.run_view_metadata_type_0 import RunViewMetadataType0 # noqa: PLC0415
        from ..models.run_view_result_json_type_0 import RunViewResultJsonType0 # noqa: PLC0415
        agent = self.agent

        awaiting_input = self.awaiting_input

        created_at = self.created_at

        error: dict[str, Any] | None
        if isinstance(self.error, RunError):
            error = self.error.to_dict()
        else:
            error = self.error

        finished_at: None | str
        finished_at = self.finished_at

        id = self.id

        metadata: dict[str, Any] | None
        if isinstance(self.metadata, RunViewMetadataType0):
            metadata = self.metadata.to_dict()
        else:
            metadata = self.metadata

        pending_approvals = []
        for pending_approvals_item_data in self.pending_approvals:
            pending_approvals_item = pending_approvals_item_data.to_dict()
            pending_approvals.append(pending_approvals_item)



        pending_tool_calls = []
        for pending_tool_calls_item_data in self.pending_tool_calls:
            pending_tool_calls_item = pending_tool_calls_item_data.to_dict()
            pending_tool_calls.append(pending_tool_calls_item)



        previous_run_id: None | str
        previous_run_id = self.previous_run_id

        rerun_of: None | str
        rerun_of = self.rerun_of

        result: None | str
        result = self.result

        result_json: dict[str, Any] | None
        if isinstance(self.result_json, RunViewResultJsonType0):
            result_json = self.result_json.to_dict()
        else:
            result_json = self.result_json

        started_at: None | str
        started_at = self.started_at

        status = self.status.value

        status_reason: None | str
        status_reason = self.status_reason

        step = self.step

        temporal_ui_url = self.temporal_ui_url

        usage = self.usage.to_dict()

        webhook_events: list[str] | None
        if isinstance(self.webhook_events, list):
            webhook_events = self.webhook_events


        else:
            webhook_events = self.webhook_events

        webhook_url: None | str
        webhook_url = self.webhook_url

        workflow_id = self.workflow_id

        input_ = self.input_


        field_dict: dict[str, Any] = {}
        field_dict.update(self.additional_properties)
        field_dict.update({
            "agent": agent,
            "awaiting_input": awaiting_input,
            "created_at": created_at,
            "error": error,
            "finished_at": finished_at,
            "id": id,
            "metadata": metadata,
            "pending_approvals": pending_approvals,
            "pending_tool_calls": pending_tool_calls,
            "previous_run_id": previous_run_id,
            "rerun_of": rerun_of,
            "result": result,
            "result_json": result_json,
            "started_at": started_at,
            "status": status,
            "status_reason": status_reason,
            "step": step,
            "temporal_ui_url": temporal_ui_url,
            "usage": usage,
            "webhook_events": webhook_events,
            "webhook_url": webhook_url,
            "workflow_id": workflow_id,
        })
        if input_ is not UNSET:
            field_dict["input"] = input_

        return field_dict



    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        from ..models.pending_call_view import PendingCallView # noqa: PLC0415
        from ..models.run_error import RunError # noqa: PLC0415
        from ..models.run_usage_view import RunUsageView # noqa: PLC0415
        from ..models.run_view_metadata_type_0 import RunViewMetadataType0 # noqa: PLC0415
        from ..models.run_view_result_json_type_0 import RunViewResultJsonType0 # noqa: PLC0415
        d = dict(src_dict)
        agent = d.pop("agent")

        awaiting_input = d.pop("awaiting_input")

        created_at = d.pop("created_at")

        def _parse_error(data: object) -> None | RunError:
            if data is None:
                return data
            try:
                if not isinstance(data, dict):
                    raise TypeError()
                error_type_1 = RunError.from_dict(data)



                return error_type_1
            except (TypeError, ValueError, AttributeError, KeyError):
                pass
            return cast(None | RunError, data)

        error = _parse_error(d.pop("error"))


        def _parse_finished_at(data: object) -> None | str:
            if data is None:
                return data
            return cast(None | str, data)

        finished_at = _parse_finished_at(d.pop("finished_at"))


        id = d.pop("id")

        def _parse_metadata(data: object) -> None | RunViewMetadataType0:
            if data is None:
                return data
            try:
                if not isinstance(data, dict):
                    raise TypeError()
                metadata_type_0 = RunViewMetadataType0.from_dict(data)



                return metadata_type_0
            except (TypeError, ValueError, AttributeError, KeyError):
                pass
            return cast(None | RunViewMetadataType0, data)

        metadata = _parse_metadata(d.pop("metadata"))


        pending_approvals = []
        _pending_approvals = d.pop("pending_approvals")
        for pending_approvals_item_data in (_pending_approvals):
            pending_approvals_item = PendingCallView.from_dict(pending_approvals_item_data)



            pending_approvals.append(pending_approvals_item)


        pending_tool_calls = []
        _pending_tool_calls = d.pop("pending_tool_calls")
        for pending_tool_calls_item_data in (_pending_tool_calls):
            pending_tool_calls_item = PendingCallView.from_dict(pending_tool_calls_item_data)



            pending_tool_calls.append(pending_tool_calls_item)


        def _parse_previous_run_id(data: object) -> None | str:
            if data is None:
                return data
            return cast(None | str, data)

        previous_run_id = _parse_previous_run_id(d.pop("previous_run_id"))


        def _parse_rerun_of(data: object) -> None | str:
            if data is None:
                return data
            return cast(None | str, data)

        rerun_of = _parse_rerun_of(d.pop("rerun_of"))


        def _parse_result(data: object) -> None | str:
            if data is None:
                return data
            return cast(None | str, data)

        result = _parse_result(d.pop("result"))


        def _parse_result_json(data: object) -> None | RunViewResultJsonType0:
            if data is None:
                return data
            try:
                if not isinstance(data, dict):
                    raise TypeError()
                result_json_type_0 = RunViewResultJsonType0.from_dict(data)



                return result_json_type_0
            except (TypeError, ValueError, AttributeError, KeyError):
                pass
            return cast(None | RunViewResultJsonType0, data)

        result_json = _parse_result_json(d.pop("result_json"))


        def _parse_started_at(data: object) -> None | str:
            if data is None:
                return data
            return cast(None | str, data)

        started_at = _parse_started_at(d.pop("started_at"))


        status = RunStatusName(d.pop("status"))




        def _parse_status_reason(data: object) -> None | str:
            if data is None:
                return data
            return cast(None | str, data)

        status_reason = _parse_status_reason(d.pop("status_reason"))


        step = d.pop("step")

        temporal_ui_url = d.pop("temporal_ui_url")

        usage = RunUsageView.from_dict(d.pop("usage"))




        def _parse_webhook_events(data: object) -> list[str] | None:
            if data is None:
                return data
            try:
                if not isinstance(data, list):
                    raise TypeError()
                webhook_events_type_0 = cast(list[str], data)

                return webhook_events_type_0
            except (TypeError, ValueError, AttributeError, KeyError):
                pass
            return cast(list[str] | None, data)

        webhook_events = _parse_webhook_events(d.pop("webhook_events"))


        def _parse_webhook_url(data: object) -> None | str:
            if data is None:
                return data
            return cast(None | str, data)

        webhook_url = _parse_webhook_url(d.pop("webhook_url"))


        workflow_id = d.pop("workflow_id")

        input_ = d.pop("input", UNSET)

        run_view = cls(
            agent=agent,
            awaiting_input=awaiting_input,
            created_at=created_at,
            error=error,
            finished_at=finished_at,
            id=id,
            metadata=metadata,
            pending_approvals=pending_approvals,
            pending_tool_calls=pending_tool_calls,
            previous_run_id=previous_run_id,
            rerun_of=rerun_of,
            result=result,
            result_json=result_json,
            started_at=started_at,
            status=status,
            status_reason=status_reason,
            step=step,
            temporal_ui_url=temporal_ui_url,
            usage=usage,
            webhook_events=webhook_events,
            webhook_url=webhook_url,
            workflow_id=workflow_id,
            input_=input_,
        )


        run_view.additional_properties = d
        return run_view

    @property
    def additional_keys(self) -> list[str]:
        return list(self.additional_properties.keys())

    def __getitem__(self, key: str) -> Any:
        return self.additional_properties[key]

    def __setitem__(self, key: str, value: Any) -> None:
        self.additional_properties[key] = value

    def __delitem__(self, key: str) -> None:
        del self.additional_properties[key]

    def __contains__(self, key: str) -> bool:
        return key in self.additional_properties
