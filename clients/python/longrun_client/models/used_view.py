from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar, BinaryIO, TextIO, TYPE_CHECKING, Generator

from attrs import define as _attrs_define
from attrs import field as _attrs_field

from ..types import UNSET, Unset







T = TypeVar("T", bound="UsedView")



@_attrs_define
class UsedView:
    """ This period's usage.

        Attributes:
            agent_minutes (int): Agent time, rounded up to whole minutes.
            agent_ms (int):
            concurrent_runs (int): Runs active now.
            cost_usd (float):
            tokens (int):
     """

    agent_minutes: int
    agent_ms: int
    concurrent_runs: int
    cost_usd: float
    tokens: int
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)





    def to_dict(self) -> dict[str, Any]:
        agent_minutes = self.agent_minutes

        agent_ms = self.agent_ms

        concurrent_runs = self.concurrent_runs

        cost_usd = self.cost_usd

        tokens = self.tokens


        field_dict: dict[str, Any] = {}
        field_dict.update(self.additional_properties)
        field_dict.update({
            "agent_minutes": agent_minutes,
            "agent_ms": agent_ms,
            "concurrent_runs": concurrent_runs,
            "cost_usd": cost_usd,
            "tokens": tokens,
        })

        return field_dict



    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        d = dict(src_dict)
        agent_minutes = d.pop("agent_minutes")

        agent_ms = d.pop("agent_ms")

        concurrent_runs = d.pop("concurrent_runs")

        cost_usd = d.pop("cost_usd")

        tokens = d.pop("tokens")

        used_view = cls(
            agent_minutes=agent_minutes,
            agent_ms=agent_ms,
            concurrent_runs=concurrent_runs,
            cost_usd=cost_usd,
            tokens=tokens,
        )


        used_view.additional_properties = d
        return used_view

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
