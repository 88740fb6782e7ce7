from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar, BinaryIO, TextIO, TYPE_CHECKING, Generator

from attrs import define as _attrs_define
from attrs import field as _attrs_field

from ..types import UNSET, Unset

from ..types import UNSET, Unset
from typing import cast






T = TypeVar("T", bound="AgentLimits")



@_attrs_define
class AgentLimits:
    """ Limits of a run: an agent's defaults, or a run's tighter budget.

        Attributes:
            max_cost_usd (float | None | Unset): Dollars, up to 1000000.
            max_duration_s (int | None | Unset): Seconds; the tier's longest run bounds it.
            max_steps (int | None | Unset): Model calls, 1 to 200.
            max_tokens (int | None | Unset): Tokens of every kind.
     """

    max_cost_usd: float | None | Unset = UNSET
    max_duration_s: int | None | Unset = UNSET
    max_steps: int | None | Unset = UNSET
    max_tokens: int | None | Unset = UNSET





    def to_dict(self) -> dict[str, Any]:
        max_cost_usd: float | None | Unset
        if isinstance(self.max_cost_usd, Unset):
            max_cost_usd = UNSET
        else:
            max_cost_usd = self.max_cost_usd

        max_duration_s: int | None | Unset
        if isinstance(self.max_duration_s, Unset):
            max_duration_s = UNSET
        else:
            max_duration_s = self.max_duration_s

        max_steps: int | None | Unset
        if isinstance(self.max_steps, Unset):
            max_steps = UNSET
        else:
            max_steps = self.max_steps

        max_tokens: int | None | Unset
        if isinstance(self.max_tokens, Unset):
            max_tokens = UNSET
        else:
            max_tokens = self.max_tokens


        field_dict: dict[str, Any] = {}

        field_dict.update({
        })
        if max_cost_usd is not UNSET:
            field_dict["max_cost_usd"] = max_cost_usd
        if max_duration_s is not UNSET:
            field_dict["max_duration_s"] = max_duration_s
        if max_steps is not UNSET:
            field_dict["max_steps"] = max_steps
        if max_tokens is not UNSET:
            field_dict["max_tokens"] = max_tokens

        return field_dict



    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        d = dict(src_dict)
        def _parse_max_cost_usd(data: object) -> float | None | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(float | None | Unset, data)

        max_cost_usd = _parse_max_cost_usd(d.pop("max_cost_usd", UNSET))


        def _parse_max_duration_s(data: object) -> int | None | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(int | None | Unset, data)

        max_duration_s = _parse_max_duration_s(d.pop("max_duration_s", UNSET))


        def _parse_max_steps(data: object) -> int | None | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(int | None | Unset, data)

        max_steps = _parse_max_steps(d.pop("max_steps", UNSET))


        def _parse_max_tokens(data: object) -> int | None | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(int | None | Unset, data)

        max_tokens = _parse_max_tokens(d.pop("max_tokens", UNSET))


        agent_limits = cls(
            max_cost_usd=max_cost_usd,
            max_duration_s=max_duration_s,
            max_steps=max_steps,
            max_tokens=max_tokens,
        )

        return agent_limits

