from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar, BinaryIO, TextIO, TYPE_CHECKING, Generator

from attrs import define as _attrs_define
from attrs import field as _attrs_field

from ..types import UNSET, Unset

from typing import cast






T = TypeVar("T", bound="RemainingView")



@_attrs_define
class RemainingView:
    """ What is left; `null`: unlimited.

        Attributes:
            agent_minutes (int | None):
            concurrent_runs (int | None):
            tokens (int | None):
     """

    agent_minutes: int | None
    concurrent_runs: int | None
    tokens: int | None
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)





    def to_dict(self) -> dict[str, Any]:
        agent_minutes: int | None
        agent_minutes = self.agent_minutes

        concurrent_runs: int | None
        concurrent_runs = self.concurrent_runs

        tokens: int | None
        tokens = self.tokens


        field_dict: dict[str, Any] = {}
        field_dict.update(self.additional_properties)
        field_dict.update({
            "agent_minutes": agent_minutes,
            "concurrent_runs": concurrent_runs,
            "tokens": tokens,
        })

        return field_dict



    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        d = dict(src_dict)
        def _parse_agent_minutes(data: object) -> int | None:
            if data is None:
                return data
            return cast(int | None, data)

        agent_minutes = _parse_agent_minutes(d.pop("agent_minutes"))


        def _parse_concurrent_runs(data: object) -> int | None:
            if data is None:
                return data
            return cast(int | None, data)

        concurrent_runs = _parse_concurrent_runs(d.pop("concurrent_runs"))


        def _parse_tokens(data: object) -> int | None:
            if data is None:
                return data
            return cast(int | None, data)

        tokens = _parse_tokens(d.pop("tokens"))


        remaining_view = cls(
            agent_minutes=agent_minutes,
            concurrent_runs=concurrent_runs,
            tokens=tokens,
        )


        remaining_view.additional_properties = d
        return remaining_view

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
