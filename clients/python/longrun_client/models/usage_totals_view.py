from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar, BinaryIO, TextIO, TYPE_CHECKING, Generator

from attrs import define as _attrs_define
from attrs import field as _attrs_field

from ..types import UNSET, Unset







T = TypeVar("T", bound="UsageTotalsView")



@_attrs_define
class UsageTotalsView:
    """ Usage totals as the API shows them.

        Attributes:
            agent_ms (int): Agent time: milliseconds of model and tool activity.
            cache_read_tokens (int):
            cache_write_tokens (int):
            cost_micro_usd (int):
            input_tokens (int):
            output_tokens (int):
            tool_calls (int):
            cost_usd (float): `cost_micro_usd` in dollars.
     """

    agent_ms: int
    cache_read_tokens: int
    cache_write_tokens: int
    cost_micro_usd: int
    input_tokens: int
    output_tokens: int
    tool_calls: int
    cost_usd: float
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

        usage_totals_view = cls(
            agent_ms=agent_ms,
            cache_read_tokens=cache_read_tokens,
            cache_write_tokens=cache_write_tokens,
            cost_micro_usd=cost_micro_usd,
            input_tokens=input_tokens,
            output_tokens=output_tokens,
            tool_calls=tool_calls,
            cost_usd=cost_usd,
        )


        usage_totals_view.additional_properties = d
        return usage_totals_view

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
