from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar, BinaryIO, TextIO, TYPE_CHECKING, Generator

from attrs import define as _attrs_define
from attrs import field as _attrs_field

from ..types import UNSET, Unset

from ..types import UNSET, Unset
from typing import cast

if TYPE_CHECKING:
  from ..models.agent_limits import AgentLimits
  from ..models.create_run_metadata_type_0 import CreateRunMetadataType0
  from ..models.create_run_output_schema_type_0 import CreateRunOutputSchemaType0





T = TypeVar("T", bound="CreateRun")



@_attrs_define
class CreateRun:
    """ A run to submit. (Serialised, it is also what an `Idempotency-Key` is compared by.)

        Attributes:
            input_ (str): The task: 1 to 256 KiB, not only spaces. Example: What is 2 ^ 10 - 24?.
            agent (None | str | Unset): The agent's name. Optional with `previous_run_id` (then the previous run's agent).
                Example: demo.
            budget (AgentLimits | None | Unset):
            metadata (CreateRunMetadataType0 | None | Unset): Yours, kept with the run: a JSON object of at most 16 KiB. Its
                scalar values of at
                most 256 bytes under keys of at most 64 bytes can filter the runs list.
            output_schema (CreateRunOutputSchemaType0 | None | Unset): Structured output for this run: a JSON Schema object
                (at most 16 KiB) the final
                answer must be valid for, in place of the agent's `output_schema`.
            previous_run_id (None | str | Unset): A finished run of this workspace whose conversation this run continues:
                the model
                sees that conversation, then `input`.
            webhook_events (list[str] | None | Unset): Which events are POSTed: `approval.requested`, `tool.requested`,
                `input.requested`,
                `quota.paused`, `run.completed`. Default: the workspace's choice with its URL, else `run.completed`. Example:
                ['approval.requested', 'run.completed'].
            webhook_url (None | str | Unset): Where the run's webhooks are POSTed (Standard Webhooks, signed with the
                workspace's
                webhook secret): an http(s) URL of at most 2048 bytes. Without it, the workspace's
                `webhook_url`, if it has one.
     """

    input_: str
    agent: None | str | Unset = UNSET
    budget: AgentLimits | None | Unset = UNSET
    metadata: CreateRunMetadataType0 | None | Unset = UNSET
    output_schema: CreateRunOutputSchemaType0 | None | Unset = UNSET
    previous_run_id: None | str | Unset = UNSET
    webhook_events: list[str] | None | Unset = UNSET
    webhook_url: None | str | Unset = UNSET





    def to_dict(self) -> dict[str, Any]:
        from ..models.agent_limits import AgentLimits # noqa: PLC0415
        from ..models.create_run_metadata_type_0 import CreateRunMetadataType0 # noqa: PLC0415
        from ..models.create_run_output_schema_type_0 import CreateRunOutputSchemaType0 # noqa: PLC0415
        input_ = self.input_

        agent: None | str | Unset
        if isinstance(self.agent, Unset):
            agent = UNSET
        else:
            agent = self.agent

        budget: dict[str, Any] | None | Unset
        if isinstance(self.budget, Unset):
            budget = UNSET
        elif isinstance(self.budget, AgentLimits):
            budget = self.budget.to_dict()
        else:
            budget = self.budget

        metadata: dict[str, Any] | None | Unset
        if isinstance(self.metadata, Unset):
            metadata = UNSET
        elif isinstance(self.metadata, CreateRunMetadataType0):
            metadata = self.metadata.to_dict()
        else:
            metadata = self.metadata

        output_schema: dict[str, Any] | None | Unset
        if isinstance(self.output_schema, Unset):
            output_schema = UNSET
        elif isinstance(self.output_schema, CreateRunOutputSchemaType0):
            output_schema = self.output_schema.to_dict()
        else:
            output_schema = self.output_schema

        previous_run_id: None | str | Unset
        if isinstance(self.previous_run_id, Unset):
            previous_run_id = UNSET
        else:
            previous_run_id = self.previous_run_id

        webhook_events: list[str] | None | Unset
        if isinstance(self.webhook_events, Unset):
            webhook_events = UNSET
        elif isinstance(self.webhook_events, list):
            webhook_events = self.webhook_events


        else:
            webhook_events = self.webhook_events

        webhook_url: None | str | Unset
        if isinstance(self.webhook_url, Unset):
            webhook_url = UNSET
        else:
            webhook_url = self.webhook_url


        field_dict: dict[str, Any] = {}

        field_dict.update({
            "input": input_,
        })
        if agent is not UNSET:
            field_dict["agent"] = agent
        if budget is not UNSET:
            field_dict["budget"] = budget
        if metadata is not UNSET:
            field_dict["metadata"] = metadata
        if output_schema is not UNSET:
            field_dict["output_schema"] = output_schema
        if previous_run_id is not UNSET:
            field_dict["previous_run_id"] = previous_run_id
        if webhook_events is not UNSET:
            field_dict["webhook_events"] = webhook_events
        if webhook_url is not UNSET:
            field_dict["webhook_url"] = webhook_url

        return field_dict



    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        from ..models.agent_limits import AgentLimits # noqa: PLC0415
        from ..models.create_run_metadata_type_0 import CreateRunMetadataType0 # noqa: PLC0415
        from ..models.create_run_output_schema_type_0 import CreateRunOutputSchemaType0 # noqa: PLC0415
        d = dict(src_dict)
        input_ = d.pop("input")

        def _parse_agent(data: object) -> None | str | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(None | str | Unset, data)

        agent = _parse_agent(d.pop("agent", UNSET))


        def _parse_budget(data: object) -> AgentLimits | None | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            try:
                if not isinstance(data, dict):
                    raise TypeError()
                budget_type_1 = AgentLimits.from_dict(data)



                return budget_type_1
            except (TypeError, ValueError, AttributeError, KeyError):
                pass
            return cast(AgentLimits | None | Unset, data)

        budget = _parse_budget(d.pop("budget", UNSET))


        def _parse_metadata(data: object) -> CreateRunMetadataType0 | None | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            try:
                if not isinstance(data, dict):
                    raise TypeError()
                metadata_type_0 = CreateRunMetadataType0.from_dict(data)



                return metadata_type_0
            except (TypeError, ValueError, AttributeError, KeyError):
                pass
            return cast(CreateRunMetadataType0 | None | Unset, data)

        metadata = _parse_metadata(d.pop("metadata", UNSET))


        def _parse_output_schema(data: object) -> CreateRunOutputSchemaType0 | None | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            try:
                if not isinstance(data, dict):
                    raise TypeError()
                output_schema_type_0 = CreateRunOutputSchemaType0.from_dict(data)



                return output_schema_type_0
            except (TypeError, ValueError, AttributeError, KeyError):
                pass
            return cast(CreateRunOutputSchemaType0 | None | Unset, data)

        output_schema = _parse_output_schema(d.pop("output_schema", UNSET))


        def _parse_previous_run_id(data: object) -> None | str | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(None | str | Unset, data)

        previous_run_id = _parse_previous_run_id(d.pop("previous_run_id", UNSET))


        def _parse_webhook_events(data: object) -> list[str] | None | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            try:
                if not isinstance(data, list):
                    raise TypeError()
                webhook_events_type_0 = cast(list[str], data)

                return webhook_events_type_0
            except (TypeError, ValueError, AttributeError, KeyError):
                pass
            return cast(list[str] | None | Unset, data)

        webhook_events = _parse_webhook_events(d.pop("webhook_events", UNSET))


        def _parse_webhook_url(data: object) -> None | str | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(None | str | Unset, data)

        webhook_url = _parse_webhook_url(d.pop("webhook_url", UNSET))


        create_run = cls(
            input_=input_,
            agent=agent,
            budget=budget,
            metadata=metadata,
            output_schema=output_schema,
            previous_run_id=previous_run_id,
            webhook_events=webhook_events,
            webhook_url=webhook_url,
        )

        return create_run

