from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar, BinaryIO, TextIO, TYPE_CHECKING, Generator

from attrs import define as _attrs_define
from attrs import field as _attrs_field

from ..types import UNSET, Unset

from typing import cast






T = TypeVar("T", bound="ExportRecord")



@_attrs_define
class ExportRecord:
    """ One ledger row as exported: a line of JSON Lines, the `data` of a CloudEvent, or a CSV row
    (its fields in [`COLUMNS`] order, `null` as an empty field).

        Attributes:
            agent_ms (int): Agent time: milliseconds of model and tool activity.
            cache_read_tokens (int):
            cache_write_tokens (int):
            cost_micro_usd (int):
            input_tokens (int):
            output_tokens (int):
            tool_calls (int):
            agent (str):
            idempotency_key (str): Unique per billable unit: a retry never bills twice.
            kind (str): `llm`, `tool` or `agent_time`.
            model (None | str):
            occurred_at (str): RFC 3339, UTC.
            price_version (None | str):
            provider (None | str):
            run_id (str):
            step (int):
            tool (None | str):
            workspace (str): The workspace's slug.
            workspace_id (str):
     """

    agent_ms: int
    cache_read_tokens: int
    cache_write_tokens: int
    cost_micro_usd: int
    input_tokens: int
    output_tokens: int
    tool_calls: int
    agent: str
    idempotency_key: str
    kind: str
    model: None | str
    occurred_at: str
    price_version: None | str
    provider: None | str
    run_id: str
    step: int
    tool: None | str
    workspace: str
    workspace_id: str
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)





    def to_dict(self) -> dict[str, Any]:
        agent_ms = self.agent_ms

        cache_read_tokens = self.cache_read_tokens

        cache_write_tokens = self.cache_write_tokens

        cost_micro_usd = self.cost_micro_usd

        input_tokens = self.input_tokens

        output_tokens = self.output_tokens

        tool_calls = self.tool_calls

        agent = self.agent

        idempotency_key = self.idempotency_key

        kind = self.kind

        model: None | str
        model = self.model

        occurred_at = self.occurred_at

        price_version: None | str
        price_version = self.price_version

        provider: None | str
        provider = self.provider

        run_id = self.run_id

        step = self.step

        tool: None | str
        tool = self.tool

        workspace = self.workspace

        workspace_id = self.workspace_id


        field_dict: dict[str, Any] = {}
        field_dict.update(self.additional_properties)
        field_dict.update({
            "agent_ms": agent_ms,
            "cache_read_tokens": cache_read_tokens,
            "cache_write_tokens": cache_write_tokens,
            "cost_micro_usd": cost_micro_usd,
            "input_tokens": input_tokens,
            "output_tokens": output_tokens,
            "tool_calls": tool_calls,
            "agent": agent,
            "idempotency_key": idempotency_key,
            "kind": kind,
            "model": model,
            "occurred_at": occurred_at,
            "price_version": price_version,
            "provider": provider,
            "run_id": run_id,
            "step": step,
            "tool": tool,
            "workspace": workspace,
            "workspace_id": workspace_id,
        })

        return field_dict



    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        d = dict(src_dict)
        agent_ms = d.pop("agent_ms")

        cache_read_tokens = d.pop("cache_read_tokens")

        cache_write_tokens = d.pop("cache_write_tokens")

        cost_micro_usd = d.pop("cost_micro_usd")

        input_tokens = d.pop("input_tokens")

        output_tokens = d.pop("output_tokens")

        tool_calls = d.pop("tool_calls")

        agent = d.pop("agent")

        idempotency_key = d.pop("idempotency_key")

        kind = d.pop("kind")

        def _parse_model(data: object) -> None | str:
            if data is None:
                return data
            return cast(None | str, data)

        model = _parse_model(d.pop("model"))


        occurred_at = d.pop("occurred_at")

        def _parse_price_version(data: object) -> None | str:
            if data is None:
                return data
            return cast(None | str, data)

        price_version = _parse_price_version(d.pop("price_version"))


        def _parse_provider(data: object) -> None | str:
            if data is None:
                return data
            return cast(None | str, data)

        provider = _parse_provider(d.pop("provider"))


        run_id = d.pop("run_id")

        step = d.pop("step")

        def _parse_tool(data: object) -> None | str:
            if data is None:
                return data
            return cast(None | str, data)

        tool = _parse_tool(d.pop("tool"))


        workspace = d.pop("workspace")

        workspace_id = d.pop("workspace_id")

        export_record = cls(
            agent_ms=agent_ms,
            cache_read_tokens=cache_read_tokens,
            cache_write_tokens=cache_write_tokens,
            cost_micro_usd=cost_micro_usd,
            input_tokens=input_tokens,
            output_tokens=output_tokens,
            tool_calls=tool_calls,
            agent=agent,
            idempotency_key=idempotency_key,
            kind=kind,
            model=model,
            occurred_at=occurred_at,
            price_version=price_version,
            provider=provider,
            run_id=run_id,
            step=step,
            tool=tool,
            workspace=workspace,
            workspace_id=workspace_id,
        )


        export_record.additional_properties = d
        return export_record

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
