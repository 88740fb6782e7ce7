from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar, BinaryIO, TextIO, TYPE_CHECKING, Generator

from attrs import define as _attrs_define
from attrs import field as _attrs_field

from ..types import UNSET, Unset

from ..types import UNSET, Unset






T = TypeVar("T", bound="UsageRow")



@_attrs_define
class UsageRow:
    """ One group's totals, with its key under the name of the grouping.

        Attributes:
            agent_ms (int): Agent time: milliseconds of model and tool activity.
            cache_read_tokens (int):
            cache_write_tokens (int):
            cost_micro_usd (int):
            input_tokens (int):
            output_tokens (int):
            tool_calls (int):
            cost_usd (float): `cost_micro_usd` in dollars.
            agent (str | Unset): `group_by=agent`: the agent's name.
            day (str | Unset): `group_by=day`: the day, `YYYY-MM-DD`.
            model (str | Unset): `group_by=model`: `provider/model`.
            run (str | Unset): `group_by=run`: the run's id.
     """

    agent_ms: int
    cache_read_tokens: int
    cache_write_tokens: int
    cost_micro_usd: int
    input_tokens: int
    output_tokens: int
    tool_calls: int
    cost_usd: float
    agent: str | Unset = UNSET
    day: str | Unset = UNSET
    model: str | Unset = UNSET
    run: str | Unset = UNSET
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)





    def to_dict(self) -> dict[str, Any]:
        agent_ms = self.agent_ms

        cache_read_tokens = self.cache_read_tokens

        cache_write_tokens = self.cache_write_tokens

        cost_micro_usd = self.cost_micro_usd

        input_tokens = self.input_tokens

        output_tokens = self.output_tokens

        tool_calls = self.tool_calls

        cost_usd = self.cost_usd

        agent = self.agent

        day = self.day

        model = self.model

        run = self.run


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
            "cost_usd": cost_usd,
        })
        if agent is not UNSET:
            field_dict["agent"] = agent
        if day is not UNSET:
            field_dict["day"] = day
        if model is not UNSET:
            field_dict["model"] = model
        if run is not UNSET:
            field_dict["run"] = run

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

        cost_usd = d.pop("cost_usd")

        agent = d.pop("agent", UNSET)

        day = d.pop("day", UNSET)

        model = d.pop("model", UNSET)

        run = d.pop("run", UNSET)

        usage_row = cls(
            agent_ms=agent_ms,
            cache_read_tokens=cache_read_tokens,
            cache_write_tokens=cache_write_tokens,
            cost_micro_usd=cost_micro_usd,
            input_tokens=input_tokens,
            output_tokens=output_tokens,
            tool_calls=tool_calls,
            cost_usd=cost_usd,
            agent=agent,
            day=day,
            model=model,
            run=run,
        )


        usage_row.additional_properties = d
        return usage_row

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
